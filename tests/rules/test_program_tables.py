"""The programs' MoT tables equal the domain text's tables, written here from the text."""

from __future__ import annotations

import pytest

from rules import PRODUCT_LINES, load_catalogue

INTERACTIONS = {"store_visit", "telesales_conversation", "call_center_conversation",
                "digital_visit"}

TEXT_TABLES: dict[str, dict[str, set[str]]] = {
    "lifecycle": {
        "prepaid": {"new_sim", "first_top_up", "balance_exhausted", "package_expired",
                    "resources_exhausted", "device_change", "store_visit",
                    "telesales_conversation", "call_center_conversation", "digital_visit",
                    "cancellation"},
        "postpaid": {"new_contract", "invoice_received", "allowance_exceeded",
                     "contract_ending", "addon_activation", "device_lease_expiring",
                     "device_malfunction", "device_change", "store_visit",
                     "telesales_conversation", "call_center_conversation", "digital_visit",
                     "cancellation"},
        "home": {"new_contract", "service_installation", "invoice_received", "contract_ending",
                 "device_malfunction", "device_change", "store_visit", "telesales_conversation",
                 "call_center_conversation", "digital_visit", "service_interruption",
                 "cancellation"},
    },
    "loyalty": {
        "prepaid": {"store_visit", "telesales_conversation", "call_center_conversation",
                    "digital_visit", "first_top_up"},
        "postpaid": {"store_visit", "telesales_conversation", "call_center_conversation",
                     "digital_visit"},
        "home": {"store_visit", "telesales_conversation", "call_center_conversation",
                 "digital_visit"},
    },
    "referral": {
        line: {"lead_form", "store_visit", "telesales_conversation",
               "call_center_conversation", "digital_visit"}
        for line in ("prepaid", "postpaid", "home")
    },
    "upsell_cross_sell": {
        "prepaid": {"balance_exhausted", "package_expired", "resources_exhausted",
                    "device_change", "store_visit", "telesales_conversation",
                    "call_center_conversation", "digital_visit"},
        "postpaid": {"allowance_exceeded", "contract_ending", "addon_activation",
                     "device_lease_expiring", "device_malfunction", "device_change",
                     "store_visit", "telesales_conversation", "call_center_conversation",
                     "digital_visit"},
        "home": {"contract_ending", "device_malfunction", "device_change", "store_visit",
                 "telesales_conversation", "call_center_conversation", "digital_visit",
                 "service_interruption"},
    },
    "engagement": {
        line: {"store_visit", "telesales_conversation", "call_center_conversation",
               "digital_visit"}
        for line in ("prepaid", "postpaid", "home")
    },
    "proactive_care": {
        "prepaid": {"telesales_conversation", "call_center_conversation", "digital_visit",
                    "service_interruption", "complaint"},
        "postpaid": {"device_misconfiguration", "store_visit", "telesales_conversation",
                     "call_center_conversation", "digital_visit", "service_interruption",
                     "bill_shock", "late_payment", "complaint"},
        "home": {"service_installation", "device_malfunction", "device_misconfiguration",
                 "device_change", "store_visit", "telesales_conversation",
                 "call_center_conversation", "digital_visit", "service_interruption",
                 "bill_shock", "late_payment", "complaint", "onsite_resolution"},
    },
}
# NBO's table is the same as up-sell's in the text.
TEXT_TABLES["nbo"] = {k: set(v) for k, v in TEXT_TABLES["upsell_cross_sell"].items()}

# The MoT lists of the first text, per product line, plus postpaid device misconfiguration
# (proactive care's postpaid table and the contract have it); NBA acts on ALL of them.
ALL_MOTS = {
    "prepaid": {"lead_form", "new_sim", "first_top_up", "balance_exhausted",
                "package_expired", "resources_exhausted", "device_change", *INTERACTIONS,
                "service_interruption", "complaint", "cancellation"},
    "postpaid": {"lead_form", "new_contract", "invoice_received", "allowance_exceeded",
                 "contract_ending", "addon_activation", "device_lease_expiring", "device_loss",
                 "device_malfunction", "device_misconfiguration", "device_change",
                 *INTERACTIONS, "service_interruption", "bill_shock", "late_payment",
                 "complaint", "cancellation"},
    "home": {"lead_form", "new_contract", "service_installation", "invoice_received",
             "contract_ending", "device_malfunction", "device_misconfiguration",
             "quality_degradation", "device_change", *INTERACTIONS, "service_interruption",
             "bill_shock", "late_payment", "complaint", "onsite_resolution", "cancellation"},
}
TEXT_TABLES["nba"] = ALL_MOTS

CONTRACT_PROGRAMS = {"lifecycle", "loyalty", "referral", "upsell_cross_sell", "engagement",
                     "proactive_care", "retention", "nbo", "nba", "children", "students",
                     "seniors", "migration_5g", "migration_fibre", "converged"}


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return load_catalogue()


@pytest.mark.parametrize("program", sorted(TEXT_TABLES))
@pytest.mark.parametrize("line", PRODUCT_LINES)
def test_tabulated_program_acts_on_exactly_the_texts_mots(cat, program: str,  # type: ignore
                                                         line: str) -> None:
    assert set(cat.programs[program].mots[line]) == TEXT_TABLES[program][line]


def test_mot_product_lines_are_the_texts_lists(cat) -> None:  # type: ignore[no-untyped-def]
    for line, expected in ALL_MOTS.items():
        got = {m.id for m in cat.mots.values() if line in m.product_lines}
        assert got == expected, line


def test_every_program_id_of_the_contract_exists(cat) -> None:  # type: ignore[no-untyped-def]
    assert set(cat.programs) == CONTRACT_PROGRAMS
    assert cat.programs["nbo"].kind == cat.programs["nba"].kind == "umbrella"


def test_retention_acts_on_churn_moments_where_they_exist(cat) -> None:  # type: ignore
    retention = cat.programs["retention"].mots
    for line in PRODUCT_LINES:
        assert {"cancellation", "complaint", "service_interruption"} <= set(retention[line])
    assert {"bill_shock", "late_payment", "contract_ending"} <= set(retention["home"])
    assert "device_lease_expiring" in retention["postpaid"]


def test_every_program_mot_has_an_action_of_that_program(cat) -> None:  # type: ignore
    served = {(a.program, line, m) for a in cat.actions.values()
              for line in a.eligibility.product_lines for m in a.mots}
    for p in cat.programs.values():
        if p.kind == "umbrella":
            continue
        for line in PRODUCT_LINES:
            for mot in p.mots[line]:
                assert (p.id, line, mot) in served, (p.id, line, mot)


def test_economics_exist_per_mot_and_line(cat) -> None:  # type: ignore[no-untyped-def]
    for m in cat.mots.values():
        for line in PRODUCT_LINES:
            if line in m.product_lines:
                e = cat.economics(m.id, line)
                assert 0 <= e.p_positive <= 1 and 0 <= e.p_negative <= 1
                assert e.value_positive >= 0 and e.value_negative >= 0
            else:
                with pytest.raises(KeyError):
                    cat.economics(m.id, line)
