"""Settings from the environment: defaults, overrides, errors naming the variable, secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.settings import KafkaSecurity, Settings, SettingsError, Topics, redacted_url


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
    ("ARBITER_REDIS_CLUSTER", "maybe"),
    ("ARBITER_STATE_SLOTS", "0"),
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
        "arbiter worker: ARBITER_PARTITIONS='none' is not a whole number"]


def test_worker_refuses_a_broken_catalogue_naming_the_problem(tmp_path: Path) -> None:
    (tmp_path / "mots.yaml").write_text("mots: [")
    proc = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], capture_output=True,
                          text=True, env={"ARBITER_RULES": str(tmp_path), "PATH": "/usr/bin"},
                          timeout=60)
    assert proc.returncode == 2
    assert "mots.yaml" in proc.stderr and "Traceback" not in proc.stderr


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=20)
_maybe = st.none() | _text


@st.composite
def _settings(draw: st.DrawFn) -> Settings:
    return Settings(
        kafka=draw(_text), redis_url=draw(_text),
        rules_dir=draw(st.none() | st.from_regex(r"/[a-z]{1,8}(/[a-z0-9_]{1,8}){0,3}",
                                                 fullmatch=True).map(Path)),
        metrics_interval=draw(st.floats(min_value=1e-3, max_value=1e6)),
        partitions=draw(st.integers(1, 10_000)), batch_max=draw(st.integers(1, 10**6)),
        lanes=draw(st.integers(1, 64)), dedupe_ttl_s=draw(st.integers(1, 10**8)),
        redis_cluster=draw(st.booleans()), state_slots=draw(st.integers(1, 16384)),
        worker_id=draw(_maybe), group=draw(_text), redis_prefix=draw(_text),
        topics=Topics(events=draw(_text), decisions=draw(_text), metrics=draw(_text),
                      deadletter=draw(_text), actions_prefix=draw(_text)),
        security=KafkaSecurity(
            protocol=draw(st.sampled_from(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])),
            sasl_mechanism=draw(_maybe), sasl_username=draw(_maybe),
            sasl_password=draw(_maybe), ssl_cafile=draw(_maybe), ssl_certfile=draw(_maybe),
            ssl_keyfile=draw(_maybe)),
    )


@given(_settings())
def test_to_env_is_the_exact_inverse_of_from_env(s: Settings) -> None:
    assert Settings.from_env(s.to_env()) == s


def test_secrets_never_show_in_repr_or_messages() -> None:
    env = {"ARBITER_REDIS_URL": "rediss://user:s3cr3t-redis@r.example:6380/0",
           "ARBITER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
           "ARBITER_KAFKA_SASL_USERNAME": "svc", "ARBITER_KAFKA_SASL_PASSWORD": "s3cr3t-kafka"}
    s = Settings.from_env(env)
    shown = repr(s) + str(s)
    assert "s3cr3t" not in shown
    assert "rediss://user:***@r.example:6380/0" in shown and "svc" in shown
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redacted_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redacted_url("rediss://:pw@h:1/0,rediss://:pw@g:2/0") == \
        "rediss://:***@h:1/0,rediss://:***@g:2/0"
    # A bad value elsewhere never echoes the secrets.
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**env, "ARBITER_LANES": "many"})
    assert "s3cr3t" not in str(err.value)


def test_each_worker_names_itself_unless_told() -> None:
    s = Settings.from_env({})
    assert s.worker_id is None and s.worker_name.endswith(f"-{os.getpid()}")
    assert "ARBITER_WORKER_ID" not in s.to_env()  # a child process names itself
    assert Settings.from_env({"ARBITER_WORKER_ID": "w1"}).worker_name == "w1"
