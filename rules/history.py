"""A customer's contact history: recent actions and risk moments, as the shell stores them.

Each entry is a short string:
    a|<ts ms>|<program>|<channel>|<1 if commercial else 0>|<action id>   an action taken
    r|<ts ms>|<mot>                                                     a risk moment
Ids never contain '|' or a newline (catalogue ids are [a-z0-9_]).

The shell keeps one Redis string per customer: the entries oldest first, each ended by a
newline, so a decision adds its entries with one APPEND and the next event reads them with
one GET (a list cost Redis a reply element per entry at every event). The string may grow to
twice the `max_entries` kept before the shell rewrites it with the newest `max_entries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from rules.catalogue import Catalogue
    from rules.decision import Decision
    from rules.event import Event


class PastAction:
    """An action taken: when (epoch ms), by which program, on which channel, whether it was a
    commercial offer, and its action id. A plain class: compiled, it is built in C and its
    fields are read without a look-up (a NamedTuple's constructor is Python)."""

    __slots__ = ("action", "channel", "commercial", "program", "ts")

    def __init__(self, ts: int, program: str, channel: str, commercial: bool,
                 action: str) -> None:
        self.ts = ts
        self.program = program
        self.channel = channel
        self.commercial = commercial
        self.action = action

    def __eq__(self, other: object) -> bool:
        return (type(other) is PastAction and self.ts == other.ts
                and self.program == other.program and self.channel == other.channel
                and self.commercial == other.commercial and self.action == other.action)

    def __hash__(self) -> int:
        return hash((self.ts, self.program, self.channel, self.commercial, self.action))

    def __repr__(self) -> str:
        return (f"PastAction(ts={self.ts}, program={self.program!r}, channel={self.channel!r}, "
                f"commercial={self.commercial}, action={self.action!r})")


class PastRisk:
    """A risk moment: when (epoch ms) and which MoT."""

    __slots__ = ("mot", "ts")

    def __init__(self, ts: int, mot: str) -> None:
        self.ts = ts
        self.mot = mot

    def __eq__(self, other: object) -> bool:
        return type(other) is PastRisk and self.ts == other.ts and self.mot == other.mot

    def __hash__(self) -> int:
        return hash((self.ts, self.mot))

    def __repr__(self) -> str:
        return f"PastRisk(ts={self.ts}, mot={self.mot!r})"


class HistoryUpdate:
    """What the shell writes after a decision: `entries` (oldest first) added to the stored
    history, of which the newest `max_entries` count, kept `retain_ms` after the last write.
    `parsed`: the same entries as read back, when the maker has them (history_update), so
    applying the update parses nothing; empty: `entries` are parsed."""

    __slots__ = ("entries", "max_entries", "parsed", "retain_ms")

    def __init__(self, entries: tuple[str, ...], retain_ms: int, max_entries: int,
                 parsed: tuple[PastAction | PastRisk, ...] = ()) -> None:
        self.entries = entries
        self.retain_ms = retain_ms
        self.max_entries = max_entries
        self.parsed = parsed

    def __repr__(self) -> str:
        return (f"HistoryUpdate(entries={self.entries!r}, retain_ms={self.retain_ms}, "
                f"max_entries={self.max_entries})")


@lru_cache(maxsize=65_536)  # a customer's entries are read again at each of their events
def _parse(entry: bytes | str) -> PastAction | PastRisk | None:
    try:
        text = entry.decode("utf-8") if isinstance(entry, bytes | bytearray) else entry
        parts = text.split("|")
        if parts[0] == "a" and len(parts) == 6 and parts[4] in ("0", "1"):
            return PastAction(int(parts[1]), parts[2], parts[3], parts[4] == "1", parts[5])
        if parts[0] == "r" and len(parts) == 3:
            return PastRisk(int(parts[1]), parts[2])
    except (UnicodeDecodeError, ValueError, AttributeError):
        pass
    return None  # unreadable (or written by a newer version): ignored


class History:
    """Entries newest first, and the same split into actions and risk moments."""

    __slots__ = ("actions", "entries", "risks")

    def __init__(self, entries: tuple[PastAction | PastRisk, ...],
                 actions: tuple[PastAction, ...], risks: tuple[PastRisk, ...]) -> None:
        self.entries = entries
        self.actions = actions
        self.risks = risks

    def __eq__(self, other: object) -> bool:
        return (type(other) is History and self.entries == other.entries
                and self.actions == other.actions and self.risks == other.risks)

    def __hash__(self) -> int:
        return hash(self.entries)

    def __repr__(self) -> str:
        return f"History(entries={self.entries!r})"

    @staticmethod
    def of(entries: Sequence[PastAction | PastRisk]) -> History:
        got = tuple(entries)
        actions: list[PastAction] = []
        risks: list[PastRisk] = []
        for e in got:
            if isinstance(e, PastAction):
                actions.append(e)
            else:
                risks.append(e)
        return History(got, tuple(actions), tuple(risks))

    @staticmethod
    def empty() -> History:
        return _EMPTY

    def apply(self, update: HistoryUpdate) -> History:
        """The history after the shell wrote `update`: lets one batch decide a customer's
        events in order without reading Redis again."""
        parsed = update.parsed
        if len(parsed) == 1:  # the common update, one entry: split without lists
            e = parsed[0]
            if isinstance(e, PastAction):
                return History((e,), (e,), ()).before(self, update.max_entries)
            return History((e,), (), (e,)).before(self, update.max_entries)
        if parsed or not update.entries:
            new = list(reversed(parsed))
        else:
            new = [e for e in map(_parse, reversed(update.entries)) if e is not None]
        if not new:
            return self
        return History.of(new).before(self, update.max_entries)

    def before(self, older: History, max_entries: int) -> History:
        """This history's entries, then `older`'s, the newest `max_entries` kept: what
        History.of(...) of them all gives, without splitting the older entries again."""
        if not older.entries:
            return self if len(self.entries) <= max_entries else History.of(
                self.entries[:max_entries])
        entries = self.entries + older.entries
        actions, risks = self.actions + older.actions, self.risks + older.risks
        over = len(entries) - max_entries
        if over > 0:
            if over >= len(older.entries):
                return History.of(entries[:max_entries])
            # The entries dropped are the oldest: the ends of `actions` and `risks`.
            dropped = entries[max_entries:]
            gone = sum(1 for e in dropped if type(e) is PastAction)
            actions = actions[:len(actions) - gone]
            risks = risks[:len(risks) - (over - gone)]
            entries = entries[:max_entries]
        return History(entries, actions, risks)


_EMPTY: Final = History((), (), ())


def decode_history(entries: Sequence[bytes | str]) -> History:
    """Entries newest first -> History; unreadable entries are skipped."""
    if not entries:
        return _EMPTY
    return History.of([e for e in map(_parse, entries) if e is not None])


def decode_stored(stored: bytes, max_entries: int) -> History:
    """The stored string (oldest first, one entry per line) -> History of its newest
    `max_entries` readable entries."""
    if not stored:
        return _EMPTY
    lines = stored.split(b"\n")
    lines.reverse()
    # Parsed through the memo (the last, empty line too): cheaper than stopping at the cap.
    out = [e for e in map(_parse, lines) if e is not None]
    if len(out) > max_entries:
        del out[max_entries:]
    return History.of(out)


def append_stored(history: History, text: bytes, max_entries: int) -> History:
    """The History of a stored string after `text` (whole lines) is appended to it, given
    `history`, what the string read as before (`decode_stored(stored, max_entries)`): the
    same as `decode_stored(stored + text, max_entries)`, parsing only `text`. For a store
    that keeps each customer's history read (streams/simulate/memory.py)."""
    new = decode_stored(text, max_entries)
    if not new.entries:
        return history
    return new.before(history, max_entries)


# How the shell writes a decision's history (stored_write).
KEEP: Final = 0
APPEND: Final = 1
REWRITE: Final = 2


def stored_write(stored_count: int, history: History, update: HistoryUpdate
                 ) -> tuple[int, str, int]:
    """How to write `update` over a stored history of `stored_count` lines that reads as
    `history`: (KEEP, APPEND or REWRITE, the text to append or to store, lines stored after).

    Appending costs Redis one short command; once the stored lines would pass twice
    `max_entries`, the newest `max_entries` are written again instead, so the string stays
    bounded and the rewrite is paid once per `max_entries` entries at most.
    """
    if not update.entries:
        return KEEP, "", stored_count
    count = stored_count + len(update.entries)
    if count <= 2 * update.max_entries:
        return APPEND, "".join([e + "\n" for e in update.entries]), count
    kept = history.apply(update).entries
    return REWRITE, "".join([encode_entry(e) + "\n" for e in reversed(kept)]), len(kept)


def encode_action(ts: int, program: str, channel: str, commercial: bool, action: str) -> str:
    return f"a|{ts}|{program}|{channel}|{1 if commercial else 0}|{action}"


def encode_risk(ts: int, mot: str) -> str:
    return f"r|{ts}|{mot}"


def encode_entry(e: PastAction | PastRisk) -> str:
    if isinstance(e, PastAction):
        return encode_action(e.ts, e.program, e.channel, e.commercial, e.action)
    return encode_risk(e.ts, e.mot)


def history_update(catalogue: Catalogue, event: Event, mots: Sequence[str], decision: Decision,
                   now_ms: int) -> HistoryUpdate:
    """The risk moments the event carried (at the event's time) and the action taken (now)."""
    index = catalogue.index  # its copies of the catalogue's settings: compiled fields
    risky = index.risk_mots
    parsed: list[PastAction | PastRisk] = [PastRisk(event.ts_ms, m) for m in mots if m in risky]
    a = decision.action
    if a is not None:
        parsed.append(PastAction(now_ms, a.program, a.channel, a.commercial, a.id))
    if not parsed:
        return HistoryUpdate((), index.retain_ms, index.max_entries)
    return HistoryUpdate(tuple([encode_entry(e) for e in parsed]), index.retain_ms,
                         index.max_entries, tuple(parsed))
