"""A worker killed without goodbye (SIGKILL) mid-stream: its successor re-reads what was not
committed, re-emits the stored decisions byte for byte, and counts nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from harness import Worker, encoded, isolated, prepare, produce
from kit import committed, ends

from streams.chaos.audit import audit
from streams.settings import Settings
from streams.synthetic import events as synthetic_events

pytestmark = pytest.mark.integration


async def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(stack,
                                                                      tmp_path: Path) -> None:
    """SIGKILL lands mid-stream by construction: the worker is frozen (SIGSTOP) at a moment
    when it has decided more than the group committed (so the successor must re-read and
    re-emit) and before the second half of the stream exists; then killed."""
    base = Settings.from_env().with_(kafka=stack.kafka, redis_url=stack.redis_url)
    s = isolated(base, partitions=4, batch_max=100, lanes=1)
    await prepare(s)
    sent = [e for e in synthetic_events(6000, seed=5) if isinstance(e, dict)]
    head, tail = sent[:4000], sent[4000:]
    await produce(s, encoded(head))

    first = Worker(s, tmp_path).start()
    assert first.proc is not None
    frozen_at = (0, 0)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert first.proc.poll() is None, first.log_tail()
        if await ends(s, s.topics.decisions) < 200:
            await asyncio.sleep(0.01)
            continue
        os.killpg(first.proc.pid, signal.SIGSTOP)
        frozen_at = (await ends(s, s.topics.decisions), await committed(s))
        if frozen_at[1] < frozen_at[0] < len(head):
            break
        os.killpg(first.proc.pid, signal.SIGCONT)
        await asyncio.sleep(0.05)
    decided, done = frozen_at
    assert done < decided < len(head), f"no moment with decisions past the commit: {frozen_at}"
    os.killpg(first.proc.pid, signal.SIGKILL)  # no goodbye: no commit, no flush
    first.proc.wait()
    await produce(s, encoded(tail))

    (tmp_path / "second").mkdir()
    second = Worker(s, tmp_path / "second").start()
    try:
        result, _ = await audit(s, sent, commit_timeout_s=120)
    finally:
        assert second.stop() == 0, second.log_tail()
    assert result.ok() and result.decided == len(sent), result
    assert result.repeated_different == 0, "a redelivered event got another decision"
    assert result.repeated_same > 0, "nothing re-read: the kill proved nothing"
    assert result.count_errors == 0, "MoTs counted twice"
