"""A connection torn down under a command is weather, not a crash (redis/redis-py#4287)."""

from __future__ import annotations

import os

import pytest
import redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.utils import ensure_string

from streams import redis_client


async def _write_on_torn() -> None:
    # A connection whose writer a concurrent disconnect has cleared: redis-py before 8.2
    # writes anyway (AttributeError on None); 8.2 and later raise a ConnectionError.
    conn = Connection(host="127.0.0.1", port=1)
    await conn._send_packed_command([b"*1\r\n$4\r\nPING\r\n"])


def _raised_inside_redis_py(source: str) -> BaseException:
    # The same error as redis-py's leak, raised from a frame whose file is redis-py's own,
    # so the check is exercised whichever redis-py version is installed.
    package = os.path.dirname(os.path.abspath(redis.__file__))
    where = os.path.join(package, "asyncio", "connection.py")
    try:
        exec(compile(source, where, "exec"), {})
    except (AttributeError, TypeError) as exc:
        return exc
    raise AssertionError(f"{source!r} raised nothing")


async def _our_bug() -> None:
    thing: object = None
    thing.writelines([])  # type: ignore[attr-defined]


def test_an_error_raised_inside_redis_py_is_a_torn_connection() -> None:
    assert redis_client.torn_connection(_raised_inside_redis_py("None.writelines([])"))
    assert redis_client.torn_connection(_raised_inside_redis_py("None.sendall(b'')"))
    assert redis_client.torn_connection(_raised_inside_redis_py("x = None\nx[0]"))


async def test_a_write_on_a_torn_connection_is_a_connection_error() -> None:
    # Whatever redis-py version: leaked (guarded converts it) or raised by redis-py itself.
    with pytest.raises(RedisConnectionError):
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
