"""NBO puts forward the commercial offer worth most (nbo.rank_by: value), and says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules import History, arbitrate, classify, load_catalogue, parse_event
from rules.history import decode_history, encode_action
from rules.lookup import score
from tests.rules.test_catalogue_errors import broken, problems

T0 = 1_700_000_000_000


def _addon(customer: str = "c-1", segments: list[str] | None = None):  # type: ignore[no-untyped-def]
    # A postpaid customer activates an add-on: lifecycle (priority 60) helps set it up, up-sell
    # (50) offers a second one; both are NBO's commercial programs at this MoT.
    return parse_event({"event_id": "e-addon", "customer_id": customer, "type": "addon_activated",
                        "product_line": "postpaid", "ts": T0, "segments": segments or [],
                        "attrs": {"addon": "esim_wearable"}})


def _lines(d) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {c.action: c for c in d.candidates}


def _value(cat, action: str) -> float:  # type: ignore[no-untyped-def]
    return score(cat.actions[action], cat.economics("addon_activation", "postpaid"))


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return load_catalogue()


@pytest.fixture
def by_priority(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_catalogue(broken(tmp_path, {"settings.yaml": [("rank_by: value",
                                                               "rank_by: priority")]}))


def test_the_offer_worth_more_wins_over_a_higher_priority(cat) -> None:  # type: ignore
    up, lc = _value(cat, "up_second_addon"), _value(cat, "lc_addon_setup")
    assert up > lc  # the catalogue's economics make up-sell's offer the better one here
    assert cat.programs["lifecycle"].priority > cat.programs["upsell_cross_sell"].priority
    ev = _addon()
    d = arbitrate(cat, ev, classify(cat, ev), History.empty(), T0)
    assert d.outcome == "action" and d.action.id == "up_second_addon"
    lines = _lines(d)
    assert lines["up_second_addon"].reason == (
        f"won: NBO's pick of the commercial offers (expected value {up}), then first at NBA "
        f"(priority 50, score {up})")
    assert lines["lc_addon_setup"].status == "lost"
    assert lines["lc_addon_setup"].reason == (
        f"lost to upsell_cross_sell at NBO (NBO: expected value {up} > {lc})")


def test_rank_by_priority_brings_the_old_choice_back(by_priority) -> None:  # type: ignore
    assert by_priority.nbo_rank_by == "priority"
    ev = _addon()
    d = arbitrate(by_priority, ev, classify(by_priority, ev), History.empty(), T0)
    assert d.action.id == "lc_addon_setup"
    lines = _lines(d)
    assert lines["lc_addon_setup"].reason == (
        "won: NBO's pick of the commercial offers, then first at NBA (priority 60, score "
        f"{lines['lc_addon_setup'].score})")
    assert lines["up_second_addon"].reason == "lost to lifecycle at NBO (priority 60 > 50)"


def test_when_the_best_offer_is_held_back_nbo_puts_forward_the_next(cat) -> None:  # type: ignore
    # Up-sell acted an hour ago: its cooldown holds it back, lifecycle's offer is next by value.
    ev = _addon()
    history = decode_history([encode_action(T0 - 3_600_000, "upsell_cross_sell", "email", True,
                                            "up_earlier")])
    d = arbitrate(cat, ev, classify(cat, ev), history, T0)
    lines = _lines(d)
    assert lines["up_second_addon"].status == "suppressed"
    assert lines["up_second_addon"].reason.startswith("suppressed by policy program_cooldown")
    assert d.action.id == "lc_addon_setup"


def test_nba_still_ranks_nbos_pick_against_experience_programs_by_priority(cat) -> None:  # type: ignore
    # A store visit about leaving: retention (experience, 90) beats whatever NBO puts forward.
    ev = parse_event({"event_id": "e-store", "customer_id": "c-2", "type": "interaction",
                      "product_line": "postpaid", "ts": T0, "channel": "store",
                      "attrs": {"reason": "cancellation"}})
    d = arbitrate(cat, ev, classify(cat, ev), History.empty(), T0)
    assert d.action.program == "retention"
    picks = [c for c in d.candidates if c.reason.startswith("NBO's pick")]
    assert len(picks) == 1
    assert picks[0].reason.endswith(f"lost to retention at NBA (priority 90 > {picks[0].priority})")
    # NBO's pick is the eligible commercial offer of highest expected value.
    offers = [c for c in d.candidates if c.status in ("lost", "won")
              and cat.programs[c.program].kind == "commercial"]
    assert picks[0].score == max(c.score for c in offers)


def test_an_unknown_ranking_is_named_with_its_file_and_path(tmp_path: Path) -> None:
    root = broken(tmp_path, {"settings.yaml": [("rank_by: value", "rank_by: margin")]})
    assert problems(root) == [
        "settings.yaml: nbo.rank_by: 'margin' is not one of value, priority"]


def test_without_the_setting_nbo_ranks_by_value(tmp_path: Path) -> None:
    root = broken(tmp_path, {"settings.yaml": [("nbo:\n  rank_by: value\n", "")]})
    assert "nbo" not in yaml.safe_load((root / "settings.yaml").read_text())
    assert load_catalogue(root).nbo_rank_by == "value"
