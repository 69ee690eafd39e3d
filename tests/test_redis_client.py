"""A connection torn down under a command is weather, not a crash (redis/redis-py#4287)."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.utils import ensure_string

from streams import redis_client


async def _write_on_torn() -> None:
    # A connection whose writer a concurrent disconnect has cleared: redis-py writes anyway.
    conn = Connection(host="127.0.0.1", port=1)
    await conn._send_packed_command([b"*1\r\n$4\r\nPING\r\n"])


async def _our_bug() -> None:
    thing: object = None
    thing.writelines([])  # type: ignore[attr-defined]


async def test_an_error_raised_inside_redis_py_is_a_torn_connection() -> None:
    with pytest.raises(AttributeError) as caught:
        await _write_on_torn()
    assert redis_client.torn_connection(caught.value)
    with pytest.raises(RedisConnectionError, match="torn down"):
        await redis_client.guarded(_write_on_torn())


async def test_the_same_error_from_our_code_stays_a_bug() -> None:
    with pytest.raises(AttributeError) as caught:
        await _our_bug()
    assert not redis_client.torn_connection(caught.value)
    assert not redis_client.torn_connection(RuntimeError("x"))
    with pytest.raises(AttributeError):
        await redis_client.guarded(_our_bug())


async def test_a_misuse_of_redis_py_stays_a_bug() -> None:
    # A TypeError raised inside redis-py for a wrong argument is not a torn connection.
    with pytest.raises(TypeError) as caught:
        ensure_string(42)
    assert not redis_client.torn_connection(caught.value)
    with pytest.raises(AttributeError) as manual:
        raise AttributeError("made by hand, about nothing")
    assert not redis_client.torn_connection(manual.value)
