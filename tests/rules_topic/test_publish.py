"""`arbiter rules publish`, `history`, `rollback` against the real Kafka."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rules_kit import arbiter, catalogue_dir

from rules import load_catalogue
from streams import kafka
from streams.rules_topic import topic
from streams.rules_topic.record import Published
from streams.settings import Settings

pytestmark = pytest.mark.integration


async def test_an_invalid_catalogue_is_never_published(settings: Settings,
                                                       tmp_path: Path) -> None:
    bad = catalogue_dir(tmp_path, "bad")
    (bad / "programs.yaml").write_text((bad / "programs.yaml").read_text().replace(
        "    priority: 60\n", "    priority: sixty\n"))
    (bad / "settings.yaml").write_text("bill_shock_ratio: [\n")
    done = arbiter(settings, "rules", "publish", str(bad), "--label", "broken")
    assert done.returncode == 1, done.stderr
    assert "programs.yaml: programs[0].priority:" in done.stderr
    assert "settings.yaml: line" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("not published: ")
    assert settings.topics.rules not in await kafka.list_topics(settings)  # nothing written


async def test_publish_history_and_rollback(settings: Settings, tmp_path: Path) -> None:
    base, changed = load_catalogue(), load_catalogue(catalogue_dir(tmp_path, "c", 10))
    first = arbiter(settings, "rules", "publish", "--label", "baseline")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"published {base.version} at offset 0: baseline")
    second = arbiter(settings, "rules", "publish", str(tmp_path / "c"), "--label", "lc low")
    assert second.returncode == 0, second.stderr
    history = arbiter(settings, "rules", "history", "--json")
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(r["version"], r["label"], r["current"]) for r in rows] == [
        (base.version, "baseline", False), (changed.version, "lc low", True)]
    assert all("@" in r["who"] and r["when"].endswith("Z") for r in rows)

    back = arbiter(settings, "rules", "rollback", base.version)
    assert back.returncode == 0, back.stderr
    entries = await topic.read_all(settings)
    newest = entries[-1][1]
    assert isinstance(newest, Published) and newest.version == base.version
    assert newest.label == f"rollback to {base.version} (baseline)"
    assert newest.catalogue().version == base.version  # loadable from the record alone

    unknown = arbiter(settings, "rules", "rollback", "0123456789ab")
    assert unknown.returncode == 1
    assert "0123456789ab was never published" in unknown.stderr
    assert len(await topic.read_all(settings)) == 3
    readable = arbiter(settings, "rules", "history")
    assert readable.stdout.splitlines()[-1].endswith("<- current")


async def test_an_experiment_needs_its_challenger_published(settings: Settings,
                                                            tmp_path: Path) -> None:
    changed = load_catalogue(catalogue_dir(tmp_path, "c", 10))
    section = ("experiments:\n  - name: lc_low\n    challenger: " + changed.version
               + "\n    challenger_share: 0.2\n    control_share: 0.1\n")
    exp_dir = catalogue_dir(tmp_path, "e", experiments=section)
    early = arbiter(settings, "rules", "publish", str(exp_dir))
    assert early.returncode == 1
    assert f"challenger {changed.version} is not published" in early.stderr
    assert arbiter(settings, "rules", "publish", str(tmp_path / "c")).returncode == 0
    assert arbiter(settings, "rules", "publish", str(exp_dir)).returncode == 0
