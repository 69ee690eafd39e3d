"""The dashboard's aiohttp app: the page and its files, its JSON, the live stream, /metrics
and /healthz; `serve()` runs it with the topic feed in one event loop.

Routes:
  /              the page (static/index.html); /static/* its script, style and vendored uPlot
  /api/state     the page's JSON (DashboardState.snapshot)
  /api/stream    the same as server-sent events, sent when a record changed it (at most once
                 a second), with a comment every 15 s to keep proxies from closing the stream
  /api/search?q= an event_id's decision, else a customer_id's latest decisions, with their
                 candidates: from the recent decisions read, else from Redis by event_id
  /metrics       Prometheus text (prom.py)
  /healthz       200 when a metrics record written within 3 intervals was read, else 503
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from streams.dashboard import lookup, prom
from streams.dashboard.feed import Feed
from streams.dashboard.state import DashboardState
from streams.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
STATE: web.AppKey[DashboardState] = web.AppKey("state", DashboardState)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
SEARCH_MAX = 128  # event and customer ids are at most 128 characters (the contract)


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def state_json(request: web.Request) -> web.Response:
    return _json(request.app[STATE].snapshot())


async def stream(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    sent, last_beat = -1, time.monotonic()
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        while True:
            if state.version != sent:
                sent = state.version
                await resp.write(b"data: " + orjson.dumps(state.snapshot()) + b"\n\n")
                last_beat = time.monotonic()
            elif time.monotonic() - last_beat > 15:
                await resp.write(b": keep-alive\n\n")
                last_beat = time.monotonic()
            await asyncio.sleep(1.0)
    return resp


async def search(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()
    if not q or len(q) > SEARCH_MAX:
        return _json({"error": f"q must be an event_id or a customer_id of 1-{SEARCH_MAX} "
                               "characters"}, status=400)
    state, settings = request.app[STATE], request.app[SETTINGS]
    found = state.recent_decisions(event_id=q)
    kind, source = "event_id", "recent decisions"
    if not found:
        found = state.recent_decisions(customer_id=q)
        kind = "customer_id"
    if not found:
        try:
            hit = await lookup.from_redis(settings, q)
        except (RedisError, OSError) as exc:
            log.warning("dashboard: search in Redis failed: %s", exc)
            hit = None
        if hit is not None:
            found, kind, source = [hit[0]], "event_id", "Redis"
    return _json({"query": q, "kind": kind if found else None, "source": source if found
                  else None, "decisions": found})


async def metrics(request: web.Request) -> web.Response:
    body = prom.exposition(request.app[prom.REGISTRY])
    return web.Response(body=body, headers={"Content-Type": prom.CONTENT_TYPE})


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    newest = state.newest_report()
    body = {"healthy": state.healthy(), "newest_report_ts": newest,
            "max_age_s": 3 * state.interval_s}
    return _json(body, status=200 if body["healthy"] else 503)


def build_app(settings: Settings, state: DashboardState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app[SETTINGS] = settings
    app[prom.REGISTRY] = prom.registry(state)
    app.router.add_get("/", index)
    app.router.add_static("/static", STATIC)
    app.router.add_get("/api/state", state_json)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/search", search)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event,
                started: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set; prints the address once it listens."""
    state = DashboardState(settings.metrics_interval)
    feed = Feed(settings, state)
    runner = web.AppRunner(build_app(settings, state), handle_signals=False,
                           shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"dashboard on http://{host}:{port}/  (metrics: /metrics, health: /healthz)",
          flush=True)
    reader = asyncio.create_task(feed.run(stop))
    try:
        if started is not None:
            await asyncio.wait([asyncio.create_task(feed.ready.wait()), reader],
                               return_when=asyncio.FIRST_COMPLETED)
            started.set()
        await asyncio.wait([asyncio.create_task(stop.wait()), reader],
                           return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            reader.result()  # the feed failed: raise its error
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await runner.cleanup()
