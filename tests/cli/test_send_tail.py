"""`arbiter send` and `arbiter tail` against the real local Kafka."""

from __future__ import annotations

import asyncio
import io
import os
import time

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams import kafka, synthetic
from streams.cli import send, tail
from streams.cli.main import main as arbiter
from streams.settings import Settings

pytestmark = pytest.mark.integration


async def read_back(settings: Settings, topic: str, n: int, timeout: float = 30.0
                    ) -> list[tuple[bytes | None, bytes]]:
    """Up to `n` (key, value) pairs from the start of `topic`."""
    c: AIOKafkaConsumer = kafka.consumer(settings, topic, group_id=None)
    await c.start()
    got: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            for records in (await c.getmany(timeout_ms=500)).values():
                got.extend((r.key, r.value) for r in records)
    finally:
        await c.stop()
    return got


async def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    await kafka.ensure_topics(settings, [topic], settings.partitions)
    p = kafka.producer(settings)
    await p.start()
    try:
        for v in values:
            await p.send(topic, v, key=b"c000001")
        await p.flush()
    finally:
        await p.stop()


async def test_send_synthetic_events_keyed_by_customer(settings):
    source = synthetic.records(500, seed=21)
    sent = await send.send(settings, source, rate=None, count=500, progress=False)
    assert sent == 500
    got = await read_back(settings, settings.topics.events, 500)
    assert len(got) == 500
    for key, value in got:
        assert key == orjson.loads(value)["customer_id"].encode()
    ids = {orjson.loads(v)["event_id"] for _, v in got}
    assert ids == {orjson.loads(v)["event_id"] for _, v in synthetic.records(500, seed=21)}


async def test_send_respects_count_and_rate(settings):
    started = time.monotonic()
    sent = await send.send(settings, synthetic.records(None, seed=4), rate=400.0, count=200,
                           progress=False)
    elapsed = time.monotonic() - started
    assert sent == 200
    assert elapsed >= 0.4  # 200 records at 400/s take half a second, less the first chunk
    assert len(await read_back(settings, settings.topics.events, 201, timeout=3.0)) == 200


async def test_send_stops_on_request_and_still_delivers_what_was_queued(settings):
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(1.0, stop.set)
    sent = await send.send(settings, synthetic.records(None, seed=5), rate=500.0, count=None,
                           progress=False, stop=stop)
    assert 100 <= sent < 2_000  # an endless stream, ended by the stop
    assert len(await read_back(settings, settings.topics.events, sent + 1, timeout=3.0)) == sent


async def test_send_from_a_pipe_sends_lines_as_they_come_and_stops_while_waiting(settings):
    """Like stdin typed by a person: the writer stays open, the send must not wait for EOF."""
    read_fd, write_fd = os.pipe()
    line = orjson.dumps(next(synthetic.events(1, seed=3)))
    os.write(write_fd, line + b"\n")
    stop = asyncio.Event()
    with os.fdopen(read_fd, "rb") as reader:
        task = asyncio.create_task(send.send(settings, send.read_lines(reader, stop),
                                             progress=False, stop=stop))
        got = await read_back(settings, settings.topics.events, 1, timeout=15.0)
        assert [v for _, v in got] == [line]  # delivered while the pipe is still open
        stop.set()
        assert await asyncio.wait_for(task, 10) == 1
    os.close(write_fd)


async def test_send_json_lines_file_as_is_including_an_invalid_line(settings, tmp_path):
    events = list(synthetic.events(3, seed=8))
    lines = [orjson.dumps(e) for e in events]
    invalid = b'{"customer_id": "c000777", "type": oops'
    no_customer = b'[1, 2, 3]'
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([lines[0], invalid, lines[1], b"", no_customer, lines[2]]))
    with path.open("rb") as f:
        sent = await send.send(settings, send.read_lines(f), rate=None, count=None,
                               progress=False)
    assert sent == 5
    got = await read_back(settings, settings.topics.events, 5)
    assert sorted(got, key=lambda kv: kv[1]) == sorted(
        [(e["customer_id"].encode(), line) for e, line in zip(events, lines, strict=True)]
        + [(None, invalid), (None, no_customer)], key=lambda kv: kv[1])


async def test_send_main_from_file_uses_the_environment(settings, tmp_path, monkeypatch, capsys):
    path = tmp_path / "two.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in synthetic.events(2, seed=9)) + b"\n")
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(arbiter, ["send", str(path)]) == 0
    assert "sent 2 records" in capsys.readouterr().err
    assert len(await read_back(settings, settings.topics.events, 2)) == 2


async def test_tail_json_from_beginning_stops_after_max(settings):
    decisions = [orjson.dumps({"decision_id": f"d{i}", "customer_id": "c000001",
                               "outcome": "no_mot"}) for i in range(5)]
    await produce(settings, settings.topics.decisions, decisions)
    out = io.StringIO()
    n = await tail.tail(settings, "decisions", as_json=True, from_beginning=True,
                        max_records=3, timeout=20.0, out=out)
    assert n == 3
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert {orjson.loads(ln)["decision_id"] for ln in lines} <= {f"d{i}" for i in range(5)}


async def test_tail_main_follows_new_records_until_silence(settings, monkeypatch, capsys):
    await produce(settings, settings.topics.decisions, [orjson.dumps({"decision_id": "old"})])
    ready = asyncio.Event()
    out = io.StringIO()
    task = asyncio.create_task(tail.tail(settings, "decisions", as_json=False, timeout=3.0,
                                         out=out, ready=ready))
    await asyncio.wait_for(ready.wait(), 30)
    new = {"decision_id": "new", "customer_id": "c000042", "product_line": "home",
           "event_type": "service_outage", "mots": ["service_interruption"],
           "outcome": "suppressed", "action": None,
           "candidates": [{"program": "proactive_care", "reason": "contacted today"}]}
    await produce(settings, settings.topics.decisions, [orjson.dumps(new)])
    started = time.monotonic()
    assert await asyncio.wait_for(task, 30) == 1  # only the new one: the tail starts at the end
    assert time.monotonic() - started >= 2.5  # then waited out the silence
    line = out.getvalue().strip()
    assert "c000042" in line and "suppressed" in line and "contacted today" in line

    # The command itself: reads the settings from the environment, prints raw JSON.
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    argv = ["tail", "decisions", "--json", "--from-beginning", "--max", "2", "--timeout", "10"]
    assert await asyncio.to_thread(arbiter, argv) == 0
    printed = [orjson.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert sorted(d["decision_id"] for d in printed) == ["new", "old"]


async def test_tail_actions_reads_every_channel_topic(settings):
    body = {"customer_id": "c000005", "outcome": "action", "mots": ["complaint"],
            "action": {"id": "apology_call", "program": "proactive_care",
                       "channel": "outbound_call"}}
    await produce(settings, settings.topics.action("outbound_call"), [orjson.dumps(body)])
    await produce(settings, settings.topics.action("sms"),
                  [orjson.dumps({**body, "action": {**body["action"], "channel": "sms"}})])
    out = io.StringIO()
    n = await tail.tail(settings, "actions", from_beginning=True, max_records=2, timeout=20.0,
                        out=out)
    assert n == 2
    lines = sorted(out.getvalue().splitlines())
    assert [ln.split()[1] for ln in lines] == ["outbound_call", "sms"]
    assert all("apology_call" in ln and "c000005" in ln for ln in lines)


def test_send_rejects_bad_options(capsys):
    with pytest.raises(SystemExit):
        arbiter(["send", "--malformed", "2"])
    assert "--malformed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        arbiter(["tail", "nothing"])
