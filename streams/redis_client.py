"""The one place that builds a Redis client from Settings: a single node, or a Redis Cluster.

With `ARBITER_REDIS_CLUSTER=true`, `ARBITER_REDIS_URL` is a seed node (or several, comma
separated: a client starting while one seed is down uses the next): redis-py's cluster client
discovers the others, follows MOVED and ASK redirections and refreshes its slot map after a
failover. TLS (`rediss://`) and a password in the URL work the same in both modes.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import TypeAlias, TypeVar
from urllib.parse import urlsplit

import redis
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.settings import Settings

SOCKET_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0

# Explicit: in the isolated build (no redis installed) both are Any, which mypy refuses as
# an implicit alias.
Client: TypeAlias = Redis | RedisCluster
T = TypeVar("T")


def client(settings: Settings, **overrides: object) -> Client:
    """A client for the settings' Redis; `overrides` go to redis-py as they are."""
    kwargs: dict[str, object] = {"socket_timeout": SOCKET_TIMEOUT_S,
                                 "socket_connect_timeout": CONNECT_TIMEOUT_S, **overrides}
    if settings.redis_cluster:
        first, *more = [u.strip() for u in settings.redis_url.split(",") if u.strip()]
        if more:
            kwargs["startup_nodes"] = [ClusterNode(u.hostname or "127.0.0.1", u.port or 6379)
                                       for u in map(urlsplit, more)]
        return RedisCluster.from_url(first, **kwargs)  # type: ignore[arg-type]
    return Redis.from_url(settings.redis_url, **kwargs)  # type: ignore[arg-type]


# Fail closed: without the package's own directory no frame counts as redis-py's.
_REDIS_PKG = (os.path.dirname(os.path.abspath(redis.__file__)) + os.sep) if redis.__file__ else None


def torn_connection(exc: BaseException) -> bool:
    """Whether `exc` is a connection torn down under a command, leaked by redis-py as an
    AttributeError or TypeError on `None` instead of a ConnectionError: on Python 3.11, a
    disconnect (a failover's topology refresh, a peer reset) clears a connection's writer
    while another task is about to write on it ("'NoneType' object has no attribute
    'writelines'", redis/redis-py#3546); on 3.12 and later the transport's own internals go
    the same way (redis/redis-py#4287). Only an error about `None` raised inside redis-py or
    asyncio counts: a misuse of either (a wrong argument type) and our own code's errors stay
    bugs."""
    if isinstance(exc, AttributeError):
        if exc.obj is not None or exc.name is None:  # an attribute of None, looked up
            return False
    elif not (isinstance(exc, TypeError) and str(exc).startswith("'NoneType' object")):
        return False
    if _REDIS_PKG is None:
        return False
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    where = os.path.abspath(last.tb_frame.f_code.co_filename)
    return where.startswith(_REDIS_PKG) or os.sep + "asyncio" + os.sep in where


async def guarded(call: Awaitable[T]) -> T:
    """Await `call`, raising a torn connection (torn_connection) as the ConnectionError it
    is, so that retries treat it as the weather it is."""
    try:
        return await call
    except (AttributeError, TypeError) as exc:
        if torn_connection(exc):
            raise RedisConnectionError(f"connection torn down under a command: {exc!r}") from exc
        raise
