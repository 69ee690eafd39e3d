"""A broken catalogue reports every problem at once, each with its file and path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rules import CatalogueError, load_catalogue
from rules.load.files import BUNDLED
from streams.cli.rules import rules_check


def broken(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of the bundled catalogue with text replaced (each old text must be there)."""
    root = tmp_path / "catalogue"
    shutil.copytree(BUNDLED, root)
    for name, changes in edits.items():
        path = root / name
        text = path.read_text()
        for old, new in changes:
            assert old in text, (name, old)
            text = text.replace(old, new, 1)
        path.write_text(text)
    return root


def problems(directory: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(directory)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_two_errors_in_two_files_are_both_reported(tmp_path, capsys) -> None:  # type: ignore
    root = broken(tmp_path, {
        "programs.yaml": [("resources_exhausted,\n                device_change",
                           "resources_exausted,\n                device_change")],
        "actions.yaml": [("channel: sms", "channel: carrier_pigeon")],
    })
    got = problems(root)
    assert "programs.yaml: programs[0].mots.prepaid[4]: unknown MoT 'resources_exausted'" in got
    assert ("actions.yaml: actions[0].channel: channel 'carrier_pigeon' is not one of sms, "
            "email, push, outbound_call, store, call_center, telesales, digital, event") in got
    assert len(got) == 2, got
    assert rules_check(str(root)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == got


@pytest.mark.parametrize(("edits", "expected"), [
    ({"mots.yaml": [("p_positive: 0.20", "p_positive: 1.20")]},
     "mots.yaml: mots[0].economics.prepaid.p_positive: 1.2 is out of range: "
     "must be at least 0 and at most 1"),
    ({"mots.yaml": [(", p_negative: 0.25}", "}")]},
     "mots.yaml: mots[1].economics.prepaid.p_negative: missing"),
    ({"mots.yaml": [("      home:     {value_positive: 80",
                     "      fixed:    {value_positive: 80")]},
     "mots.yaml: mots[2].economics: unknown field 'fixed'"),
    ({"programs.yaml": [("prepaid: [new_sim,", "prepaid: [new_contract, new_sim,")]},
     "programs.yaml: programs[0].mots.prepaid[0]: MoT 'new_contract' does not exist on prepaid "
     "(only postpaid, home)"),
    ({"programs.yaml": [("kind: experience\n    priority: 40", "kind: loyal\n    priority: 40")]},
     "programs.yaml: programs[1].kind: kind 'loyal' is not one of commercial, experience, "
     "umbrella"),
    ({"actions.yaml": [("id: lc_second_top_up_bonus", "id: lc_sim_welcome")]},
     "actions.yaml: actions[1].id: duplicate action id 'lc_sim_welcome'"),
    ({"actions.yaml": [("program: lifecycle", "program: lifecylce")]},
     "actions.yaml: actions[0].program: unknown program 'lifecylce'"),
    ({"actions.yaml": [("field: days_left, op: lte", "field: days_lft, op: lte")]},
     "actions.yaml: actions[13].eligibility.when[0].field: unknown attribute 'days_lft' here"),
    ({"actions.yaml": [("field: days_left, op: lte, value: 30",
                        "field: days_left, op: lte, value: thirty")]},
     "actions.yaml: actions[13].eligibility.when[0].value: must be a number"),
    ({"actions.yaml": [("field: minutes, op: gte", "field: minutes, op: in")]},
     "actions.yaml: actions[51].eligibility.when[0].op: 'in' does not apply to number "
     "attribute 'minutes'"),
    ({"actions.yaml": [("mots: [new_sim]\n    channel: sms",
                        "mots: [new_sim]\n    channel: event")]},
     "actions.yaml: actions[0].mots[0]: 'new_sim' is no customer-initiated interaction"),
    ({"actions.yaml": [("weight: 1.0", "weight: 0")]},
     "actions.yaml: actions[0].weight: 0 is out of range: must be above 0 and at most 10"),
    ({"events.yaml": [("op: gte, of: average_amount", "op: greater, of: average_amount")]},
     "events.yaml: event_types[8].mots[1].when[0].op: operator 'greater' is not one of eq, ne, "
     "gt, gte, lt, lte, in, not_in"),
    ({"events.yaml": [("times: bill_shock_ratio", "times: shock_ratio")]},
     "events.yaml: event_types[8].mots[1].when[0].times: 'shock_ratio' is not a catalogue "
     "setting"),
    ({"events.yaml": [("value: malfunction", "value: broken")]},
     "events.yaml: event_types[13].mots[0].when[0].value: 'broken' is not a value of this "
     "attribute (malfunction, misconfiguration)"),
    ({"policies.yaml": [("window: 10m", "window: ten minutes")]},
     "policies.yaml: policies[0].window: 'ten minutes' is not a duration like 10m, 48h or 7d"),
    ({"policies.yaml": [("except_programs: [retention]", "except_programs: [retension]")]},
     "policies.yaml: policies[0].except_programs[0]: unknown program 'retension'"),
    ({"policies.yaml": [("    limit: 2\n", "")]},
     "policies.yaml: policies[1].limit: missing: a cap needs its limit"),
    ({"policies.yaml": [("  - id: burst_guard\n", "  - id: [burst_guard\n")]},
     "policies.yaml: line "),
    ({"settings.yaml": [("bill_shock_ratio: 1.5", "bill_shock_ratio: high")]},
     "settings.yaml: bill_shock_ratio: must be a number, not the text 'high'"),
], ids=lambda v: "" if isinstance(v, dict) else v.split(":")[0] + v.split(":")[1][:40])
def test_each_kind_of_problem_is_named_with_file_and_path(tmp_path, edits, expected) -> None:  # type: ignore
    got = problems(broken(tmp_path, edits))
    assert any(p.startswith(expected) for p in got), got


def test_yaml_problems_name_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = broken(tmp_path, {"programs.yaml": [("    priority: 60\n",
                                                "    priority: 60\n    priority: 61\n")]})
    line = (root / "programs.yaml").read_text().splitlines().index("    priority: 61") + 1
    assert problems(root) == [
        f"programs.yaml: line {line} column 5: YAML syntax error: duplicate key 'priority'"]


def test_a_program_table_entry_without_an_action_is_a_gap(tmp_path) -> None:  # type: ignore
    root = broken(tmp_path, {"actions.yaml": [("mots: [new_sim, first_top_up]",
                                               "mots: [new_sim]")]})
    assert problems(root) == [
        "programs.yaml: programs[10].mots.prepaid[1]: no action of students answers "
        "first_top_up on prepaid (see actions.yaml)"]


def test_a_missing_file_and_a_missing_directory(tmp_path) -> None:  # type: ignore
    root = broken(tmp_path, {})
    (root / "events.yaml").unlink()
    assert problems(root) == ["events.yaml: $: file not found"]
    assert problems(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: $: catalogue directory "
                                              "not found"]


def test_the_bundled_catalogue_checks_clean(capsys) -> None:  # type: ignore[no-untyped-def]
    assert rules_check(None) == 0
    out = capsys.readouterr().out
    cat = load_catalogue()
    assert out.startswith(f"catalogue OK: {len(cat.mots)} MoTs, {len(cat.programs)} programs, ")
    assert f"(version {cat.version})" in out


def test_version_follows_the_content(tmp_path) -> None:  # type: ignore[no-untyped-def]
    same = broken(tmp_path / "a", {})
    changed = broken(tmp_path / "b", {"settings.yaml": [("history_max_entries: 64",
                                                         "history_max_entries: 65")]})
    assert load_catalogue(same).version == load_catalogue().version
    assert load_catalogue(changed).version != load_catalogue().version
    assert load_catalogue(changed).history_max_entries == 65


def test_a_program_with_a_bad_priority_is_one_problem_not_one_per_action(tmp_path) -> None:  # type: ignore
    # Its actions and policies still find the program: no "unknown program" after it.
    root = broken(tmp_path, {"programs.yaml": [("    priority: 60\n", "    priority: high\n")]})
    assert problems(root) == [
        "programs.yaml: programs[0].priority: must be a whole number, not the text 'high'"]
