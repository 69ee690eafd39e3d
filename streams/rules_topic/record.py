"""One published catalogue as a record of the rules topic: its files, version, label, who, when.

Value (JSON): {"version": "3fa2c1d0e9ab", "label": "...", "who": "user@host",
"when": "2025-06-15T15:06:40.250Z", "when_ms": 1750000000250, "files": {"mots.yaml": "...",
...}}. Key: the version, so compaction keeps the newest copy of each version.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from rules import Catalogue, CatalogueError, load_catalogue_files
from rules.decision import rfc3339_ms
from rules.errors import ArbiterError


class RecordError(ArbiterError):
    """A rules-topic record that is not a published catalogue (the message says why)."""


@dataclass(frozen=True, slots=True)
class Published:
    version: str
    label: str
    who: str
    when_ms: int
    files: MappingProxyType[str, str]
    offset: int = -1  # where it sits on the topic (-1: not read from it)

    def encode(self) -> bytes:
        return orjson.dumps({"version": self.version, "label": self.label, "who": self.who,
                             "when": rfc3339_ms(self.when_ms), "when_ms": self.when_ms,
                             "files": dict(self.files)})

    def catalogue(self) -> Catalogue:
        """The catalogue its files hold, validated as a directory would be.

        Raises RecordError when the files do not load (every problem listed) or do not hash to
        the version the record claims.
        """
        try:
            cat = load_catalogue_files(self.files)
        except CatalogueError as exc:
            raise RecordError(f"version {self.version} does not load: "
                              + "; ".join(exc.problems)) from None
        if cat.version != self.version:
            raise RecordError(f"record claims version {self.version} but its files are "
                              f"version {cat.version}")
        return cat


def new(cat: Catalogue, files: dict[str, str], label: str, now_ms: int) -> Published:
    return Published(cat.version, label, who(), now_ms, MappingProxyType(dict(files)))


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def decode(value: bytes | None, offset: int = -1) -> Published:
    """A record's value as Published; RecordError naming what is wrong."""
    if value is None:
        raise RecordError(f"offset {offset}: empty record (a deletion marker)")
    try:
        doc: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"offset {offset}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise RecordError(f"offset {offset}: not a JSON object")
    for name, kind in (("version", str), ("label", str), ("who", str), ("when_ms", int),
                       ("files", dict)):
        if not isinstance(doc.get(name), kind) or isinstance(doc.get(name), bool):
            raise RecordError(f"offset {offset}: field {name!r} missing or not a "
                              f"{kind.__name__}")
    files = doc["files"]
    bad = [k for k, v in files.items() if not isinstance(v, str)]
    if bad:
        raise RecordError(f"offset {offset}: files {bad} are not text")
    return Published(doc["version"], doc["label"], doc["who"], doc["when_ms"],
                     MappingProxyType(files), offset)
