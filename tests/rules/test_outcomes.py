"""Positive outcomes in mots.yaml: validated with file and path, and matched by rules.outcomes."""

from __future__ import annotations

from pathlib import Path

from rules import load_catalogue, parse_event
from rules.outcomes import reached, watched
from tests.harness import event
from tests.rules.test_catalogue_errors import broken, problems

EXHAUSTED = """  - id: balance_exhausted
    name: Account balance runs out
    product_lines: [prepaid]
    positive_outcome:  # topped up or bought a package before moving usage elsewhere
      - {event: top_up, within: 2d}
"""


def test_the_bundled_outcomes_name_known_mots_and_event_types() -> None:
    cat = load_catalogue()
    rules = [r for got in cat.outcomes.values() for r in got]
    assert rules, "the bundled catalogue watches some MoTs"
    for etype, got in cat.outcomes.items():
        assert etype in cat.event_types
        assert all(r.event == etype and r.mot in cat.mots for r in got)
    assert watched(cat, "balance_exhausted") == 2 * 86_400_000
    assert watched(cat, "complaint") == 0


def test_an_event_reaches_the_mots_whose_outcome_it_is(tmp_path: Path) -> None:
    root = broken(tmp_path, {"mots.yaml": [(
        "      - {event: top_up, within: 2d}\n",
        "      - {event: top_up, within: 2d, when: [{field: amount, op: gte, value: 5}]}\n")]})
    cat = load_catalogue(root)
    big = parse_event(event("c1", "top_up", "prepaid", attrs={"amount": 10}))
    small = parse_event(event("c1", "top_up", "prepaid", attrs={"amount": 2}))
    other = parse_event(event("c1", "complaint_submitted", "prepaid"))
    assert "balance_exhausted" in {r.mot for r in reached(cat, big)}
    assert "balance_exhausted" not in {r.mot for r in reached(cat, small)}
    assert {r.mot for r in reached(cat, small)} >= {"new_sim"}  # new_sim's rule has no condition
    assert reached(cat, other) == ()


def test_every_outcome_problem_is_named_with_file_and_path(tmp_path: Path) -> None:
    root = broken(tmp_path, {"mots.yaml": [(
        "      - {event: top_up, within: 2d}\n      - {event: package_purchased, within: 2d}\n",
        "      - {event: top_upp, within: 2d}\n"
        "      - {event: package_purchased, within: 2 days}\n"
        "      - {event: top_up, within: 120d}\n"
        "      - {event: top_up, within: 1d, when: [{field: colour, op: eq, value: red}]}\n"
        "      - {within: 1d}\n")]})
    got = problems(root)
    where = "mots.yaml: mots[4].positive_outcome"
    assert any(p.startswith(f"{where}[0].event") and "top_upp" in p for p in got), got
    assert any(p.startswith(f"{where}[1].within") for p in got), got
    assert any(p.startswith(f"{where}[2].within") and "90d" in p for p in got), got
    assert any(p.startswith(f"{where}[3].when") and "colour" in p for p in got), got
    assert any(p.startswith(f"{where}[4]") and "event" in p for p in got), got
    assert len([p for p in got if p.startswith(where)]) == 5, got


def test_an_empty_outcome_list_is_a_problem(tmp_path: Path) -> None:
    root = broken(tmp_path, {"mots.yaml": [(
        "      - {event: top_up, within: 2d}\n      - {event: package_purchased, within: 2d}\n",
        "")]})
    text = (root / "mots.yaml").read_text().replace(
        "    positive_outcome:  # topped up or bought a package before moving usage elsewhere\n",
        "    positive_outcome: []\n", 1)
    (root / "mots.yaml").write_text(text)
    got = problems(root)
    assert any(p.startswith("mots.yaml: mots[4].positive_outcome") for p in got), got
