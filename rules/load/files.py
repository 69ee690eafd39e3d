"""Loading a catalogue directory: read every file, validate all, report every problem at once."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from rules.catalogue import Catalogue
from rules.errors import CatalogueError
from rules.load.actions import parse_actions
from rules.load.checks import check_coverage, check_reachable, interaction_mots, mot_attrs
from rules.load.events import parse_events
from rules.load.experiments import parse_experiments
from rules.load.mots import Settings, parse_mots, parse_settings
from rules.load.outcomes import parse_outcomes
from rules.load.policies import parse_policies
from rules.load.programs import parse_programs
from rules.load.reader import Loc, Problems, parse_yaml
from rules.lookup import Index
from rules.vocab import NBA, NBO

BUNDLED = Path(__file__).resolve().parent.parent / "catalogue"
FILES = ("settings.yaml", "mots.yaml", "events.yaml", "programs.yaml", "actions.yaml",
         "policies.yaml")
OPTIONAL = ("experiments.yaml",)
_DAY_MS = 86_400_000


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    """Parse and validate a catalogue directory (None: the bundled one) into frozen objects.

    Raises CatalogueError listing every problem as `file: path: message`.
    """
    root = BUNDLED if directory is None else Path(directory)
    if not root.is_dir():
        raise CatalogueError([f"{root}: $: catalogue directory not found"])
    problems = Problems()
    return _build(_read(root, problems), problems)


def load_catalogue_files(files: Mapping[str, str | bytes]) -> Catalogue:
    """The same validation over file name -> content held in memory (a published record).

    The same files give the same catalogue and `version` as `load_catalogue` of a directory
    holding them. Raises CatalogueError listing every problem as `file: path: message`.
    """
    problems = Problems()
    raw: dict[str, bytes] = {}
    for name, content in files.items():
        if name not in FILES and name not in OPTIONAL:
            problems.add(str(name), "$", "not a catalogue file (expected "
                         f"{', '.join(FILES + OPTIONAL)})")
        elif not isinstance(content, str | bytes):
            problems.add(name, "$", f"must be the file's text, not {type(content).__name__}")
        else:
            raw[name] = content.encode() if isinstance(content, str) else content
    for name in FILES:
        if name not in files:
            problems.add(name, "$", "file not found")
    return _build(raw, problems)


def read_files(directory: str | Path | None = None) -> dict[str, str]:
    """A catalogue directory's files as text (what a published record carries); the files
    that are not there or not UTF-8 are left out, for the loader to report."""
    root = BUNDLED if directory is None else Path(directory)
    out: dict[str, str] = {}
    for name in FILES + OPTIONAL:
        try:
            out[name] = (root / name).read_bytes().decode()
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _build(raw: dict[str, bytes], problems: Problems) -> Catalogue:
    docs: dict[str, object] = {}
    for name, data in raw.items():
        doc = parse_yaml(name, data, problems)
        if doc is not None or not data.strip():
            docs[name] = doc  # an empty file is read as empty, and reported as such

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
    outcomes = parse_outcomes(at("mots.yaml"), docs["mots.yaml"], events, factor) if (
        mots and events and clean("mots.yaml", "events.yaml")) else MappingProxyType({})
    experiment = parse_experiments(at("experiments.yaml"), docs["experiments.yaml"]) if (
        "experiments.yaml" in docs) else None
    if problems.items:
        raise CatalogueError(problems.items)
    assert settings and mots and events and programs  # else a problem was reported
    assert actions is not None and policies is not None
    # Optional files count only when present: adding none leaves a catalogue's version as it was.
    version = hashlib.sha256(b"".join(
        name.encode() + b"\0" + raw[name] + b"\0" for name in (*FILES, *OPTIONAL)
        if name in raw)).hexdigest()[:12]
    watch: dict[str, int] = {}
    for rule in (r for rules in outcomes.values() for r in rules):
        watch[rule.mot] = max(watch.get(rule.mot, 0), rule.within_ms)
    retain = max((p.window_ms for p in policies.values()), default=_DAY_MS)
    index = Index(mots, programs, actions, policies, events, settings.nbo_rank_by,
                  version=version, retain_ms=retain, max_entries=settings.history_max_entries)
    return Catalogue(version, MappingProxyType(mots), MappingProxyType(programs),
                     MappingProxyType(actions), MappingProxyType(policies),
                     MappingProxyType(events), settings.bill_shock_ratio, retain,
                     settings.history_max_entries, index, experiment, settings.nbo_rank_by,
                     outcomes, MappingProxyType(watch))


def _read(root: Path, problems: Problems) -> dict[str, bytes]:
    """Each file's bytes (the optional ones when present)."""
    raw: dict[str, bytes] = {}
    for name in FILES + OPTIONAL:
        try:
            raw[name] = (root / name).read_bytes()
        except FileNotFoundError:
            if name in FILES:
                problems.add(name, "$", "file not found")
        except OSError as exc:
            problems.add(name, "$", f"cannot read: {exc.strerror}")
    return raw
