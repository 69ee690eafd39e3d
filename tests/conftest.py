"""Shared fixtures: the real Kafka and Redis of the local stack, and isolated settings."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from streams import native
from streams.kafka import delete_topics, list_topics
from streams.settings import Settings, Topics
from streams.stack import control as local_stack

try:
    native.check()  # a stale compiled module would test old code
except native.StaleBuild as exc:
    pytest.exit(str(exc), returncode=2)

# The names tests give their topics, and Faust's per-group ones: a short tag and ten hex
# digits (see Settings.isolated), then a '.' or '-' suffix.
TEST_TOPIC = re.compile(r"[a-z]{1,8}[0-9a-f]{10}([.-].*)?")


# The Redis modes the parametrised integration tests run in (see the `settings` fixture).
REDIS_MODES = ("redis", "redis-cluster")


@dataclass(frozen=True, slots=True)
class StackEndpoints:
    kafka: str
    redis_url: str
    local: bool  # the servers of `arbiter stack` in this checkout (not an external pair)
    # A seed node of a Redis Cluster: the local stack's, or ARBITER_TEST_REDIS_CLUSTER_URL's.
    redis_cluster_url: str | None = None


def _given_endpoints() -> StackEndpoints | None:
    """The servers named by ARBITER_KAFKA and ARBITER_REDIS_URL, when both are set (and a
    Redis Cluster by ARBITER_TEST_REDIS_CLUSTER_URL; without it the cluster tests fail)."""
    kafka, redis_url = os.environ.get("ARBITER_KAFKA"), os.environ.get("ARBITER_REDIS_URL")
    if not (kafka and redis_url) or os.environ.get("ARBITER_REDIS_CLUSTER") == "true":
        return None
    now = local_stack.status()
    local = now.up and kafka == f"127.0.0.1:{now.kafka.port}" \
        and redis_url == f"redis://127.0.0.1:{now.redis.port}/0"
    cluster = os.environ.get("ARBITER_TEST_REDIS_CLUSTER_URL")
    if local and cluster is None:
        info = local_stack.up(redis_cluster=True)  # the local stack's cluster, started if not
        cluster = info.redis_cluster_url
    return StackEndpoints(kafka, redis_url, local, cluster)


def _up() -> tuple[local_stack.StackInfo | None, str]:
    try:
        return local_stack.up(redis_cluster=True), ""
    except local_stack.StackError as exc:
        return None, str(exc)


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    """Kafka and Redis for the whole session; a stack that cannot start fails the run."""
    given = _given_endpoints()
    if given is not None:
        with _dropping_test_topics(given.kafka):
            yield given
        return
    info, error = _up()
    if info is None:
        pytest.fail(f"the local stack (arbiter stack up) could not start: {error}", pytrace=False)
    saved = {k: os.environ.get(k) for k in ("ARBITER_KAFKA", "ARBITER_REDIS_URL")}
    # Child processes a test starts (worker, CLI) find the same servers.
    os.environ.update(ARBITER_KAFKA=info.kafka, ARBITER_REDIS_URL=info.redis_url)
    try:
        with _dropping_test_topics(info.kafka):
            yield StackEndpoints(info.kafka, info.redis_url, local=True,
                                 redis_cluster_url=info.redis_cluster_url)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # Only what this session started, and never when asked to keep it for the next run.
        if info.started and not os.environ.get("ARBITER_STACK_KEEP"):
            local_stack.down(info.started)


@contextlib.contextmanager
def _dropping_test_topics(kafka: str) -> Iterator[None]:
    """Delete the topics this session's tests created, so a kept stack does not pile them up
    (hundreds of runs left over a thousand topics and a slower broker)."""
    on = Settings.from_env().with_(kafka=kafka)
    before = asyncio.run(list_topics(on))
    try:
        yield
    finally:
        made = [t for t in asyncio.run(list_topics(on)) - before if TEST_TOPIC.fullmatch(t)]
        asyncio.run(delete_topics(on, made))


def _uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def unique_topic() -> Callable[..., str]:
    """A factory of topic names no other test uses."""
    return lambda prefix="t": f"{prefix}{_uid()}"


@pytest.fixture
def unique_group() -> Callable[..., str]:
    """A factory of consumer group ids no other test uses."""
    return lambda prefix="g": f"{prefix}{_uid()}"


@pytest.fixture
def settings(stack: StackEndpoints, request: pytest.FixtureRequest) -> Settings:
    """Settings on the stack with topics, group (and Redis key prefix) of this test alone.

    On a single Redis by default; a module parametrised with
    `pytest.mark.parametrize("settings", REDIS_MODES, indirect=True)` runs on both that and
    the Redis Cluster (a missing cluster fails those tests, never skips them)."""
    uid = _uid()
    mode = getattr(request, "param", "redis")
    cluster = mode == "redis-cluster"
    if cluster and stack.redis_cluster_url is None:
        pytest.fail("no Redis Cluster: the local stack's did not start, or set "
                    "ARBITER_TEST_REDIS_CLUSTER_URL with external servers", pytrace=False)
    changes: dict[str, object] = {
        "kafka": stack.kafka,
        "redis_url": stack.redis_cluster_url if cluster else stack.redis_url,
        "redis_cluster": cluster,
        "topics": Topics(
            events=f"t{uid}.events",
            decisions=f"t{uid}.decisions",
            metrics=f"t{uid}.metrics",
            deadletter=f"t{uid}.deadletter",
            actions_prefix=f"t{uid}.actions.",
            rules=f"t{uid}.rules",
            responses=f"t{uid}.responses",
        ),
        "group": f"g{uid}",
    }
    if "redis_prefix" in {f.name for f in dataclasses.fields(Settings)}:
        changes["redis_prefix"] = f"r{uid}"
    return Settings.from_env().with_(**changes)


# The dashboard's tests share one worker and one dashboard process for the session.
from tests.dashboard.support import running  # noqa: E402, F401
