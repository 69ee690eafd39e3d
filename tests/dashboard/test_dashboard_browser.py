"""The page in a real browser (headless Chromium): against a running worker and a stream it
renders the MoT ranking and the outcome counters, follows the stream live, and a search for
an event_id shows the decision's candidates. A screenshot stays in .arbiter/dashboard.png."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams import synthetic
from tests.dashboard.cdp import Browser, chromium_binary
from tests.dashboard.support import ARTEFACTS, Running, valid_count
from tests.harness import produce

pytestmark = pytest.mark.integration

COUNTERS = """JSON.stringify(Object.fromEntries(["total-events", "outcome-action",
  "outcome-suppressed", "outcome-no_mot", "outcome-no_candidate", "total-deadletter"]
  .map((id) => [id, Number(document.getElementById(id).textContent.replace(/,/g, ""))])))"""


async def _counters(b: Browser) -> dict[str, int]:
    return dict(json.loads(await b.evaluate(COUNTERS)))


async def test_the_page_renders_live_and_finds_a_decision(running: Running,
                                                          tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("chromium is not installed (Debian: apt-get install chromium)")
    async with Browser(binary, tmp_path / "profile") as b:
        await b.send("Page.enable")
        await b.send("Page.navigate", url=running.base_url + "/")
        rows = await b.wait_for("the MoT table's rows", """(() => {
            const r = document.querySelectorAll("#mot-table tbody tr");
            return r.length && r[0].children.length === 9 ? r.length : 0; })()""")
        assert rows >= 10
        first = await b.evaluate(
            'document.querySelector("#mot-table tbody tr").children[1].textContent')
        assert first  # a MoT id in the top row
        await b.wait_for("the counters", 'Number(document.getElementById("total-events")'
                         f'.textContent.replace(/,/g, "")) >= {running.sent}')
        before = await _counters(b)
        assert before["outcome-action"] > 0 and before["outcome-suppressed"] > 0
        assert before["outcome-no_mot"] > 0 and before["total-deadletter"] > 0
        assert await b.evaluate('document.getElementById("health").textContent') == "live"
        assert await b.evaluate('document.getElementById("workers-reporting").textContent') \
            == "1"
        assert await b.evaluate('document.querySelectorAll("#chart-events canvas").length') >= 1

        # Live: more events, and the page follows without a reload.
        more = list(synthetic.records(200, seed=141))
        await produce(running.settings, more)
        running.sent += len(more)
        running.valid += valid_count(more)
        await b.wait_for("the live counters", 'Number(document.getElementById("total-events")'
                         f'.textContent.replace(/,/g, "")) >= {running.sent}')
        after = await _counters(b)
        assert sum(after[f"outcome-{o}"] for o in ("action", "suppressed", "no_mot",
                                                   "no_candidate")) > \
            sum(before[f"outcome-{o}"] for o in ("action", "suppressed", "no_mot",
                                                 "no_candidate"))

        # The search box: an event_id shows its decision's whole candidate table.
        known = next(d for d in running.decisions
                     if d["event_id"] == running.scripted[0]["event_id"])
        await b.evaluate('document.getElementById("search").focus()')
        await b.send("Input.insertText", text=str(known["event_id"]))
        await b.evaluate('document.querySelector("#search-form button").click()')
        shown = await b.wait_for("the candidate table", """(() => {
            const rows = document.querySelectorAll("#search-result table.candidates tbody tr");
            return rows.length ? JSON.stringify([...rows].map((r) =>
                [...r.children].map((c) => c.textContent))) : ""; })()""")
        table = json.loads(shown)
        candidates = known["candidates"]
        assert isinstance(candidates, list) and candidates
        assert [[r[0], r[1], r[4], r[5]] for r in table] == [
            [c["program"], c["action"], c["status"], c["reason"]] for c in candidates]
        text = await b.evaluate('document.getElementById("search-result").textContent')
        assert str(known["customer_id"]) in text and "action" in text
        await b.evaluate("window.scrollTo(0, 0)")
        ARTEFACTS.mkdir(exist_ok=True)
        await b.screenshot(ARTEFACTS / "dashboard.png")
    assert (ARTEFACTS / "dashboard.png").stat().st_size > 10_000
