"""`arbiter simulate` over small hand-made streams: event time, bad input, two catalogues."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from rules import load_catalogue
from streams.cli.main import main as arbiter
from tests.rules.test_catalogue_errors import broken

T0 = 1_735_689_600_000  # 2025-01-01T00:00Z
H = 3_600_000


def _write(path: Path, events: list[dict[str, object]], extra: list[bytes] = ()) -> Path:  # type: ignore[assignment]
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events) + b"".join(
        x + b"\n" for x in extra))
    return path


def _decisions(path: Path) -> dict[str, dict]:
    return {d["event_id"]: d for d in map(json.loads, path.read_text().splitlines())}


def _balance(eid: str, at: int, customer: str = "c-1") -> dict[str, object]:
    return {"event_id": eid, "customer_id": customer, "type": "balance_exhausted",
            "product_line": "prepaid", "ts": at, "attrs": {"balance": 0.1}}


def test_a_day_of_cooldown_counts_in_event_time(tmp_path: Path, capsys) -> None:  # type: ignore
    cat = load_catalogue()
    cooldown = cat.policies["program_cooldown"]
    assert (cooldown.kind, cooldown.scope, cooldown.limit, cooldown.window_ms) == (
        "cap", "program", 1, 24 * H)
    # Given out of order: the replay sorts by ts, and each event is decided at its own ts.
    src = _write(tmp_path / "in.jsonl", [_balance("e-25h", T0 + 25 * H),
                                         _balance("e-0", T0), _balance("e-23h", T0 + 23 * H)])
    out = tmp_path / "decisions.jsonl"
    assert arbiter(["simulate", str(src), "--decisions", str(out), "--json"]) == 0
    d = _decisions(out)
    assert list(d) == ["e-0", "e-23h", "e-25h"]  # decided in event-time order
    first = d["e-0"]["action"]
    assert d["e-0"]["outcome"] == "action"
    program = first["program"]
    # 23 hours later the same program's action is held back by the day's cooldown ...
    held = [c for c in d["e-23h"]["candidates"] if c["action"] == first["id"]]
    assert held[0]["status"] == "suppressed"
    assert held[0]["reason"].startswith("suppressed by policy program_cooldown: "
                                        f"{program} acted 23h ago")
    assert (d["e-23h"]["action"] or {}).get("id") != first["id"]
    # ... and 25 hours after the first, a day has passed: it is free again.
    assert d["e-25h"]["action"]["id"] == first["id"]
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"]["decided"] == 3
    assert summary["held_back"]["program_cooldown"] >= 1


def test_a_line_that_is_not_json_is_a_dead_letter_and_the_run_goes_on(tmp_path, capsys) -> None:  # type: ignore
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)],
                 [b'{"event_id": "cut', b"[1, 2]"])
    src.write_bytes(src.read_bytes() + orjson.dumps(_balance("e-2", T0 + H)) + b"\n")
    assert arbiter(["simulate", str(src), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == {**summary["events"], "in": 4, "deadletter": 2, "decided": 2}
    assert summary["deadletters"] == {"event: not JSON": 1,
                                      "event: not a JSON object": 1}


def test_a_missing_file_stops_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore
    assert arbiter(["simulate", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("arbiter simulate: cannot read ") and "nope.jsonl" in err


def test_an_invalid_catalogue_stops_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore
    bad = broken(tmp_path, {"settings.yaml": [("rank_by: value", "rank_by: margin")]})
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)])
    assert arbiter(["simulate", str(src), "--against", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--against" in err and "settings.yaml: nbo.rank_by: 'margin' is not one of" in err


def test_against_reports_exactly_the_events_whose_decision_changes(tmp_path, capsys) -> None:  # type: ignore
    # Loyalty moved above proactive care: where both answer, loyalty now wins.
    b = broken(tmp_path, {"programs.yaml": [("kind: experience\n    priority: 40",
                                             "kind: experience\n    priority: 85")]})
    assert load_catalogue(b).programs["loyalty"].priority == 85
    events = _synthetic_events(3000, 2, 300, 4)
    src = _write(tmp_path / "in.jsonl", events)
    runs = {}
    for name, rules in (("a", None), ("b", b)):
        out = tmp_path / f"{name}.jsonl"
        args = [str(src), "--decisions", str(out), "--json"]
        assert arbiter(["simulate", *args, *(["--rules", str(rules)] if rules else [])]) == 0
        capsys.readouterr()
        runs[name] = _decisions(out)
    assert set(runs["a"]) == set(runs["b"]) == {e["event_id"] for e in events}

    def what(d: dict) -> str:
        return d["action"]["id"] if d["action"] else d["outcome"]

    expected = {eid for eid, d in runs["a"].items() if what(d) != what(runs["b"][eid])}
    assert expected  # the change matters somewhere in this stream
    assert arbiter(["simulate", str(src), "--against", str(b), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["changes"]
    assert set(got["event_ids"]) == expected and got["events"] == len(expected)
    assert got["customers"] == len({runs["a"][e]["customer_id"] for e in expected})
    assert sum(t["count"] for t in got["top"]) <= len(expected)
    assert any(t["to"].startswith("loy_") for t in got["top"])


def _synthetic_events(n: int, days: float, customers: int, seed: int) -> list[dict]:
    from streams import synthetic
    from streams.simulate.source import DAY_MS, SYNTHETIC_START_MS

    pop = synthetic.Population(customers, seed=seed)
    return list(synthetic.events(n, seed=seed, customers=pop, start_ms=SYNTHETIC_START_MS,
                                 step_ms=days * DAY_MS / n))


@pytest.mark.parametrize("flag", ["--json", "--report"])
def test_outputs_for_a_person_and_a_page(tmp_path: Path, capsys, flag: str) -> None:  # type: ignore
    page = tmp_path / "out.html"
    args = ["--synthetic", "2000", "--days", "1", "--customers", "200"]
    assert arbiter(["simulate", *args,
                    *(["--json"] if flag == "--json" else ["--report", str(page)])]) == 0
    out = capsys.readouterr().out
    if flag == "--json":
        got = json.loads(out)
        assert got["events"]["in"] == 2000
        assert sum(got["outcomes"].values()) == got["events"]["decided"] == 2000
        assert sum(got["programs"].values()) == got["outcomes"]["action"]
        assert sum(got["channels"].values()) == got["outcomes"]["action"]
        assert got["contacts"]["max"] >= got["contacts"]["p99"]
        assert {"mot", "product_line", "count", "value", "risk"} <= set(got["mots"][0])
    else:
        assert "program" in out and "held back by" in out
        html = page.read_text()
        assert html.startswith("<!doctype html>") and "<svg" in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_line_that_is_not_utf8_is_counted_under_its_reason(tmp_path, capsys) -> None:  # type: ignore
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)], [b"\xff\xfe"])
    assert arbiter(["simulate", str(src), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deadletters"] == {"event: not UTF-8": 1}


def test_an_unwritable_report_stops_before_the_replay(tmp_path: Path, capsys) -> None:  # type: ignore
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)])
    out = tmp_path / "no-such-dir" / "out.html"
    assert arbiter(["simulate", str(src), "--report", str(out)]) == 2
    got = capsys.readouterr()
    assert got.out == ""  # nothing replayed, nothing printed
    assert got.err.count("\n") == 1 and f"cannot write {out}" in got.err


@pytest.mark.parametrize(("args", "env", "named"), [
    ([], {"ARBITER_DEDUPE_TTL_S": "abc"}, "ARBITER_DEDUPE_TTL_S='abc' is not a whole number"),
    ([], {"ARBITER_DEDUPE_TTL_S": "-5"}, "ARBITER_DEDUPE_TTL_S=-5 must be at least 1"),
    (["--dedupe-ttl", "0"], {}, "--dedupe-ttl 0: must be at least 1 second"),
])
def test_a_bad_dedupe_ttl_stops_with_one_line(tmp_path, capsys, monkeypatch, args, env,  # type: ignore
                                              named) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)])
    assert arbiter(["simulate", str(src), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err


def test_a_catalogue_from_the_environment_is_named_so(tmp_path, capsys, monkeypatch) -> None:  # type: ignore
    monkeypatch.setenv("ARBITER_RULES", str(tmp_path / "nowhere"))
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)])
    assert arbiter(["simulate", str(src)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"ARBITER_RULES={tmp_path / 'nowhere'}: invalid catalogue, 1 problem: " in err
    assert "--rules" not in err


def test_a_catalogue_with_many_problems_is_one_short_line(tmp_path, capsys) -> None:  # type: ignore
    bad = broken(tmp_path, {"settings.yaml": [("rank_by: value", "rank_by: margin")],
                            "programs.yaml": [("    priority: 60\n", "    priority: high\n"),
                                              ("    priority: 40\n", "    priority: -1\n")],
                            "mots.yaml": [("id: ", "id: 'Bad Id'")]})
    src = _write(tmp_path / "in.jsonl", [_balance("e-1", T0)])
    assert arbiter(["simulate", str(src), "--rules", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "invalid catalogue, " in err and " problems: " in err
    assert f"more (arbiter rules check {bad} lists them all)" in err
    assert err.count("; ") == 3  # the first three problems, then how many more


def test_a_deadletter_reason_drops_numbers_not_names() -> None:
    from streams.simulate.tally import deadletter_reason
    assert deadletter_reason("event: not UTF-8 (invalid start byte at byte 79)") == \
        "event: not UTF-8"
    assert deadletter_reason("event.ts: -5 is not a time") == "event.ts: -… is not a time"
    assert deadletter_reason("event.type: 'x' unknown") == "event.type: … unknown"
