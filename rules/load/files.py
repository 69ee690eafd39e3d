"""Loading a catalogue directory: read every file, validate all, report every problem at once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import MappingProxyType

from rules.errors import CatalogueError
from rules.load.actions import parse_actions
from rules.load.checks import check_coverage, check_reachable, interaction_mots, mot_attrs
from rules.load.events import parse_events
from rules.load.mots import Settings, parse_mots, parse_settings
from rules.load.policies import parse_policies
from rules.load.programs import parse_programs
from rules.load.reader import Loc, Problems, parse_yaml
from rules.lookup import Index
from rules.model import NBA, NBO, Catalogue

BUNDLED = Path(__file__).resolve().parent.parent / "catalogue"
FILES = ("settings.yaml", "mots.yaml", "events.yaml", "programs.yaml", "actions.yaml",
         "policies.yaml")
_DAY_MS = 86_400_000


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    """Parse and validate a catalogue directory (None: the bundled one) into frozen objects.

    Raises CatalogueError listing every problem as `file: path: message`.
    """
    root = BUNDLED if directory is None else Path(directory)
    if not root.is_dir():
        raise CatalogueError([f"{root}: $: catalogue directory not found"])
    problems = Problems()
    raw, docs = _read(root, problems)

    def at(name: str) -> Loc:
        return Loc(name, "", problems)

    def clean(*names: str) -> bool:
        return all(n in docs and not problems.about(n) for n in names)

    # A file that could not be read is skipped, and so are the checks that need what it holds
    # intact: one broken file must not drown the report in follow-on errors.
    settings = parse_settings(at("settings.yaml"), docs["settings.yaml"]) if (
        "settings.yaml" in docs) else None
    factor = (settings or Settings()).factor
    mots = parse_mots(at("mots.yaml"), docs["mots.yaml"]) if "mots.yaml" in docs else None
    events = parse_events(at("events.yaml"), docs["events.yaml"], mots, factor) if (
        "events.yaml" in docs) else None
    programs = parse_programs(at("programs.yaml"), docs["programs.yaml"], mots) if (
        "programs.yaml" in docs) else None
    events_ok = events if clean("events.yaml") else None
    actions = parse_actions(
        at("actions.yaml"), docs["actions.yaml"], programs, clean("programs.yaml"),
        mot_attrs(events_ok) if events_ok else None,
        interaction_mots(events_ok) if events_ok else None,
        frozenset(mots) if mots is not None else None, factor) if "actions.yaml" in docs else None
    policies = parse_policies(at("policies.yaml"), docs["policies.yaml"], programs, mots) if (
        "policies.yaml" in docs) else None
    if mots and events and clean("mots.yaml", "events.yaml"):
        check_reachable(problems, docs["mots.yaml"], mots, events)
    if programs and actions and NBO in programs and NBA in programs and clean(
            "mots.yaml", "programs.yaml", "actions.yaml"):
        check_coverage(problems, docs["programs.yaml"], programs, actions)
    for name, got, what in (("mots.yaml", mots, "MoT"), ("events.yaml", events, "event type"),
                            ("programs.yaml", programs, "program")):
        if got == {} and not problems.items:
            problems.add(name, "$", f"defines no {what}")
    if problems.items:
        raise CatalogueError(problems.items)
    assert settings and mots and events and programs  # else a problem was reported
    assert actions is not None and policies is not None
    version = hashlib.sha256(b"".join(
        name.encode() + b"\0" + raw[name] + b"\0" for name in FILES)).hexdigest()[:12]
    index = Index(mots, programs, actions, policies, events, settings.nbo_rank_by)
    retain = max((p.window_ms for p in policies.values()), default=_DAY_MS)
    return Catalogue(version, MappingProxyType(mots), MappingProxyType(programs),
                     MappingProxyType(actions), MappingProxyType(policies),
                     MappingProxyType(events), settings.bill_shock_ratio, retain,
                     settings.history_max_entries, index, settings.nbo_rank_by)


def _read(root: Path, problems: Problems) -> tuple[dict[str, bytes], dict[str, object]]:
    """Each file's bytes (for the version hash) and its YAML document, when readable."""
    raw: dict[str, bytes] = {}
    docs: dict[str, object] = {}
    for name in FILES:
        try:
            raw[name] = (root / name).read_bytes()
        except FileNotFoundError:
            problems.add(name, "$", "file not found")
            continue
        except OSError as exc:
            problems.add(name, "$", f"cannot read: {exc.strerror}")
            continue
        doc = parse_yaml(name, raw[name], problems)
        if doc is not None or not raw[name].strip():
            docs[name] = doc  # an empty file is read as empty, and reported as such
    return raw, docs
