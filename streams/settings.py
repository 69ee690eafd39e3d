"""Every setting the shell reads, in one frozen object built from the environment.

`Settings.from_env()` reads the `ARBITER_*` variables (see the README's Settings table) and
raises `SettingsError` naming the variable for a value it cannot use; `to_env()` is its exact
inverse, so a child process gets the same settings. Secrets (the SASL password, a password in
the Redis URL) never appear in `repr`, logs or error messages: `redacted_url` masks them.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rules.errors import ArbiterError
from rules.vocab import CHANNELS

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DEDUPE_TTL_S = 24 * 3600  # how long an event_id is remembered


class SettingsError(ArbiterError, ValueError):
    """A setting has a value the arbiter cannot use; the message names the variable."""

    exit_code = 2


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def int_setting(name: str, default: int, minimum: int = 1) -> int:
    """One whole-number setting from the environment, checked as Settings.from_env checks it
    (SettingsError naming the variable), for a command that needs no other setting."""
    return _int(dict(os.environ), name, default, minimum)


def _bool(env: dict[str, str], name: str) -> bool:
    raw = (env.get(name) or "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"{name}={raw!r} is not true or false")
    return raw in ("true", "1", "yes")


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name}={value} must be positive")
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    events: str = "telco.events"
    decisions: str = "nba.decisions"
    metrics: str = "nba.metrics"
    deadletter: str = "nba.deadletter"
    actions_prefix: str = "nba.actions."
    rules: str = "nba.rules"  # published catalogues, compacted (streams.rules_topic)
    responses: str = "nba.responses"  # what customers did with the actions

    def action(self, channel: str) -> str:
        return f"{self.actions_prefix}{channel}"

    def all_actions(self) -> list[str]:
        return [self.action(c) for c in CHANNELS]


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """TLS/SASL options passed as they are to aiokafka and Faust."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def aiokafka_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            kwargs["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        if self.protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs


def redacted_url(url: str) -> str:
    """The URL (or comma-separated URLs) with any password replaced by `***`, for logs and
    messages."""
    if "," in url:
        return ",".join(redacted_url(u) for u in url.split(","))
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "<unparsable URL>"


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    kafka: str = DEFAULT_KAFKA
    redis_url: str = DEFAULT_REDIS_URL
    rules_dir: Path | None = None
    metrics_interval: float = 5.0
    partitions: int = 8
    batch_max: int = 2000
    lanes: int = 2
    dedupe_ttl_s: int = DEFAULT_DEDUPE_TTL_S
    redis_cluster: bool = False  # ARBITER_REDIS_URL is a seed node of a Redis Cluster
    # Customer state is spread over this many hash-tagged slots (see streams.worker.layout);
    # fixed once state exists: the first worker records it in Redis, later ones follow that.
    state_slots: int = 64
    worker_id: str | None = None  # None: the running process's host-pid (see `worker_name`)
    group: str = "mot-arbiter"
    redis_prefix: str = "nba"
    topics: Topics = field(default_factory=Topics)
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        rules = env.get("ARBITER_RULES") or None
        protocol = env.get("ARBITER_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
        if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise SettingsError(f"ARBITER_KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of "
                                "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
        defaults = Topics()
        return cls(
            kafka=env.get("ARBITER_KAFKA") or DEFAULT_KAFKA,
            redis_url=env.get("ARBITER_REDIS_URL") or DEFAULT_REDIS_URL,
            rules_dir=Path(rules) if rules else None,
            metrics_interval=_float(env, "ARBITER_METRICS_INTERVAL", 5.0),
            partitions=_int(env, "ARBITER_PARTITIONS", 8),
            batch_max=_int(env, "ARBITER_BATCH_MAX", 2000),
            lanes=_int(env, "ARBITER_LANES", 2),
            dedupe_ttl_s=_int(env, "ARBITER_DEDUPE_TTL_S", DEFAULT_DEDUPE_TTL_S),
            redis_cluster=_bool(env, "ARBITER_REDIS_CLUSTER"),
            state_slots=_int(env, "ARBITER_STATE_SLOTS", 64),
            worker_id=env.get("ARBITER_WORKER_ID") or None,
            group=env.get("ARBITER_GROUP") or "mot-arbiter",
            redis_prefix=env.get("ARBITER_REDIS_PREFIX") or "nba",
            topics=Topics(
                events=env.get("ARBITER_TOPIC_EVENTS") or defaults.events,
                decisions=env.get("ARBITER_TOPIC_DECISIONS") or defaults.decisions,
                metrics=env.get("ARBITER_TOPIC_METRICS") or defaults.metrics,
                deadletter=env.get("ARBITER_TOPIC_DEADLETTER") or defaults.deadletter,
                actions_prefix=env.get("ARBITER_TOPIC_ACTIONS_PREFIX") or defaults.actions_prefix,
                rules=env.get("ARBITER_TOPIC_RULES") or defaults.rules,
                responses=env.get("ARBITER_TOPIC_RESPONSES") or defaults.responses,
            ),
            security=KafkaSecurity(
                protocol=protocol,
                sasl_mechanism=env.get("ARBITER_KAFKA_SASL_MECHANISM") or None,
                sasl_username=env.get("ARBITER_KAFKA_SASL_USERNAME") or None,
                sasl_password=env.get("ARBITER_KAFKA_SASL_PASSWORD") or None,
                ssl_cafile=env.get("ARBITER_KAFKA_SSL_CAFILE") or None,
                ssl_certfile=env.get("ARBITER_KAFKA_SSL_CERTFILE") or None,
                ssl_keyfile=env.get("ARBITER_KAFKA_SSL_KEYFILE") or None,
            ),
        )

    @property
    def worker_name(self) -> str:
        """The worker's name in metrics: ARBITER_WORKER_ID, else this process's host-pid."""
        return self.worker_id or f"{socket.gethostname()}-{os.getpid()}"

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["redis_url"] = redacted_url(self.redis_url)
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def to_env(self) -> dict[str, str]:
        """The ARBITER_* variables that give these settings to a child process: exactly the
        inverse of `from_env` (`Settings.from_env(s.to_env()) == s`)."""
        sec = self.security
        env = {
            "ARBITER_KAFKA": self.kafka,
            "ARBITER_REDIS_URL": self.redis_url,
            "ARBITER_METRICS_INTERVAL": str(self.metrics_interval),
            "ARBITER_PARTITIONS": str(self.partitions),
            "ARBITER_BATCH_MAX": str(self.batch_max),
            "ARBITER_LANES": str(self.lanes),
            "ARBITER_DEDUPE_TTL_S": str(self.dedupe_ttl_s),
            "ARBITER_REDIS_CLUSTER": "true" if self.redis_cluster else "false",
            "ARBITER_STATE_SLOTS": str(self.state_slots),
            "ARBITER_GROUP": self.group,
            "ARBITER_REDIS_PREFIX": self.redis_prefix,
            "ARBITER_TOPIC_EVENTS": self.topics.events,
            "ARBITER_TOPIC_DECISIONS": self.topics.decisions,
            "ARBITER_TOPIC_METRICS": self.topics.metrics,
            "ARBITER_TOPIC_DEADLETTER": self.topics.deadletter,
            "ARBITER_TOPIC_ACTIONS_PREFIX": self.topics.actions_prefix,
            "ARBITER_TOPIC_RULES": self.topics.rules,
            "ARBITER_TOPIC_RESPONSES": self.topics.responses,
            "ARBITER_KAFKA_SECURITY_PROTOCOL": sec.protocol,
        }
        optional = {
            "ARBITER_RULES": None if self.rules_dir is None else str(self.rules_dir),
            "ARBITER_WORKER_ID": self.worker_id,
            "ARBITER_KAFKA_SASL_MECHANISM": sec.sasl_mechanism,
            "ARBITER_KAFKA_SASL_USERNAME": sec.sasl_username,
            "ARBITER_KAFKA_SASL_PASSWORD": sec.sasl_password,
            "ARBITER_KAFKA_SSL_CAFILE": sec.ssl_cafile,
            "ARBITER_KAFKA_SSL_CERTFILE": sec.ssl_certfile,
            "ARBITER_KAFKA_SSL_KEYFILE": sec.ssl_keyfile,
        }
        env.update({k: v for k, v in optional.items() if v is not None})
        return env

    def isolated(self, tag: str = "t", events: str | None = None) -> Settings:
        """Topics, consumer group and Redis keys no one else uses (tests, benchmarks).

        `events` keeps a shared input topic, so several pipelines can read the same records.
        """
        u = f"{tag}{uuid.uuid4().hex[:10]}"
        return self.with_(
            topics=Topics(events=events or f"{u}.events", decisions=f"{u}.decisions",
                          metrics=f"{u}.metrics", deadletter=f"{u}.deadletter",
                          actions_prefix=f"{u}.actions.", rules=f"{u}.rules",
                          responses=f"{u}.responses"),
            group=f"g{u}",
            redis_prefix=f"r{u}",
        )

    def with_(self, **changes: object) -> Settings:
        from dataclasses import replace

        return replace(self, **changes)  # type: ignore[arg-type]
