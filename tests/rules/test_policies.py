"""Each contact policy holds back when its limit is reached and lets go once its window passes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rules import arbitrate, classify, decode_history, load_catalogue, parse_event
from rules.history import encode_action, encode_risk
from rules.policy import _ago_key, ago

T0 = 1_700_000_000_000
M, H, D = 60_000, 3_600_000, 86_400_000


@dataclass(frozen=True)
class Scenario:
    history: list[str]  # entries at offsets from T0
    event: dict[str, object]
    held_at: int  # offset from T0 where the policy holds these actions back ...
    held: tuple[str, ...]
    free_at: int  # ... and the offset where its window has passed
    outcome_when_held: str


def act(at: int, program: str, channel: str, commercial: bool = False) -> str:
    return encode_action(T0 + at, program, channel, commercial, "earlier")


def ev(etype: str, line: str, **extra: object) -> dict[str, object]:
    return {"event_id": f"p-{etype}", "customer_id": "c-7", "type": etype,
            "product_line": line, "ts": 0, **extra}


# Up-sell's package first: NBO puts it forward by value (weight 1.2 against 1.0).
TOP_UP_MOTS = ("up_package_instead", "lc_auto_top_up")
SCENARIOS = {
    "burst_guard": Scenario(
        [act(0, "proactive_care", "email")], ev("balance_exhausted", "prepaid"),
        5 * M, TOP_UP_MOTS, 10 * M, "suppressed"),
    "commercial_daily": Scenario(
        [act(0, "referral", "email", True), act(M, "children", "push", True)],
        ev("balance_exhausted", "prepaid"), 24 * H - 1, TOP_UP_MOTS, 24 * H, "suppressed"),
    "commercial_weekly": Scenario(
        [act(0, "referral", "email", True), act(2 * D, "children", "push", True),
         act(4 * D, "students", "email", True), act(5 * D, "seniors", "push", True)],
        ev("balance_exhausted", "prepaid"), 6 * D, TOP_UP_MOTS, 7 * D, "suppressed"),
    "program_cooldown": Scenario(
        [act(0, "upsell_cross_sell", "email", True)], ev("balance_exhausted", "prepaid"),
        H, ("up_package_instead",), 24 * H, "action"),
    "retention_cooldown": Scenario(
        [act(0, "retention", "sms")], ev("cancellation_requested", "postpaid"),
        48 * H, ("ret_save_call", "ret_save_sms"), 72 * H, "action"),  # lifecycle's win-back
    "sms_weekly": Scenario(
        [act(0, "proactive_care", "sms"), act(D, "proactive_care", "sms"),
         act(2 * D, "proactive_care", "sms")],
        ev("balance_exhausted", "prepaid"), 3 * D, TOP_UP_MOTS, 7 * D, "suppressed"),
    "email_weekly": Scenario(
        [act(0, "lifecycle", "email"), act(D, "lifecycle", "email"),
         act(2 * D, "proactive_care", "email")],
        ev("lead_form_submitted", "home"), 3 * D, ("ref_lead_bonus",), 7 * D, "suppressed"),
    "push_daily": Scenario(
        [act(0, "loyalty", "push"), act(H, "loyalty", "push")],
        ev("addon_activated", "postpaid"), 2 * H, ("up_second_addon", "lc_addon_setup"),
        24 * H, "suppressed"),
    "call_weekly": Scenario(
        [act(0, "proactive_care", "outbound_call")], ev("port_out_requested", "prepaid"),
        2 * D, ("ret_save_call",), 7 * D, "action"),
    "quiet_after_risk": Scenario(
        [encode_risk(T0, "complaint")], ev("balance_exhausted", "prepaid"),
        3 * H, TOP_UP_MOTS, 48 * H, "suppressed"),
}


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return load_catalogue()


def test_every_bundled_policy_has_a_scenario(cat) -> None:  # type: ignore[no-untyped-def]
    assert set(SCENARIOS) == set(cat.policies)


def _decide(cat, s: Scenario, offset: int):  # type: ignore[no-untyped-def]
    event = parse_event({**s.event, "ts": T0 + offset})
    history = decode_history(sorted(s.history, key=lambda e: -int(e.split("|")[1])))
    return arbitrate(cat, event, classify(cat, event), history, T0 + offset)


@pytest.mark.parametrize("policy", sorted(SCENARIOS))
def test_policy_holds_back_at_its_limit_and_lets_go_after_its_window(cat, policy) -> None:  # type: ignore
    s = SCENARIOS[policy]
    held = _decide(cat, s, s.held_at)
    lines = {c.action: c for c in held.candidates}
    for action in s.held:
        assert lines[action].status == "suppressed", lines[action]
        assert lines[action].reason.startswith(f"suppressed by policy {policy}: ")
    assert held.outcome == s.outcome_when_held
    assert held.action is None or held.action.id not in s.held

    free = _decide(cat, s, s.free_at)
    assert free.outcome == "action"
    assert free.action.id == s.held[0]
    assert not any(c.status == "suppressed" for c in free.candidates)


def test_reasons_say_what_was_counted(cat) -> None:  # type: ignore[no-untyped-def]
    s = SCENARIOS["commercial_daily"]
    reason = {c.action: c.reason for c in _decide(cat, s, 2 * H).candidates}[
        "up_package_instead"]
    assert reason == ("suppressed by policy commercial_daily: 2 commercial offers in the last "
                      "24h (limit 2)")
    s = SCENARIOS["program_cooldown"]
    reason = {c.action: c.reason for c in _decide(cat, s, 5 * H).candidates}[
        "up_package_instead"]
    assert reason == ("suppressed by policy program_cooldown: upsell_cross_sell acted 5h ago, "
                      "once per 24h at most")


def test_caps_do_not_hold_back_an_answer_to_the_customer(cat) -> None:  # type: ignore
    # Two sales offers today and an SMS just now: a store visit is still answered.
    history = [act(0, "referral", "sms", True), act(M, "children", "sms", True)]
    s = Scenario(history, ev("interaction", "prepaid", channel="store"), 0, (), 0, "action")
    d = _decide(cat, s, 2 * M)
    assert d.outcome == "action"
    assert d.action.id == "lc_stage_next_step" and d.action.channel == "store"


def test_the_quiet_period_holds_back_answers_too(cat) -> None:  # type: ignore[no-untyped-def]
    s = Scenario([encode_risk(T0, "bill_shock")], ev("interaction", "home", channel="digital"),
                 0, (), 0, "action")
    d = _decide(cat, s, 5 * H)
    lines = {c.action: c for c in d.candidates}
    assert lines["lc_stage_next_step"].status == "suppressed"
    assert "quiet_after_risk: bill_shock 5h ago" in lines["lc_stage_next_step"].reason
    # Experience programs still answer: with no question about offers or the bill (loyalty's
    # points), engagement's tips.
    assert d.action.program == "engagement"


def test_the_events_own_risk_moment_opens_the_quiet_period(cat) -> None:  # type: ignore
    # A home outage after care and lifecycle already acted today: only up-sell's backup
    # router is left, and it is a sales offer at a risk moment.
    history = [act(0, "proactive_care", "email"), act(H, "lifecycle", "email")]
    event = ev("service_outage", "home", attrs={"minutes": 30})
    d = _decide(cat, Scenario(history, event, 0, (), 0, "suppressed"), 3 * H)
    lines = {c.action: c for c in d.candidates}
    assert d.outcome == "suppressed"
    assert lines["up_backup_connection"].reason == (
        "suppressed by policy quiet_after_risk: service_interruption under a minute ago, "
        "no sales offer within 48h")
    assert lines["pc_outage_notice"].reason.startswith("suppressed by policy program_cooldown")


def test_ago_keys_tell_apart_exactly_the_texts_ago_gives() -> None:
    # The checker keeps each reason by _ago_key: two ages share a key only when they share a text.
    ages = sorted({*range(0, 3 * H, 7_919), *range(0, 40 * D, 1_000_003),
                   *(k * u + d for u in (M, H, D) for k in range(1, 70) for d in (-1, 0, 1))})
    by_key: dict[int, str] = {}
    by_text: dict[str, int] = {}
    for ms in ages:
        if ms < 0:
            continue
        key, text = _ago_key(ms), ago(ms)
        assert by_key.setdefault(key, text) == text, ms
        assert by_text.setdefault(text, key) == key, ms


def test_reasons_kept_on_the_rule_read_as_freshly_built_ones() -> None:
    # The same rule met again with another count, age or risk moment gives that one's text,
    # from a new catalogue (nothing kept) and from one that has given the others before.
    def reasons(cat, offsets):  # type: ignore[no-untyped-def]
        out = []
        for name, at in offsets:
            s = SCENARIOS[name]
            for extra in ([], [act(at - 2 * H, "upsell_cross_sell", "sms", True)]):
                s2 = Scenario(s.history + extra, s.event, 0, (), 0, "")
                out.append(tuple(c.reason for c in _decide(cat, s2, at).candidates))
        return out

    offsets = [(name, at) for name in sorted(SCENARIOS)
               for at in (SCENARIOS[name].held_at, SCENARIOS[name].held_at + 3 * H, 5 * H, 26 * H)]
    fresh = {o: reasons(load_catalogue(), [o]) for o in offsets}
    warm = load_catalogue()
    for order in (offsets, offsets[::-1]):
        assert reasons(warm, order) == [r for o in order for r in fresh[o]]
    assert any("suppressed by policy" in r for rs in fresh.values() for r in rs[1])
