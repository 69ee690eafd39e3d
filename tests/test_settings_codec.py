"""Settings from the environment, event decoding and dead letters: no servers needed."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rules import InvalidEvent
from streams.codec import MAX_EVENT_BYTES, Record, dead_letter, decode_event
from streams.settings import Settings, SettingsError

GOOD = {"event_id": "e1", "customer_id": "c1", "type": "balance_exhausted",
        "product_line": "prepaid", "ts": 1_700_000_000_000}


def test_defaults_follow_the_contract() -> None:
    s = Settings.from_env({})
    assert s.kafka == "127.0.0.1:9092"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.topics.events == "telco.events"
    assert s.topics.decisions == "nba.decisions"
    assert s.topics.metrics == "nba.metrics"
    assert s.topics.deadletter == "nba.deadletter"
    assert s.topics.action("sms") == "nba.actions.sms"
    assert len(s.topics.all_actions()) == 8
    assert s.metrics_interval == 5.0


def test_every_topic_and_server_is_overridable_and_round_trips() -> None:
    env = {"ARBITER_KAFKA": "k:1", "ARBITER_REDIS_URL": "rediss://:pw@r:2/1",
           "ARBITER_TOPIC_EVENTS": "ev", "ARBITER_TOPIC_ACTIONS_PREFIX": "act.",
           "ARBITER_METRICS_INTERVAL": "2.5", "ARBITER_RULES": "/tmp/cat"}
    s = Settings.from_env(env)
    assert (s.kafka, s.redis_url, s.topics.events) == ("k:1", "rediss://:pw@r:2/1", "ev")
    assert s.topics.action("push") == "act.push"
    assert s.rules_dir == Path("/tmp/cat")
    again = Settings.from_env(s.to_env())
    assert again.to_env() == s.to_env()


@pytest.mark.parametrize(("name", "value"), [
    ("ARBITER_METRICS_INTERVAL", "soon"),
    ("ARBITER_METRICS_INTERVAL", "-1"),
    ("ARBITER_PARTITIONS", "0"),
    ("ARBITER_BATCH_MAX", "1.5"),
    ("ARBITER_LANES", "0"),
    ("ARBITER_KAFKA_SECURITY_PROTOCOL", "TLS"),
])
def test_a_bad_setting_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_cli_reports_a_bad_setting_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], capture_output=True,
                          text=True, env={"ARBITER_PARTITIONS": "none", "PATH": "/usr/bin"},
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "arbiter: ARBITER_PARTITIONS='none' is not a whole number"]


def test_worker_refuses_a_broken_catalogue_naming_the_problem(tmp_path: Path) -> None:
    (tmp_path / "mots.yaml").write_text("mots: [")
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], capture_output=True,
                          text=True, env={"ARBITER_RULES": str(tmp_path), "PATH": "/usr/bin"},
                          timeout=60)
    assert proc.returncode == 2
    assert "mots.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_a_valid_event_decodes() -> None:
    ev = decode_event(orjson.dumps(GOOD))
    assert (ev.event_id, ev.customer_id, ev.product_line, ev.ts_ms) == (
        "e1", "c1", "prepaid", 1_700_000_000_000)


@pytest.mark.parametrize(("raw", "needle"), [
    (None, "tombstone"),
    (b"{not json", "not JSON"),
    (b'{"a": "\xff\xfe"}', "not UTF-8"),
    (b"[1, 2]", "event"),
    (b" " * (MAX_EVENT_BYTES + 1), "byte limit"),
    (orjson.dumps({**GOOD, "product_line": "fixed"}), "product_line"),
    (orjson.dumps({k: v for k, v in GOOD.items() if k != "customer_id"}), "customer_id"),
    (orjson.dumps({**GOOD, "ts": "yesterday"}), "ts"),
])
def test_invalid_input_says_what_is_wrong(raw: bytes | None, needle: str) -> None:
    with pytest.raises(InvalidEvent, match=needle):
        decode_event(raw)


def test_dead_letter_keeps_the_original_bytes() -> None:
    rec = Record("telco.events", 3, 42, b"k", b"\xff\x00bad", 0)
    letter = orjson.loads(dead_letter(rec, "event: not UTF-8", 1_700_000_000_000))
    assert letter["error"] == "event: not UTF-8"
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("telco.events", 3, 42)
    assert letter["raw_encoding"] == "base64"
    assert base64.b64decode(letter["raw"]) == b"\xff\x00bad"
    assert letter["ts"].startswith("2023-11-14T22:13:20")
    text = orjson.loads(dead_letter(Record("t", 0, 1, None, b"{oops", 0), "x", 0))
    assert (text["raw"], text["raw_encoding"]) == ("{oops", "utf-8")


def test_an_oversized_record_still_fits_a_dead_letter() -> None:
    huge = b'{"event_id": "' + b"x" * 900_000 + b'"}'
    letter = orjson.loads(dead_letter(Record("t", 0, 7, None, huge, 0), "too big", 0))
    assert letter["raw_bytes"] == len(huge) and letter["raw_truncated"] is True
    assert letter["raw"].encode() == huge[:MAX_EVENT_BYTES]
    small = orjson.loads(dead_letter(Record("t", 0, 8, None, b"{}", 0), "x", 0))
    assert (small["raw_bytes"], small["raw_truncated"]) == (2, False)


def test_worker_stats_hand_over_an_interval_and_start_afresh() -> None:
    from streams.stats import WorkerStats, percentiles

    stats = WorkerStats()
    stats.events_in = 3
    for _ in range(3):
        stats.decided("action", "retention", "sms")
    stats.emitted(1100.0, [1000, 1010, 1020])
    snap = stats.take()
    assert snap.events_in == 3 and snap.outcomes["action"] == 3
    assert sorted(snap.latencies) == [80.0, 90.0, 100.0] and snap.max_latency == 100.0
    assert percentiles(snap.latencies)["p50"] == 90.0
    assert stats.events_in == 0 and not stats.latencies and not stats.outcomes


def test_the_worker_collector_is_frozen_and_rarely_runs_full_passes() -> None:
    import gc

    from streams.gc_policy import THRESHOLDS, settle_collector

    before = gc.get_threshold()
    try:
        settle_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[2] > before[2]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_startup_spinner_leaves_the_root_logger_at_its_handlers_level() -> None:
    import logging
    import sys

    from faust.utils.terminal import Spinner, SpinnerHandler

    from streams.logs import drop_startup_spinner

    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.WARNING)
    try:
        root.handlers = [stream, SpinnerHandler(Spinner(file=sys.stderr), level=logging.DEBUG)]
        root.setLevel(logging.DEBUG)  # what Faust does at -l warning
        drop_startup_spinner()
        assert root.handlers == [stream]
        assert root.level == logging.WARNING
        assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
