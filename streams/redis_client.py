"""The one place that builds a Redis client from Settings: a single node, or a Redis Cluster.

With `ARBITER_REDIS_CLUSTER=true`, `ARBITER_REDIS_URL` is a seed node (or several, comma
separated: a client starting while one seed is down uses the next): redis-py's cluster client
discovers the others, follows MOVED and ASK redirections and refreshes its slot map after a
failover. TLS (`rediss://`) and a password in the URL work the same in both modes.
"""

from __future__ import annotations

from typing import TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from streams.settings import Settings

SOCKET_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0

# Explicit: in the isolated build (no redis installed) both are Any, which mypy refuses as
# an implicit alias.
Client: TypeAlias = Redis | RedisCluster


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
