"""A seeded synthetic telco event stream: a customer base and the events it produces.

Event types, fields and product lines follow the contract. Everything a single event needs
(weights, attribute choices, the customer base) is precomputed so that generating an
event costs a few microseconds.
"""

from __future__ import annotations

import random
import time
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import orjson

from rules.decision import rfc3339_ms
from rules.vocab import PRODUCT_LINES

REQUIRED_FIELDS = ("event_id", "customer_id", "type", "product_line", "ts")
# A valid event type the contract does not know: it must be decided as no_mot.
UNKNOWN_TYPE = "usage_report"
MAX_EVENT_BYTES = 64 * 1024
BILL_SHOCK_RATIO = 1.5
MALFORMED_KINDS = (
    "not_json",
    "not_object",
    "missing_field",
    "wrong_type",
    "unknown_product_line",
    "too_large",
    "not_utf8",
)

_LINE_MIX = (("prepaid", 0.45), ("postpaid", 0.40), ("home", 0.15))
_LATE_SHARE = 0.02  # events whose ts lags behind the stream, as real feeds do
_RFC3339_SHARE = 0.5  # the rest carry epoch milliseconds
# uuid4 layout: version nibble 4 and the RFC 4122 variant bits.
_UUID_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_BITS = (0x4 << 76) | (0x2 << 62)

Attrs = dict[str, object]
Builder = Callable[[random.Random, "Customer"], tuple[Attrs | None, str | None]]


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    product_line: str
    segments: tuple[str, ...]
    average_amount: float  # usual invoice amount; 0.0 for prepaid


class Population:
    """A customer base: ids, product lines, segments, usual bills and activity levels."""

    def __init__(self, size: int = 10_000, *, seed: int = 0, prefix: str = "c") -> None:
        if size < 1:
            raise ValueError(f"size={size} must be at least 1")
        rng = random.Random(seed)
        width = max(6, len(str(size - 1)))
        self.customers: list[Customer] = [
            _customer(rng, f"{prefix}{i:0{width}d}") for i in range(size)
        ]
        # A fifth of the base is busy: it appears four times in the pool, about half the events.
        self._pool = [
            i for i in range(size) for _ in range(4 if rng.random() < 0.2 else 1)
        ]

    def __len__(self) -> int:
        return len(self.customers)

    def __getitem__(self, index: int) -> Customer:
        return self.customers[index]

    def pick(self, rng: random.Random) -> Customer:
        pool = self._pool
        return self.customers[pool[int(rng.random() * len(pool))]]

    def shares(self) -> dict[str, float]:
        """Share of customers per product line."""
        counts = dict.fromkeys(PRODUCT_LINES, 0)
        for c in self.customers:
            counts[c.product_line] += 1
        return {line: n / len(self.customers) for line, n in counts.items()}


# Segments and product holdings, in shares typical of a European operator with mobile and
# home lines (the segment and product programs' audiences; actions.yaml names them):
# - age and life stage, one at most: students (14 % of prepaid, 6 % of the others), seniors
#   (16 %), and account holders with children (4 % of prepaid, 14 % of the others);
# - `5g_ready`: a mobile customer still on a 4G plan whose phone can use 5G (30 %);
# - `fibre_area`: a home customer on copper broadband at an address fibre reaches (35 %);
# - `converged`: a postpaid or home customer who holds both mobile and home with us (25 %);
#   the others are mobile-only or home-only, the converged offers' audience;
# - `high_value` (10 % of postpaid) and `churn_risk` (6 %), as a value and a churn model flag.
def _customer(rng: random.Random, cid: str) -> Customer:
    r = rng.random()
    line = "prepaid" if r < 0.45 else "postpaid" if r < 0.85 else "home"
    segments: list[str] = []
    age = rng.random()
    students, children = (0.14, 0.04) if line == "prepaid" else (0.06, 0.14)
    if age < students:
        segments.append("students")
    elif age < students + 0.16:
        segments.append("seniors")
    elif age < students + 0.16 + children:
        segments.append("children")
    if line != "home" and rng.random() < 0.30:
        segments.append("5g_ready")
    if line == "home" and rng.random() < 0.35:
        segments.append("fibre_area")
    if line == "postpaid" and rng.random() < 0.10:
        segments.append("high_value")
    if rng.random() < 0.06:  # what a churn model would flag: retention answers these first
        segments.append("churn_risk")
    if line != "prepaid" and rng.random() < 0.25:
        segments.append("converged")
    average = 0.0 if line == "prepaid" else round(rng.uniform(15.0, 80.0), 2)
    return Customer(cid, line, tuple(segments), average)


@lru_cache(maxsize=8)
def _population(size: int) -> Population:
    return Population(size)


# --- attribute builders, one per event type -------------------------------------------

def _weighted(pairs: tuple[tuple[str, float], ...]) -> Callable[[random.Random], str]:
    names = [n for n, _ in pairs]
    cum: list[float] = []
    total = 0.0
    for _, w in pairs:
        total += w
        cum.append(total)
    return lambda rng: names[bisect(cum, rng.random() * total)]


_channel = _weighted((("digital", 40), ("call_center", 35), ("store", 15), ("telesales", 10)))
_resource = _weighted((("data", 70), ("voice", 20), ("sms", 10)))
_fault = _weighted((("malfunction", 65), ("misconfiguration", 35)))
_PACKAGES = ("data_1gb", "data_5gb", "data_20gb", "voice_100", "sms_500", "combo_weekly")
_ADDONS = ("esim_wearable", "roaming_pack", "extra_data", "music_streaming", "tv_streaming")
_DEVICES = ("phone_a15", "phone_s24", "phone_p8", "phone_x12", "phone_z5")
_HOME_DEVICES = ("router", "tv_box", "ont")
_METRICS = ("download_mbps", "latency_ms", "packet_loss", "wifi_signal")
_TOPICS = ("billing", "network", "service", "device", "staff")
_REASONS = ("billing", "offer", "technical", "general")
_SERVICES = ("broadband", "tv", "fixed_voice")


def _top_up(rng: random.Random, c: Customer) -> tuple[Attrs, None]:
    amount = (5, 10, 15, 20, 25, 30, 50)[int(rng.random() * 7)]
    return {"amount": amount, "first": rng.random() < 0.03}, None


def _package(rng: random.Random, c: Customer) -> tuple[Attrs, None]:
    package = _PACKAGES[int(rng.random() * len(_PACKAGES))]
    return {"package": package, "first": rng.random() < 0.03}, None


def _invoice(rng: random.Random, c: Customer) -> tuple[Attrs, None]:
    average = c.average_amount
    first = rng.random() < 0.03
    r = rng.random()
    # 1.55 rather than 1.5 keeps shocks above the ratio after rounding to cents.
    factor = rng.uniform(1.55, 3.0) if r < 0.05 and not first else rng.uniform(0.8, 1.3)
    return {"first": first, "amount": round(average * factor, 2), "average_amount": average,
            "currency": "EUR"}, None


# Seniors talk to a person more, students write from the app.
_channel_seniors = _weighted((("digital", 15), ("call_center", 45), ("store", 30),
                              ("telesales", 10)))
_channel_students = _weighted((("digital", 65), ("call_center", 15), ("store", 15),
                               ("telesales", 5)))


def _interaction(rng: random.Random, c: Customer) -> tuple[Attrs, str]:
    segs = c.segments
    pick = (_channel_seniors if "seniors" in segs else _channel_students if "students" in segs
            else _channel)
    return {"reason": _REASONS[int(rng.random() * 4)]}, pick(rng)


def _complaint(rng: random.Random, c: Customer) -> tuple[Attrs, str | None]:
    channel = ("call_center", "digital", "store", None)[int(rng.random() * 4)]
    return {"topic": _TOPICS[int(rng.random() * len(_TOPICS))]}, channel


def _device_fault(rng: random.Random, c: Customer) -> tuple[Attrs, None]:
    device = _HOME_DEVICES[int(rng.random() * 3)] if c.product_line == "home" else "phone"
    return {"kind": _fault(rng), "device": device}, None


def _outage(rng: random.Random, c: Customer) -> tuple[Attrs, None]:
    return {"minutes": min(1440, 5 + int(rng.expovariate(1 / 60)))}, None


def _const(attrs: Callable[[random.Random], Attrs | None], channel: str | None = None) -> Builder:
    return lambda rng, c: (attrs(rng), channel)


def _pick(options: tuple[object, ...]) -> Callable[[random.Random], object]:
    return lambda rng: options[int(rng.random() * len(options))]


_device = _pick(_DEVICES)
_BUILDERS: dict[str, Builder] = {
    "top_up": _top_up,
    "package_purchased": _package,
    "balance_exhausted": _const(lambda r: {"balance": round(r.random() * 0.5, 2)}),
    "package_expired": _const(lambda r: {"package": _PACKAGES[int(r.random() * 6)]}),
    "allowance_exhausted": _const(lambda r: {"resource": _resource(r)}),
    "sim_activated": _const(lambda r: {"first_use": ("call", "data", "sms")[int(r.random() * 3)]}),
    "contract_signed": _const(lambda r: {"months": (12, 24)[int(r.random() * 2)]}),
    "invoice_issued": _invoice,
    "contract_ending": _const(lambda r: {"days_left": 1 + int(r.random() * 90)}),
    "addon_activated": _const(lambda r: {"addon": _ADDONS[int(r.random() * len(_ADDONS))]}),
    "device_lease_expiring": _const(lambda r: {"days_left": 1 + int(r.random() * 60)}),
    "device_lost": _const(lambda r: None),
    "device_fault": _device_fault,
    "device_changed": _const(lambda r: {"model": _device(r)}),
    "device_upgrade_due": _const(lambda r: {"months_owned": 24 + int(r.random() * 16)}),
    "installation_completed": _const(lambda r: {"service": _SERVICES[int(r.random() * 3)]}),
    "quality_degraded": _const(lambda r: {"metric": _METRICS[int(r.random() * 4)]}),
    "technician_visit": _const(lambda r: {"resolved": r.random() < 0.85}),
    "interaction": _interaction,
    "service_outage": _outage,
    "complaint_submitted": _complaint,
    "payment_overdue": _const(lambda r: {"days_overdue": 1 + int(r.random() * 60)}),
    "port_out_requested": _const(lambda r: None),
    "cancellation_requested": _const(
        lambda r: {"reason": ("price", "quality", "moving", "other")[int(r.random() * 4)]}),
    "lead_form_submitted": _const(
        lambda r: {"interest": ("fibre", "5g_plan", "tv", "device")[int(r.random() * 4)]},
        "digital"),
    UNKNOWN_TYPE: _const(lambda r: {"data_mb": int(r.random() * 5000)}),
}

# Relative frequency of each event type per product line.
_COMMON = {
    "interaction": 15, "complaint_submitted": 2.5, "device_changed": 2, "lead_form_submitted": 1.2,
    "service_outage": 1, "port_out_requested": 0.4, "cancellation_requested": 0.4,
    UNKNOWN_TYPE: 1.5,
}
_WEIGHTS: dict[str, dict[str, float]] = {
    "prepaid": {
        **_COMMON, "top_up": 22, "package_purchased": 18, "balance_exhausted": 8,
        "package_expired": 9, "allowance_exhausted": 8, "sim_activated": 1,
    },
    "postpaid": {
        **_COMMON, "invoice_issued": 14, "allowance_exhausted": 10, "contract_ending": 4,
        "addon_activated": 4, "device_lease_expiring": 2, "device_lost": 0.8, "device_fault": 3,
        "device_upgrade_due": 2, "payment_overdue": 3, "contract_signed": 1,
    },
    "home": {
        **_COMMON, "invoice_issued": 14, "quality_degraded": 8, "service_outage": 6,
        "installation_completed": 3, "technician_visit": 4, "contract_ending": 3,
        "contract_signed": 1, "device_fault": 4, "payment_overdue": 2, "device_changed": 1,
    },
}


class _TypeTable:
    """Weighted choice of an event type for one product line."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.types = list(weights)
        self.cum: list[float] = []
        total = 0.0
        for w in weights.values():
            total += w
            self.cum.append(total)
        self.total = total

    def pick(self, rng: random.Random) -> str:
        return self.types[bisect(self.cum, rng.random() * self.total)]


_TABLES = {line: _TypeTable(w) for line, w in _WEIGHTS.items()}

# How a segment or holding shifts a customer's events (a factor on the type's weight):
# students buy SIMs and packages, seniors call and have devices fixed, families add watches
# and e-SIMs, 5G-ready phones run out of data, copper lines degrade and fail.
_SHIFTS: dict[str, dict[str, float]] = {
    "students": {"sim_activated": 3.0, "package_purchased": 1.5, "top_up": 1.3,
                 "lead_form_submitted": 1.5, "contract_signed": 1.5},
    "seniors": {"interaction": 1.4, "device_fault": 1.5, "allowance_exhausted": 0.5},
    "children": {"addon_activated": 2.5, "device_changed": 1.3},
    "5g_ready": {"allowance_exhausted": 1.5, "device_upgrade_due": 1.3},
    "fibre_area": {"quality_degraded": 1.8, "service_outage": 1.3, "technician_visit": 1.3},
}
_SHIFTED: dict[tuple[str, tuple[str, ...]], _TypeTable] = {}


def _types(c: Customer) -> _TypeTable:
    """The customer's event-type table: its product line's, shifted by its segments."""
    key = (c.product_line, c.segments)
    table = _SHIFTED.get(key)
    if table is None:
        weights = dict(_WEIGHTS[c.product_line])
        for seg in c.segments:
            for etype, factor in _SHIFTS.get(seg, {}).items():
                if etype in weights:
                    weights[etype] *= factor
        table = _SHIFTED[key] = _TypeTable(weights)
    return table


def event_types() -> set[str]:
    """Every type the generator may emit, the deliberate unknown one included."""
    return set(_BUILDERS)


class _Generator:
    def __init__(self, seed: int | None, customers: int | Population,
                 start_ms: int | None, step_ms: float) -> None:
        self.rng = random.Random(seed)
        self.population = customers if isinstance(customers, Population) else _population(customers)
        self.start_ms = start_ms
        self.step_ms = step_ms
        self.ms = 0

    def event(self, i: int) -> dict[str, object]:
        rng = self.rng
        c = self.population.pick(rng)
        etype = _types(c).pick(rng)
        attrs, channel = _BUILDERS[etype](rng, c)
        ev: dict[str, object] = {
            "event_id": f"{(rng.getrandbits(128) & _UUID_MASK) | _UUID_BITS:032x}",
            "customer_id": c.id,
            "type": etype,
            "product_line": c.product_line,
            "ts": self._ts(i),
        }
        if channel is not None:
            ev["channel"] = channel
        if c.segments:
            ev["segments"] = list(c.segments)
        if attrs is not None:
            ev["attrs"] = attrs
        return ev

    def _ts(self, i: int) -> int | str:
        rng = self.rng
        if self.start_ms is None:
            ms = int(time.time() * 1000)  # live clock: ts tracks when the event is sent
        else:
            ms = self.start_ms + int(i * self.step_ms)
        if rng.random() < _LATE_SHARE:
            ms -= 1000 + int(rng.random() * 299_000)
        self.ms = ms  # the last event's time, whichever form its ts takes
        return rfc3339_ms(ms) if rng.random() < _RFC3339_SHARE else ms


def events(count: int | None, *, seed: int | None = None, customers: int | Population = 10_000,
           start_ms: int | None = None, step_ms: float = 1.0) -> Iterator[dict[str, object]]:
    """Yield `count` valid events (endless when None).

    The same seed and `start_ms` give the same events. Without `start_ms` every ts is the
    wall clock at generation time; with it, event i is at `start_ms + i * step_ms`. Without a
    seed the ids are fresh each run, so a second send is not dropped as duplicates.
    An int `customers` means the default customer base of that size (seed 0, ids c000000...).
    """
    gen = _Generator(seed, customers, start_ms, step_ms)
    i = 0
    while count is None or i < count:
        yield gen.event(i)
        i += 1


def timed_events(count: int, *, seed: int | None = None, customers: int | Population = 10_000,
                 start_ms: int, step_ms: float = 1.0) -> Iterator[tuple[int, dict[str, object]]]:
    """`events(...)`, each with its ts in epoch ms (what parse_ts reads from its `ts`)."""
    gen = _Generator(seed, customers, start_ms, step_ms)
    for i in range(count):
        ev = gen.event(i)
        yield gen.ms, ev


def records(count: int | None, *, seed: int | None = None, customers: int | Population = 10_000,
            malformed_ratio: float = 0.0, start_ms: int | None = None,
            step_ms: float = 1.0) -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, value) pairs: customer id and encoded event, with some invalid values mixed in.

    A share `malformed_ratio` of the values is replaced by an invalid record of a random kind
    (see MALFORMED_KINDS); its key is still the customer id of the event it was made from.
    """
    if not 0.0 <= malformed_ratio <= 1.0:
        raise ValueError(f"malformed_ratio={malformed_ratio} must be between 0 and 1")
    gen = _Generator(seed, customers, start_ms, step_ms)
    rng = gen.rng
    dumps = orjson.dumps
    i = 0
    while count is None or i < count:
        ev = gen.event(i)
        key = str(ev["customer_id"]).encode()
        if malformed_ratio and rng.random() < malformed_ratio:
            kind = MALFORMED_KINDS[int(rng.random() * len(MALFORMED_KINDS))]
            yield key, malformed(kind, ev, rng)
        else:
            yield key, dumps(ev)
        i += 1


# --- invalid records ------------------------------------------------------------------

_PADDING = "x" * (MAX_EVENT_BYTES + 512)
_WRONG_TYPES: tuple[tuple[str, object], ...] = (
    ("event_id", 12345),
    ("customer_id", 42),
    ("type", ["top_up"]),
    ("product_line", 3),
    ("ts", {"ms": 1_700_000_000_000}),
    ("ts", [2024, 1, 1]),
)
_NOT_OBJECTS: tuple[object, ...] = ("an event", 42, None)


def malformed(kind: str, ev: dict[str, object], rng: random.Random) -> bytes:
    """An invalid record of `kind` made from the valid event `ev`."""
    body = orjson.dumps(ev)
    if kind == "not_json":
        return body[: len(body) // 2]  # an object cut before its closing brace
    if kind == "not_object":
        options = ([ev], *_NOT_OBJECTS)
        return orjson.dumps(options[int(rng.random() * len(options))])
    bad = dict(ev)
    if kind == "missing_field":
        del bad[REQUIRED_FIELDS[int(rng.random() * len(REQUIRED_FIELDS))]]
    elif kind == "wrong_type":
        name, value = _WRONG_TYPES[int(rng.random() * len(_WRONG_TYPES))]
        bad[name] = value
    elif kind == "unknown_product_line":
        bad["product_line"] = ("satellite", "wholesale", "iot")[int(rng.random() * 3)]
    elif kind == "too_large":
        bad["attrs"] = {"blob": _PADDING}
    elif kind == "not_utf8":
        # Valid JSON structure, but a string holds bytes that are not UTF-8.
        return body.replace(b'"type":"', b'"type":"\xff\xfe', 1)
    else:
        raise ValueError(f"unknown malformed kind {kind!r}; expected one of {MALFORMED_KINDS}")
    return orjson.dumps(bad)


def malformed_samples() -> list[tuple[str, bytes]]:
    """One (kind, raw bytes) per invalid kind, deterministic, for tests."""
    ev = next(events(1, seed=7, start_ms=1_700_000_000_000))
    rng = random.Random(7)
    return [(kind, malformed(kind, ev, rng)) for kind in MALFORMED_KINDS]
