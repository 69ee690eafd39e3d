"""`arbiter send`: publish events to the events topic, synthetic or from JSON lines."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from tqdm import tqdm

from rules.errors import ArbiterError
from streams import synthetic
from streams.cli.args import positive, share, whole
from streams.kafka import ensure_topics, producer
from streams.settings import Settings, Topics

Record = tuple[bytes | None, bytes]  # (key, value)
Source = Iterable[Record] | AsyncIterable[Record]

_READ_CHUNK = 1 << 20
_PROGRESS_MIN = 10_000  # shorter sends finish before a bar would tell anything
_PACE_S = 0.01  # pacing granularity when --rate is set


class SendError(ArbiterError):
    """Some records were not delivered."""


class _Delivery:
    """Counts deliveries from the futures producer.send() returns, without awaiting each."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.first_error: BaseException | None = None

    def __call__(self, fut: asyncio.Future[object]) -> None:
        if fut.cancelled():
            self.failed += 1
        elif (exc := fut.exception()) is not None:
            self.failed += 1
            self.first_error = self.first_error or exc
        else:
            self.ok += 1


def key_of(line: bytes) -> bytes | None:
    """The customer id of a JSON-lines record, when it has one; None otherwise."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    cid = value.get("customer_id") if isinstance(value, dict) else None
    return cid.encode() if isinstance(cid, str) else None


async def read_lines(stream: IO[bytes], stop: asyncio.Event | None = None
                     ) -> AsyncIterator[Record]:
    """Records from a JSON-lines stream, each line as it is (no line end); blank ones skipped.

    A daemon thread reads with os.read, which returns whatever is available: lines typed
    into stdin go out at once, the event loop keeps delivering meanwhile, and Ctrl-C
    (`stop`) does not wait for input that may never come.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
    threading.Thread(target=_reader, args=(stream.fileno(), chunks, loop), daemon=True).start()
    stopped = asyncio.ensure_future(stop.wait()) if stop is not None else None
    rest = b""
    try:
        while chunk := await _next_chunk(chunks, stopped):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    line = line.rstrip(b"\r")
                    yield key_of(line), line
        if rest.strip() and not (stopped and stopped.done()):
            yield key_of(rest), rest.rstrip(b"\r")
    finally:
        if stopped is not None:
            stopped.cancel()


def _reader(fd: int, chunks: asyncio.Queue[bytes], loop: asyncio.AbstractEventLoop) -> None:
    while True:
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except OSError:
            chunk = b""
        try:
            # Blocks while the queue is full: the file is read no faster than it is sent.
            asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
        except Exception:  # the loop is closed or shutting down: nobody reads any more
            return
        if not chunk:
            return


async def _next_chunk(chunks: asyncio.Queue[bytes], stopped: asyncio.Future[Any] | None
                      ) -> bytes:
    """The next chunk read, or b"" at end of input or once stopped."""
    if stopped is None:
        return await chunks.get()
    getter = asyncio.ensure_future(chunks.get())
    await asyncio.wait([getter, stopped], return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        return getter.result()
    getter.cancel()
    return b""


async def _aiter(source: Source) -> AsyncGenerator[Record, None]:
    if isinstance(source, AsyncIterable):
        try:
            async for record in source:
                yield record
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()  # stops a reader thread's waiting at once, not at GC
    else:
        for record in source:
            yield record


async def send(settings: Settings, source: Source, *, rate: float | None = None,
               count: int | None = None, progress: bool = False,
               stop: asyncio.Event | None = None) -> int:
    """Publish up to `count` records of `source` to the events topic; return how many arrived.

    Delivery is awaited once at the end (flush), never per record. With `rate`, records go
    out in small paced chunks. Setting `stop` ends the send early after flushing.
    """
    if rate is not None and rate <= 0:
        raise ValueError(f"rate={rate} must be positive")
    if count is not None and count < 0:
        raise ValueError(f"count={count} must not be negative")
    topic = settings.topics.events
    await ensure_topics(settings, [topic], settings.partitions)
    pump = _Pump(producer(settings), topic, rate, stop)
    await pump.producer.start()
    bar = tqdm(total=count, unit="rec", file=sys.stderr, disable=not progress,
               mininterval=0.5, desc="send")
    try:
        if count != 0:
            async with contextlib.aclosing(_aiter(source)) as records:
                await pump.run(records, count, bar)
        await pump.producer.flush()
    finally:
        bar.update(pump.queued - bar.n)
        bar.close()
        await pump.producer.stop()
    failed = pump.delivery.failed + pump.skipped
    if failed:
        raise SendError(f"{failed} of {pump.queued} records not delivered: "
                        f"{pump.delivery.first_error or 'too large for the producer'}")
    return pump.delivery.ok


class _Pump:
    """Queues records on the producer, paced when a rate is set."""

    def __init__(self, prod: AIOKafkaProducer, topic: str, rate: float | None,
                 stop: asyncio.Event | None) -> None:
        self.producer = prod
        self.topic = topic
        self.rate = rate
        self.stop = stop
        self.delivery = _Delivery()
        self.queued = 0
        self.skipped = 0

    async def run(self, records: AsyncIterator[Record], count: int | None, bar: tqdm) -> None:
        chunk = max(1, int(self.rate * _PACE_S)) if self.rate else 1000
        started = time.monotonic()
        async for key, value in records:
            try:
                fut = await self.producer.send(self.topic, value, key=key)
            except MessageSizeTooLargeError:
                self.skipped += 1  # larger than the producer may send: nobody could read it
            else:
                fut.add_done_callback(self.delivery)
            self.queued += 1
            if self.queued == count:
                return  # before asking the source for a record it may have to wait for
            if self.queued % chunk == 0:
                bar.update(self.queued - bar.n)
                if self.stop is not None and self.stop.is_set():
                    return
                await _pace(started, self.queued, self.rate)


async def _pace(started: float, sent: int, rate: float | None) -> None:
    if rate is None:
        await asyncio.sleep(0)  # let the producer's sender task run between chunks
        return
    delay = started + sent / rate - time.monotonic()
    await asyncio.sleep(max(0.0, delay))


def configure(p: argparse.ArgumentParser) -> None:
    p.description = ("Publish events to the events topic: synthetic ones, or JSON lines "
                     "from a file or stdin (each line as it is, invalid ones included).")
    p.add_argument("path", nargs="?",
                   help="JSON-lines file to send, or - for stdin; synthetic events when absent")
    p.add_argument("--count", type=whole(0), default=None,
                   help="records to send (synthetic default 10000, endless with --rate)")
    p.add_argument("--rate", type=positive, default=None, help="records per second (default: max)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the synthetic stream (default: fresh each run)")
    p.add_argument("--customers", type=whole(1), default=10_000,
                   help="synthetic customer base size")
    p.add_argument("--malformed", type=share, default=0.0, metavar="RATIO",
                   help="share of invalid synthetic records (0-1)")
    p.add_argument("--topic", default=None, help="topic to write (default: the events topic)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--responses", action="store_true",
                   help="instead: one synthetic response per decision with an action on the "
                   "decisions topic, to the responses topic")
    p.add_argument("--accept", type=share, default=0.3, help="with --responses: acceptance rate")
    p.add_argument("--convert", type=share, default=0.1, help="with --responses: conversion rate")


def stop_on_interrupt() -> asyncio.Event:
    """An event set by the first Ctrl-C, so the command can finish cleanly (a send still
    flushes what it queued); a second Ctrl-C interrupts at once. Main thread only."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def first() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)  # back to KeyboardInterrupt

    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, first)
    return stop


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    stop = stop_on_interrupt()
    count = args.count
    if args.path is None:
        if count is None and args.rate is None:
            count = 10_000
        source: Source = synthetic.records(count, seed=args.seed, customers=args.customers,
                                           malformed_ratio=args.malformed)
        return await _send(settings, source, args, count, stop)
    if args.path == "-":
        return await _send(settings, read_lines(sys.stdin.buffer, stop), args, count, stop)
    with open(args.path, "rb") as f:
        return await _send(settings, read_lines(f, stop), args, count, stop)


async def _send(settings: Settings, source: Source, args: argparse.Namespace,
                count: int | None, stop: asyncio.Event) -> int:
    progress = not args.no_progress and (count is None or count >= _PROGRESS_MIN)
    started = time.monotonic()
    sent = await send(settings, source, rate=args.rate, count=count,
                      progress=progress and sys.stderr.isatty(), stop=stop)
    seconds = time.monotonic() - started
    print(f"sent {sent} records to {settings.topics.events} in {seconds:.2f} s "
          f"({sent / seconds if seconds else 0.0:,.0f} records/s)", file=sys.stderr)
    return sent


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.responses:
        from streams.cli import send_responses

        try:
            return send_responses.run(settings, args)
        except (KafkaError, OSError) as exc:
            raise SendError(str(exc)) from exc
    if args.topic:
        settings = settings.with_(topics=_with_events(settings, args.topic))
    try:
        asyncio.run(_run(settings, args))
    except KeyboardInterrupt:
        return 0
    except (KafkaError, OSError) as exc:
        raise SendError(str(exc)) from exc
    return 0


def _with_events(settings: Settings, topic: str) -> Topics:
    return dataclasses.replace(settings.topics, events=topic)
