"""Contact history entries, history updates, and the decision's JSON form."""

from __future__ import annotations

import uuid

import pytest

from rules import (
    Economics,
    History,
    arbitrate,
    classify,
    decode_history,
    history_update,
    incremental_risk,
    incremental_value,
    load_catalogue,
    parse_event,
)
from rules.decision import rfc3339_ms

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return load_catalogue()


def ev(etype: str, line: str, event_id: str = "e-1", **extra: object):  # type: ignore
    return parse_event({"event_id": event_id, "customer_id": "c-1", "type": etype,
                        "product_line": line, "ts": T0, **extra})


def test_history_update_records_the_action_and_the_risk_moments(cat) -> None:  # type: ignore
    e = ev("invoice_issued", "home", attrs={"amount": 100.0, "average_amount": 40.0})
    mots = classify(cat, e)
    d = arbitrate(cat, e, mots, History.empty(), T0 + 5)
    u = history_update(cat, e, mots, d, T0 + 5)
    assert u.entries == (f"r|{T0}|bill_shock",
                         f"a|{T0 + 5}|proactive_care|sms|0|pc_bill_shock_explain")
    assert u.retain_ms == 7 * 86_400_000 == cat.history_retain_ms
    assert u.max_entries == 64 == cat.history_max_entries
    h = History.empty().apply(u)
    assert h.actions[0].program == "proactive_care" and not h.actions[0].commercial
    assert h.risks[0].mot == "bill_shock" and h.risks[0].ts == T0


def test_no_action_and_no_risk_writes_nothing(cat) -> None:  # type: ignore[no-untyped-def]
    e = ev("usage_report", "prepaid")
    d = arbitrate(cat, e, classify(cat, e), History.empty(), T0)
    assert d.outcome == "no_mot"
    u = history_update(cat, e, (), d, T0)
    assert u.entries == ()
    assert History.empty().apply(u) is History.empty()


def test_unreadable_entries_are_skipped() -> None:
    h = decode_history([b"a|5|lifecycle|sms|1|lc_x", "garbage", b"\xff\xfe", "a|x|p|sms|1|a",
                        "r|7|complaint", "a|5|lifecycle|sms|2|lc_x", "r|1"])
    assert [e.ts for e in h.entries] == [5, 7]
    assert h.actions[0].commercial and h.actions[0].action == "lc_x"
    assert decode_history([]) is History.empty()


def test_a_batch_decides_in_order_without_rereading(cat) -> None:  # type: ignore
    h = History.empty()
    outcomes = []
    for i in range(3):
        e = ev("balance_exhausted", "prepaid", event_id=f"b-{i}")
        mots = classify(cat, e)
        d = arbitrate(cat, e, mots, h, T0 + i)
        h = h.apply(history_update(cat, e, mots, d, T0 + i))
        outcomes.append(d.outcome)
    assert outcomes == ["action", "suppressed", "suppressed"]
    assert len(h.actions) == 1


def test_decision_json_has_exactly_the_contract_fields(cat) -> None:  # type: ignore
    e = ev("interaction", "postpaid", event_id="evt-9", channel="digital",
           attrs={"reason": "offer"})
    d = arbitrate(cat, e, classify(cat, e), History.empty(), T0 + 1234)
    out = d.to_dict()
    assert out == {
        "decision_id": str(uuid.uuid5(uuid.UUID("6f1c3a52-d0e8-4b7f-a1c2-b9e5d4a70c31"),
                                      "evt-9")),
        "event_id": "evt-9", "customer_id": "c-1", "product_line": "postpaid",
        "event_type": "interaction", "event_ts": "2023-11-14T22:13:20.000Z",
        "decided_ts": "2023-11-14T22:13:21.234Z", "mots": ["digital_visit"],
        "outcome": "action",
        # A mobile-only customer asking about offers: the converged bundle is worth most.
        "action": {"id": "cv_bundle_conversation", "program": "converged", "channel": "digital",
                   "description": d.action.description, "mot": "digital_visit"},
        "candidates": out["candidates"], "rules_version": cat.version, "arm": "champion",
    }
    assert d.decision_id == out["decision_id"]
    later = arbitrate(cat, e, classify(cat, e), History.empty(), T0 + 99_999)
    assert later.decision_id == d.decision_id  # stable per event_id
    other = arbitrate(cat, ev("interaction", "postpaid", event_id="evt-10", channel="digital"),
                      ("digital_visit",), History.empty(), T0)
    assert other.decision_id != d.decision_id


def test_rfc3339_ms() -> None:
    assert rfc3339_ms(0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339_ms(253_402_300_799_999) == "9999-12-31T23:59:59.999Z"


def test_value_and_risk_formulas(cat) -> None:  # type: ignore[no-untyped-def]
    econ = Economics(value_positive=60.0, p_positive=0.25, value_negative=540.0, p_negative=0.01)
    assert incremental_value(1000, econ) == pytest.approx(15_000.0)
    assert incremental_risk(1000, econ) == pytest.approx(5_400.0)
    cancel = cat.economics("cancellation", "postpaid")
    assert incremental_risk(10, cancel) == pytest.approx(10 * 540 * 0.75)


def test_an_interaction_mot_without_a_channel_is_not_answered(cat) -> None:  # type: ignore
    e = ev("complaint_submitted", "prepaid")
    d = arbitrate(cat, e, ("store_visit",), History.empty(), T0)
    assert d.outcome == "no_candidate" and d.candidates
    no_channel = "ineligible: answers in the customer's channel, and the event names none"
    assert {c.action for c in d.candidates if c.reason == no_channel} >= {
        "loy_redeem_points", "lc_stage_next_step", "eng_usage_tips"}
    assert all(c.reason == no_channel or "required" in c.reason for c in d.candidates)


def test_repeated_decisions_follow_what_eligibility_reads(cat) -> None:  # type: ignore
    def decide(**extra: object):  # type: ignore[no-untyped-def]
        e = ev("interaction", "postpaid", **extra)
        return arbitrate(cat, e, classify(cat, e), History.empty(), T0)

    billing = {"attrs": {"reason": "billing"}, "segments": ["high_value"]}
    assert decide(channel="store", **billing).action.id == "ret_billing_save"
    assert decide(channel="digital", **billing).action.channel == "digital"
    offer = {"attrs": {"reason": "offer"}, "segments": ["high_value"]}
    assert decide(channel="store", **offer).action.program == "converged"
    assert decide(channel="store", **billing).action.id == "ret_billing_save"

    def first_invoice(first: object) -> str | None:
        e = ev("invoice_issued", "home", attrs={"first": first, "amount": 40.0,
                                                "average_amount": 40.0})
        d = arbitrate(cat, e, classify(cat, e), History.empty(), T0)
        return None if d.action is None else d.action.id

    assert first_invoice(True) == "lc_first_invoice_explained"
    assert first_invoice(1) is None  # 1 is neither true nor false
    assert first_invoice(False) == "lc_e_bill"
    assert first_invoice(True) == "lc_first_invoice_explained"
