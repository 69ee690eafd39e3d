"""The dashboard process against a real worker: its page and files, the JSON the page reads,
/metrics and /healthz agree with the topics."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections import Counter

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboard.support import Running, committed_all, get, read_to_end, state, wait_for

pytestmark = pytest.mark.integration


def test_the_page_its_files_and_api_are_served(running: Running) -> None:
    status, body, ctype = get(running.base_url + "/")
    page = body.decode()
    assert status == 200 and ctype.startswith("text/html")
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {"/static/app.js", "/static/style.css", "/static/vendor/uPlot.iife.min.js",
            "/static/vendor/uPlot.min.css"} <= set(refs)
    for ref in [*refs, "/static/vendor/uPlot.LICENSE"]:
        status, body, ctype = get(running.base_url + ref)
        assert status == 200 and len(body) > 100, ref
        if ref.endswith(".js"):
            assert "javascript" in ctype, (ref, ctype)
            # Offline: nothing fetched from elsewhere at run time.
            assert not re.search(r"""["'`]https?://""", body.decode()), ref
    assert "MIT" in get(running.base_url + "/static/vendor/uPlot.LICENSE")[1].decode()
    assert not re.search(r'(?:src|href)="https?://', page)
    s = state(running.base_url)
    assert {"totals", "decisions", "programs", "channels", "mots", "workers", "series",
            "deadletters"} <= set(s)
    assert get(running.base_url + "/api/search")[0] == 400
    assert get(running.base_url + "/healthz")[0] == 200


def test_the_live_stream_sends_the_state(running: Running) -> None:
    with urllib.request.urlopen(running.base_url + "/api/stream", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        line = r.readline()
    assert line.startswith(b"data: ")
    assert orjson.loads(line[len(b"data: "):])["totals"]["events"] >= running.sent


def test_the_page_json_holds_the_ranking_of_the_metrics_topic(running: Running) -> None:
    s = state(running.base_url)
    records = asyncio.run(read_to_end(running.settings, running.settings.topics.metrics))
    source = s["mots_from"]
    matching = [m for m in records if m["worker"] == source["worker"]
                and abs(_epoch(m["ts"]) - source["ts"]) < 1e-3]
    assert len(matching) == 1, source
    assert s["mots"] == matching[0]["mots"]
    assert len(s["mots"]) >= 10  # the synthetic stream touches many MoTs
    ranked = [m["value"] + m["risk"] for m in s["mots"]]
    assert ranked == sorted(ranked, reverse=True)
    assert s["workers"]["reporting"] == 1 and s["workers"]["silent"] == []
    assert s["series"]["t"] and max(s["series"]["events_per_s"]) > 0


def _epoch(ts: str) -> float:
    from streams.dashboard.state import epoch_s

    value = epoch_s(ts)
    assert value is not None
    return value


def _families(base_url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    status, body, ctype = get(base_url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def test_metrics_totals_equal_what_was_sent(running: Running) -> None:
    settings = running.settings
    asyncio.run(committed_all(settings))
    decisions = asyncio.run(read_to_end(settings, settings.topics.decisions))
    dead = asyncio.run(read_to_end(settings, settings.topics.deadletter))
    # The worker reports what it decided at its next interval.
    wait_for("/metrics to count every record", lambda: _families(running.base_url)[
        "arbiter_events_total"][0][1] >= running.sent)
    m = _families(running.base_url)
    assert m["arbiter_events_total"] == [({}, float(running.sent))]
    assert m["arbiter_deadletters_total"] == [({}, float(len(dead)))]
    assert len(dead) == running.sent - running.valid > 0
    assert m["arbiter_duplicates_total"] == [({}, 0.0)]
    outcomes = Counter(str(d["outcome"]) for d in decisions)
    assert len(decisions) == running.valid
    assert {lab["outcome"]: v for lab, v in m["arbiter_decisions_total"]} == {
        o: float(outcomes.get(o, 0)) for o in ("action", "suppressed", "no_candidate", "no_mot")}
    actions = [d["action"] for d in decisions if d["outcome"] == "action"]
    assert {lab["program"]: v for lab, v in m["arbiter_actions_by_program_total"]} == {
        k: float(v) for k, v in Counter(a["program"] for a in actions).items()}
    assert {lab["channel"]: v for lab, v in m["arbiter_actions_by_channel_total"]} == {
        k: float(v) for k, v in Counter(a["channel"] for a in actions).items()}
    # The MoT gauges are the page's ranking, per (MoT, product line) and window.
    ranking = state(running.base_url)["mots"]
    value = {(lab["mot"], lab["product_line"]): v for lab, v in m["arbiter_mot_value"]}
    assert value == {(e["mot"], e["product_line"]): pytest.approx(e["value"]) for e in ranking}
    counts = {(lab["mot"], lab["product_line"], lab["window"]): v
              for lab, v in m["arbiter_mot_count"]}
    assert counts == {(e["mot"], e["product_line"], w): float(n)
                      for e in ranking for w, n in e["counts"].items()}
    quantiles = {lab["quantile"] for lab, _ in m["arbiter_latency_seconds"]}
    assert quantiles == {"0.5", "0.95", "0.99", "1"}
    assert m["arbiter_workers_reporting"] == [({}, 1.0)]
