"""The stored form of a contact history: one string, appended to, rewritten when it grows."""

from __future__ import annotations

import random

from rules import History, HistoryUpdate, decode_history, decode_stored, stored_write
from rules.history import APPEND, KEEP, REWRITE, PastAction, append_stored, encode_entry


def _stored(*entries: str) -> bytes:
    return "".join(e + "\n" for e in entries).encode()


def test_decode_stored_reads_newest_first_and_keeps_the_newest_max() -> None:
    stored = _stored("a|1|lifecycle|sms|1|lc_a", "garbage", "r|2|complaint",
                     "a|3|retention|push|0|rt_b", "r|4|bill_shock")
    h = decode_stored(stored, 10)
    assert [e.ts for e in h.entries] == [4, 3, 2, 1]  # the unreadable line skipped
    assert h == decode_history(list(reversed(stored.split(b"\n")[:-1])))
    assert [e.ts for e in decode_stored(stored, 2).entries] == [4, 3]
    assert decode_stored(b"", 10) is History.empty()


def test_nothing_to_write_keeps_the_stored_history() -> None:
    assert stored_write(7, History.empty(), HistoryUpdate((), 1000, 4)) == (KEEP, "", 7)


def test_entries_are_appended_oldest_first_while_under_twice_the_cap() -> None:
    update = HistoryUpdate(("r|5|churn", "a|6|retention|sms|1|rt_a"), 1000, 4)
    mode, text, lines = stored_write(6, History.empty(), update)
    assert (mode, lines) == (APPEND, 8)
    assert text == "r|5|churn\na|6|retention|sms|1|rt_a\n"
    # What was stored plus the text reads as the history with the update applied.
    before = _stored("r|1|a", "r|2|b", "r|3|c")
    history = decode_stored(before, 4)
    assert decode_stored(before + text.encode(), 4) == history.apply(update)


def test_past_twice_the_cap_the_newest_cap_are_written_again() -> None:
    before = _stored(*(f"r|{t}|m{t}" for t in range(1, 9)))  # 8 lines: twice a cap of 4
    history = decode_stored(before, 4)
    update = HistoryUpdate(("a|9|loyalty|email|0|ly_x",), 1000, 4)
    mode, text, lines = stored_write(8, history, update)
    assert (mode, lines) == (REWRITE, 4)
    assert text == "r|6|m6\nr|7|m7\nr|8|m8\na|9|loyalty|email|0|ly_x\n"
    assert decode_stored(text.encode(), 4) == history.apply(update)


def test_entries_encode_back_to_what_was_read() -> None:
    lines = ["a|17|upsell_cross_sell|digital|1|uc_5g", "r|18|service_interruption"]
    assert [encode_entry(e) for e in decode_history(lines).entries] == lines


def test_appending_reads_as_decoding_the_whole_string_again() -> None:
    """append_stored (and History.apply) over random appends, rewrites, unreadable lines and
    caps: always what decode_stored of the whole stored string reads."""
    rng = random.Random(5)
    kinds = ("a|{}|p{}|sms|1|x{}", "a|{}|p{}|push|0|y{}", "r|{}|m{}", "garbage{}{}{}")
    for cap in (1, 2, 3, 5, 8):
        stored, history = b"", History.empty()
        t = 0
        for _ in range(60):
            lines = []
            for _ in range(rng.randrange(0, cap + 3)):
                t += 1
                lines.append(rng.choice(kinds).format(t, rng.randrange(3), rng.randrange(3)))
            text = _stored(*lines)
            update = HistoryUpdate(tuple(lines), 1000, cap)
            applied = history.apply(update)
            stored += text
            history = append_stored(history, text, cap)
            assert history == decode_stored(stored, cap)
            assert applied == history
            assert history.actions == tuple(e for e in history.entries
                                            if isinstance(e, PastAction))


def test_an_update_applies_its_own_entries_as_their_text_reads() -> None:
    """history_update hands the entries it encodes already read (`parsed`): applying them is
    what parsing the text gives, over the bundled catalogue's decisions of a synthetic day."""
    from rules import arbitrate, classify, history_update, load_catalogue
    from rules.event import parse_event
    from streams.synthetic import events

    cat = load_catalogue()
    histories: dict[str, History] = {}
    applied = 0
    for i, raw in enumerate(events(3_000, customers=200, seed=11, start_ms=1_700_000_000_000,
                                   step_ms=60_000)):
        ev = parse_event(raw)
        mots = classify(cat, ev)
        before = histories.get(ev.customer_id, History.empty())
        decision = arbitrate(cat, ev, mots, before, ev.ts_ms + i)
        update = history_update(cat, ev, mots, decision, ev.ts_ms + i)
        assert len(update.parsed) == len(update.entries)
        assert [encode_entry(e) for e in update.parsed] == list(update.entries)
        after = before.apply(update)
        unparsed = HistoryUpdate(update.entries, update.retain_ms, update.max_entries)
        assert after == before.apply(unparsed)
        applied += bool(update.entries)
        histories[ev.customer_id] = after
    assert applied > 1_000  # most events wrote something: the comparison had work
