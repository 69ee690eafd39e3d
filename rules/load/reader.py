"""Reading YAML values with their location, so every problem names its file and path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

IDENT = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
_DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h|d)$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass
class Problems:
    items: list[str] = field(default_factory=list)

    def add(self, file: str, path: str, message: str) -> None:
        self.items.append(f"{file}: {path or '$'}: {message}")

    def about(self, file: str) -> bool:
        return any(p.startswith(f"{file}: ") for p in self.items)


@dataclass(frozen=True)
class Loc:
    """A place in a catalogue file: `Loc('programs.yaml', 'programs[3]') / 'mots' / 'prepaid'`."""

    file: str
    path: str
    problems: Problems

    def __truediv__(self, key: str | int) -> Loc:
        if isinstance(key, int):
            return Loc(self.file, f"{self.path}[{key}]", self.problems)
        return Loc(self.file, f"{self.path}.{key}" if self.path else key, self.problems)

    def err(self, message: str) -> None:
        self.problems.add(self.file, self.path, message)


def mapping(loc: Loc, node: object, required: Iterable[str] = (),
            optional: Iterable[str] = ()) -> dict[str, object] | None:
    """The node as a dict with only known keys; reports unknown and missing ones."""
    if not isinstance(node, dict):
        loc.err(f"must be a mapping, not {_kind(node)}")
        return None
    required = tuple(required)
    known = set(required) | set(optional)
    for key in node:
        if key not in known:
            loc.err(f"unknown field {key!r} (expected {', '.join(sorted(known))})")
    for key in required:
        if key not in node:
            (loc / key).err("missing")
    return node


def items(loc: Loc, node: object) -> list[tuple[Loc, object]]:
    if not isinstance(node, list):
        loc.err(f"must be a list, not {_kind(node)}")
        return []
    return [(loc / i, v) for i, v in enumerate(node)]


def text(loc: Loc, node: object) -> str | None:
    if not isinstance(node, str) or not node.strip():
        loc.err("must be a non-empty string")
        return None
    return node


def ident(loc: Loc, node: object) -> str | None:
    if not isinstance(node, str) or not IDENT.match(node):
        loc.err(f"{node!r} is not an id (lower case letters, digits, _; up to 64)")
        return None
    return node


def number(loc: Loc, node: object, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> float | None:
    if isinstance(node, bool) or not isinstance(node, int | float) or node != node:
        loc.err(f"must be a number, not {_kind(node)}")
        return None
    if (low is not None and (node < low or (low_open and node == low))) or (
            high is not None and node > high):
        lo = "" if low is None else f"{'above' if low_open else 'at least'} {low:g}"
        hi = "" if high is None else f"at most {high:g}"
        loc.err(f"{node!r} is out of range: must be {' and '.join(s for s in (lo, hi) if s)}")
        return None
    return float(node)


def integer(loc: Loc, node: object, low: int, high: int) -> int | None:
    if isinstance(node, bool) or not isinstance(node, int):
        loc.err(f"must be a whole number, not {_kind(node)}")
        return None
    if not low <= node <= high:
        loc.err(f"{node} is out of range {low}..{high}")
        return None
    return node


def one_of(loc: Loc, node: object, choices: Iterable[str], what: str = "") -> str | None:
    choices = tuple(choices)
    if node not in choices:
        loc.err(f"{what + ' ' if what else ''}{node!r} is not one of {', '.join(choices)}")
        return None
    return node  # type: ignore[return-value]


def unique_list(loc: Loc, node: object, check=ident) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    for at, v in items(loc, node):
        got = check(at, v)
        if got is None:
            continue
        if got in out:
            at.err(f"{got!r} is listed twice")
        else:
            out.append(got)
    return out


def duration(loc: Loc, node: object) -> tuple[int, str] | None:
    """'90s', '10m', '48h', '7d' -> (milliseconds, as written)."""
    m = _DURATION.match(node) if isinstance(node, str) else None
    if m is None:
        loc.err(f"{node!r} is not a duration like 10m, 48h or 7d")
        return None
    return int(m.group(1)) * _UNIT_MS[m.group(2)], node  # type: ignore[return-value]


def _kind(node: object) -> str:
    if node is None:
        return "empty"
    return {dict: "a mapping", list: "a list", str: f"the text {node!r}", bool: "a boolean"}.get(
        type(node), repr(node))


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping instead of keeping the last."""


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable: PyYAML reports it below
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(name: str, data: bytes, problems: Problems) -> object:
    """The document, or None after reporting why it cannot be read."""
    try:
        return yaml.load(data.decode("utf-8"), Loader=_Loader)  # a safe loader
    except UnicodeDecodeError as exc:
        problems.add(name, "$", f"not UTF-8 (byte {exc.start})")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "$"
        problems.add(name, where, f"YAML syntax error: {getattr(exc, 'problem', None) or exc}")
    return None
