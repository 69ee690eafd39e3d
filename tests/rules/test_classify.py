"""Every event type of the contract yields its MoTs on each product line, and nothing elsewhere."""

from __future__ import annotations

import pytest

from rules import PRODUCT_LINES, History, arbitrate, classify, load_catalogue, parse_event

ALL = ("prepaid", "postpaid", "home")
MOBILE = ("prepaid", "postpaid")
BILLED = ("postpaid", "home")


def _on(lines: tuple[str, ...], *mots: str) -> dict[str, tuple[str, ...]]:
    return {line: mots for line in lines}


# (event type, attrs, channel, product line -> expected MoTs), from the contract's table.
CASES = [
    ("lead_form_submitted", {}, None, _on(ALL, "lead_form")),
    ("sim_activated", {}, None, _on(("prepaid",), "new_sim")),
    ("contract_signed", {}, None, _on(BILLED, "new_contract")),
    ("top_up", {"first": True, "amount": 10}, None, _on(("prepaid",), "first_top_up")),
    ("top_up", {"first": False, "amount": 10}, None, {}),
    ("top_up", {"amount": 10}, None, {}),
    ("package_purchased", {"first": True}, None, _on(("prepaid",), "first_top_up")),
    ("package_purchased", {"first": "yes"}, None, {}),
    ("balance_exhausted", {"balance": 0}, None, _on(("prepaid",), "balance_exhausted")),
    ("package_expired", {"package": "data_5gb"}, None, _on(("prepaid",), "package_expired")),
    ("allowance_exhausted", {"resource": "data"}, None,
     {"prepaid": ("resources_exhausted",), "postpaid": ("allowance_exceeded",)}),
    ("invoice_issued", {"first": True, "amount": 30.0, "average_amount": 30.0}, None,
     _on(BILLED, "invoice_received")),
    ("invoice_issued", {"amount": 45, "average_amount": 30}, None,
     _on(BILLED, "invoice_received", "bill_shock")),
    ("invoice_issued", {"amount": 44.99, "average_amount": 30}, None,
     _on(BILLED, "invoice_received")),
    ("invoice_issued", {"amount": 45, "average_amount": 0}, None,
     _on(BILLED, "invoice_received")),
    ("invoice_issued", {"amount": "45", "average_amount": 30}, None,
     _on(BILLED, "invoice_received")),
    ("contract_ending", {"days_left": 20}, None, _on(BILLED, "contract_ending")),
    ("addon_activated", {"addon": "esim_wearable"}, None, _on(("postpaid",), "addon_activation")),
    ("device_lease_expiring", {"days_left": 9}, None,
     _on(("postpaid",), "device_lease_expiring")),
    ("device_lost", {}, None, _on(("postpaid",), "device_loss")),
    ("device_fault", {"kind": "malfunction"}, None, _on(BILLED, "device_malfunction")),
    ("device_fault", {"kind": "misconfiguration"}, None, _on(BILLED, "device_misconfiguration")),
    ("device_fault", {}, None, {}),
    ("device_changed", {}, None, _on(ALL, "device_change")),
    ("device_upgrade_due", {}, None, _on(ALL, "device_change")),
    ("installation_completed", {}, None, _on(("home",), "service_installation")),
    ("quality_degraded", {"metric": "latency_ms"}, None, _on(("home",), "quality_degradation")),
    ("interaction", {}, "store", _on(ALL, "store_visit")),
    ("interaction", {}, "telesales", _on(ALL, "telesales_conversation")),
    ("interaction", {}, "call_center", _on(ALL, "call_center_conversation")),
    ("interaction", {"reason": "offer"}, "digital", _on(ALL, "digital_visit")),
    ("interaction", {}, None, {}),
    ("service_outage", {"minutes": 90}, None, _on(ALL, "service_interruption")),
    ("complaint_submitted", {"topic": "billing"}, "call_center", _on(ALL, "complaint")),
    ("payment_overdue", {"days_overdue": 12}, None, _on(BILLED, "late_payment")),
    ("technician_visit", {}, None, _on(("home",), "onsite_resolution")),
    ("port_out_requested", {}, None, _on(ALL, "cancellation")),
    ("cancellation_requested", {"reason": "price"}, None, _on(ALL, "cancellation")),
    ("usage_report", {"data_mb": 10}, None, {}),
]
CONTRACT_TYPES = {c[0] for c in CASES} - {"usage_report"}


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return load_catalogue()


def _event(etype: str, line: str, attrs: dict, channel: str | None):  # type: ignore[no-untyped-def]
    obj = {"event_id": f"e-{etype}-{line}", "customer_id": "c1", "type": etype,
           "product_line": line, "ts": 1_700_000_000_000, "attrs": attrs}
    if channel:
        obj["channel"] = channel
    return parse_event(obj)


def test_catalogue_knows_exactly_the_contracts_event_types(cat) -> None:  # type: ignore
    assert set(cat.event_types) == CONTRACT_TYPES


@pytest.mark.parametrize(("etype", "attrs", "channel", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_event_type_yields_its_mots_per_product_line(cat, etype, attrs, channel,  # type: ignore
                                                     expected) -> None:
    for line in PRODUCT_LINES:
        ev = _event(etype, line, attrs, channel)
        mots = classify(cat, ev)
        assert mots == expected.get(line, ()), line
        decision = arbitrate(cat, ev, mots, History.empty(), 1_700_000_000_000)
        if mots:
            assert decision.outcome != "no_mot"
        else:
            assert decision.outcome == "no_mot"
            assert decision.action is None and decision.candidates == ()


def test_bill_shock_ratio_is_the_catalogues_setting(cat) -> None:  # type: ignore
    assert cat.bill_shock_ratio == 1.5
