"""A catalogue loaded from file texts in memory: same validation and version as a directory."""

from __future__ import annotations

import pytest

from rules import CatalogueError, load_catalogue, load_catalogue_files
from rules.load.files import read_files


def test_the_same_files_give_the_same_version_as_the_directory() -> None:
    files = read_files()
    assert set(files) >= {"mots.yaml", "programs.yaml", "actions.yaml"}
    assert load_catalogue_files(files).version == load_catalogue().version


def test_problems_name_file_and_path_and_all_are_reported() -> None:
    files = read_files()
    files["programs.yaml"] = files["programs.yaml"].replace("priority: 60", "priority: high", 1)
    files["settings.yaml"] = "bill_shock_ratio: [\n"
    files["notes.yaml"] = "x: 1"
    del files["policies.yaml"]
    with pytest.raises(CatalogueError) as err:
        load_catalogue_files(files)
    text = "\n".join(err.value.problems)
    assert "programs.yaml: programs[0].priority:" in text
    assert "settings.yaml: line" in text and "YAML syntax error" in text
    assert "notes.yaml: $: not a catalogue file" in text
    assert "policies.yaml: $: file not found" in text


def test_a_changed_file_changes_the_version() -> None:
    files = read_files()
    files["programs.yaml"] = files["programs.yaml"].replace("priority: 60", "priority: 10", 1)
    cat = load_catalogue_files(files)
    assert cat.version != load_catalogue().version
    assert cat.programs["lifecycle"].priority == 10
