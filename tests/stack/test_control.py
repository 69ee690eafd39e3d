"""The local stack: through its real servers, and its pure parts on their own."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from streams import kafka, native
from streams.cli.main import main as arbiter
from streams.settings import Settings
from streams.stack import control as local_stack
from streams.stack import kafka_server as stack_kafka
from streams.stack.proc import alive, choose_port, port_free

if TYPE_CHECKING:
    from conftest import StackEndpoints

integration = pytest.mark.integration


def _require_local(stack: StackEndpoints) -> None:
    if not stack.local:
        reason = "ARBITER_KAFKA/ARBITER_REDIS_URL name servers outside this checkout's stack"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)  # outside CI only: a developer pointing the suite at other servers


def _pids_with(text: str) -> list[int]:
    """Every process whose command line contains text."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in line:
                found.append(int(entry.name))
    return found


@integration
async def test_kafka_carries_a_record(settings: Settings, unique_topic: Callable[..., str]) -> None:
    topic = unique_topic()
    await kafka.ensure_topics(settings, [topic], 1)
    producer = kafka.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"c1")
    finally:
        await producer.stop()
    consumer = kafka.consumer(settings, topic, group_id=settings.group)
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"c1", b"hello")


@integration
async def test_a_new_partitions_indexes_are_small(
        stack: StackEndpoints, settings: Settings, unique_topic: Callable[..., str]) -> None:
    """The broker preallocates each segment's offset and time index at the stack's
    log.index.size.max.bytes, not Kafka's 10 MiB whose first read zero-fills 16 MiB a partition
    (docs/performance.md, the start-of-load stall)."""
    _require_local(stack)
    topic = unique_topic()
    await kafka.ensure_topics(settings, [topic], 1)
    producer = kafka.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x" * 10_000, key=b"c1")
    finally:
        await producer.stop()
    part = local_stack.run_dir() / "kafka" / "data" / f"{topic}-0"
    sizes = {p.suffix: p.stat().st_size for p in part.iterdir() if p.suffix.endswith("index")}
    size = stack_kafka.INDEX_BYTES
    # Kafka rounds each index down to whole entries: 8 bytes (offset), 12 (time).
    assert sizes == {".index": size - size % 8, ".timeindex": size - size % 12}


@integration
async def test_redis_counts(stack: StackEndpoints) -> None:
    client = aioredis.from_url(stack.redis_url)
    key = f"test:stack:{uuid.uuid4().hex}"
    try:
        assert await client.incr(key) == 1
        assert await client.incr(key) == 2
    finally:
        await client.delete(key)
        await client.aclose()


@integration
def test_up_again_starts_nothing_and_prints_the_settings(
    stack: StackEndpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    _require_local(stack)
    first, second = local_stack.up(), local_stack.up()
    assert first.started == second.started == ()
    assert (second.kafka_pid, second.redis_pid) == (first.kafka_pid, first.redis_pid)
    assert (second.kafka, second.redis_url) == (stack.kafka, stack.redis_url)
    for home, config in (("kafka", "server.properties"), ("redis", "redis.conf")):
        assert len(_pids_with(str(first.run_dir / home / config))) == 1

    capsys.readouterr()
    assert arbiter(["stack", "up"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ARBITER_KAFKA={stack.kafka}", f"ARBITER_REDIS_URL={stack.redis_url}",
    ]


@integration
def test_status_reports_both(stack: StackEndpoints, capsys: pytest.CaptureFixture[str]) -> None:
    _require_local(stack)
    now = local_stack.status()
    assert now.up, now
    assert f"127.0.0.1:{now.kafka.port}" == stack.kafka
    assert f"redis://127.0.0.1:{now.redis.port}/0" == stack.redis_url
    assert arbiter(["stack", "status"]) == 0
    out = capsys.readouterr().out
    assert f"pid {now.kafka.pid}" in out and f"pid {now.redis.pid}" in out
    assert out.count(" answering") == 2


@integration
def test_down_stops_only_its_own_stack(
    stack: StackEndpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = local_stack.status()
    monkeypatch.setenv("ARBITER_STACK_DIR", str(tmp_path / "other"))
    try:
        other = local_stack.up()
        assert other.started == ("kafka", "redis")
        assert other.kafka != stack.kafka and other.redis_url != stack.redis_url
    finally:
        stopped = local_stack.down()
    assert stopped == ["kafka", "redis"]
    assert not alive(other.kafka_pid) and not alive(other.redis_pid)
    assert not list((tmp_path / "other").glob("*/*.pid"))
    assert arbiter(["stack", "status"]) == 3
    monkeypatch.delenv("ARBITER_STACK_DIR")
    assert local_stack.status().up == session.up


def test_down_leaves_a_process_that_is_not_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARBITER_STACK_DIR", str(tmp_path))
    # Looks like a broker, but runs another config than this run dir's.
    impostor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                 "kafka.Kafka", "/elsewhere/server.properties"])
    try:
        for name in ("kafka", "redis"):
            (tmp_path / name).mkdir()
            (tmp_path / name / f"{name}.pid").write_text(f"{impostor.pid}\n")
        assert local_stack.down() == []
        assert impostor.poll() is None
        assert not list(tmp_path.glob("*/*.pid"))
    finally:
        impostor.kill()
        impostor.wait()


def test_port_chooser_skips_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not port_free(port)
        chosen = choose_port(port)
        assert chosen > port and port_free(chosen)
    assert choose_port(chosen, avoid=frozenset({chosen})) > chosen


@pytest.mark.parametrize(("missing", "hint"), [
    ("java", "apt-get install default-jre-headless"),
    ("mvn", "apt-get install maven"),
    ("redis-server", "apt-get install redis-server"),
])
def test_a_missing_tool_is_one_line_and_exit_2(
    missing: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ARBITER_STACK_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("ARBITER_STACK_CACHE", str(tmp_path / "cache"))  # nothing fetched yet
    monkeypatch.delenv("JAVA_HOME", raising=False)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: None if name == missing else real_which(name))
    if missing != "java" and real_which("java") is None:
        pytest.fail("java is needed on PATH for this test")
    assert arbiter(["stack", "up"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"arbiter stack: {missing} not found; " + err.split("; ", 1)[1]
    assert err.count("\n") == 1 and hint in err
    assert not list((tmp_path / "run").glob("*/*.pid"))


def test_the_run_dir_is_the_checkouts_wherever_the_command_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARBITER_STACK_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # not inside any checkout
    assert local_stack.run_dir() == native.ROOT / ".arbiter" / "stack"
    monkeypatch.setenv("ARBITER_STACK_DIR", str(tmp_path / "mine"))
    assert local_stack.run_dir() == tmp_path / "mine"
