"""`arbiter rules publish`, `history` and `rollback`: what operators do with the rules topic."""

from __future__ import annotations

import time
from pathlib import Path

from rules import Catalogue, load_catalogue
from rules.errors import ArbiterError
from rules.load.files import read_files
from streams.rules_topic import topic
from streams.rules_topic.record import Published, new
from streams.settings import Settings


class PublishError(ArbiterError):
    """A publish or rollback that would leave workers with nothing they can load."""


def published(entries: list[topic.Entry]) -> dict[str, Published]:
    """Readable records by version, the newest copy of each."""
    out: dict[str, Published] = {}
    for _, got in entries:
        if isinstance(got, Published):
            out[got.version] = got
    return out


def _check_challenger(cat: Catalogue, known: dict[str, Published]) -> None:
    exp = cat.experiment
    if exp is None:
        return
    if exp.challenger == cat.version:
        raise PublishError(f"experiment {exp.name}: the challenger is this catalogue itself")
    if exp.challenger not in known:
        raise PublishError(f"experiment {exp.name}: challenger {exp.challenger} is not "
                           "published (publish it first; `arbiter rules history` lists them)")


async def publish(settings: Settings, directory: str | Path | None, label: str) -> Published:
    """Validate the directory's catalogue completely, then write it as one record.

    `directory` None: the settings' catalogue (ARBITER_RULES), else the bundled one.
    Raises CatalogueError (every problem; nothing written) or PublishError.
    """
    if directory is None:
        directory = settings.rules_dir
    cat = load_catalogue(directory)
    _check_challenger(cat, published(await topic.read_all(settings)))
    record = new(cat, read_files(directory), label, int(time.time() * 1000))
    record.catalogue()  # the record itself loads, to the same version
    offset = await topic.write(settings, record)
    return _at(record, offset)


async def rollback(settings: Settings, version: str, label: str | None) -> Published:
    """Publish an earlier version's files again: it becomes the newest record."""
    known = published(await topic.read_all(settings))
    old = known.get(version)
    if old is None:
        listed = ", ".join(known) or "none"
        raise PublishError(f"version {version} was never published (published: {listed})")
    cat = old.catalogue()
    _check_challenger(cat, known)
    record = new(cat, dict(old.files), label or f"rollback to {version} ({old.label})",
                 int(time.time() * 1000))
    return _at(record, await topic.write(settings, record))


def _at(record: Published, offset: int) -> Published:
    return Published(record.version, record.label, record.who, record.when_ms, record.files,
                     offset)
