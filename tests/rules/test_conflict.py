"""The texts' conflict: in a store about billing, loyalty and retention both have an offer."""

from __future__ import annotations

import pytest

from rules import History, arbitrate, classify, load_catalogue, parse_event
from rules.history import decode_history, encode_risk

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return load_catalogue()


def _store_visit(segments: list[str], reason: str = "billing"):  # type: ignore[no-untyped-def]
    return parse_event({
        "event_id": "store-1", "customer_id": "c-42", "type": "interaction",
        "product_line": "postpaid", "ts": T0, "channel": "store", "segments": segments,
        "attrs": {"reason": reason},
    })


def _by_program(decision) -> dict[str, list]:  # type: ignore[no-untyped-def]
    out: dict[str, list] = {}
    for c in decision.candidates:
        out.setdefault(c.program, []).append(c)
    return out


def test_retention_wins_and_every_other_candidate_says_why(cat) -> None:  # type: ignore
    ev = _store_visit(["high_value"])
    mots = classify(cat, ev)
    assert mots == ("store_visit",)
    d = arbitrate(cat, ev, mots, History.empty(), T0 + 200)
    assert d.outcome == "action"
    assert d.action.program == "retention"
    assert d.action.channel == "store"  # answered where the customer is
    progs = _by_program(d)
    loyalty = progs["loyalty"][0]
    assert (loyalty.action, loyalty.status) == ("loy_redeem_points", "lost")
    assert loyalty.reason == "lost to retention (priority 90 > 40)"
    care = progs["proactive_care"][0]
    assert care.status == "lost" and care.reason == "lost to retention (priority 90 > 80)"
    # NBO picked the commercial offer worth most first (nbo.rank_by: value): for a customer
    # without the converged segment (mobile only), the converged bundle; it then lost at NBA.
    nbo_pick = [c for c in d.candidates if c.reason.startswith("NBO's pick")]
    assert len(nbo_pick) == 1 and nbo_pick[0].program == "converged"
    assert "lost to retention at NBA (priority 90 > 52)" in nbo_pick[0].reason
    lc = progs["lifecycle"][0]
    assert lc.reason == (f"lost to converged at NBO (NBO: expected value {nbo_pick[0].score} > "
                         f"{lc.score})")
    assert progs["upsell_cross_sell"][0].reason == "ineligible: needs attrs.reason == offer"
    assert progs["students"][0].status == "ineligible"
    assert progs["students"][0].reason == "ineligible: segment students required"
    won = [c for c in d.candidates if c.status == "won"]
    assert [c.action for c in won] == [d.action.id]
    # Every candidate line carries the contract's fields and a reason.
    for c in d.to_dict()["candidates"]:
        assert set(c) == {"program", "action", "priority", "score", "status", "reason"}
        assert c["reason"]


def test_without_a_retention_offer_the_billing_issue_is_fixed_first(cat) -> None:  # type: ignore
    ev = _store_visit([])
    d = arbitrate(cat, ev, classify(cat, ev), History.empty(), T0)
    assert d.action.id == "pc_fix_open_issue"
    retention = _by_program(d)["retention"]
    assert all(c.status == "ineligible" for c in retention)
    assert {c.reason for c in retention} >= {"ineligible: segment churn_risk required",
                                             "ineligible: segment high_value required"}
    loyalty = _by_program(d)["loyalty"][0]
    assert loyalty.reason == "lost to proactive_care (priority 80 > 40)"


def test_after_a_complaint_the_sales_offers_keep_quiet_but_retention_answers(cat) -> None:  # type: ignore
    ev = _store_visit(["high_value"])
    history = decode_history([encode_risk(T0 - 3 * 3_600_000, "complaint")])
    d = arbitrate(cat, ev, classify(cat, ev), history, T0)
    assert d.action.program == "retention"
    lifecycle = _by_program(d)["lifecycle"][0]
    assert lifecycle.status == "suppressed"
    assert lifecycle.reason == ("suppressed by policy quiet_after_risk: complaint 3h ago, "
                                "no sales offer within 48h")


def test_decision_is_the_same_for_the_same_inputs(cat) -> None:  # type: ignore
    ev = _store_visit(["high_value", "children"])
    a = arbitrate(cat, ev, classify(cat, ev), History.empty(), T0).to_dict()
    b = arbitrate(cat, ev, classify(cat, ev), History.empty(), T0).to_dict()
    assert a == b
