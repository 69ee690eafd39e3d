"""`rules show --json` prints the contract's shape; `rules check` takes ARBITER_RULES."""

from __future__ import annotations

import json
import shutil

from rules import PRODUCT_LINES, load_catalogue
from rules.load.files import BUNDLED
from streams.cli.rules import rules_check, rules_show


def test_show_json_has_the_contracts_shape(capsys) -> None:  # type: ignore[no-untyped-def]
    assert rules_show(True) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"mots", "programs", "event_types", "rules_version"}
    cat = load_catalogue()
    assert out["rules_version"] == cat.version
    assert len(out["mots"]) == len(cat.mots) == 28
    for m in out["mots"]:
        assert set(m) == {"id", "name", "product_lines"}
        assert m["product_lines"] and set(m["product_lines"]) <= set(PRODUCT_LINES)
    ids = {m["id"] for m in out["mots"]}
    for p in out["programs"]:
        assert set(p) == {"id", "name", "priority", "mots"}
        assert isinstance(p["priority"], int)
        assert set(p["mots"]) <= set(PRODUCT_LINES)
        assert all(set(v) <= ids for v in p["mots"].values())
    nba = next(p for p in out["programs"] if p["id"] == "nba")
    assert sorted(nba["mots"]["home"]) == sorted(
        m["id"] for m in out["mots"] if "home" in m["product_lines"])
    assert "interaction" in out["event_types"] and "invoice_issued" in out["event_types"]


def test_show_as_text_lists_programs_and_mots(capsys) -> None:  # type: ignore[no-untyped-def]
    assert rules_show(False) == 0
    text = capsys.readouterr().out
    assert "retention (experience, priority 90)" in text
    assert "balance_exhausted" in text and "quiet_after_risk" in text


def test_commands_read_the_catalogue_named_by_the_environment(tmp_path, monkeypatch,  # type: ignore
                                                              capsys) -> None:
    root = tmp_path / "cat"
    shutil.copytree(BUNDLED, root)
    (root / "settings.yaml").write_text("currency: USD\nbill_shock_ratio: 1.5\n"
                                        "history_max_entries: 64\n")
    monkeypatch.setenv("ARBITER_RULES", str(root))
    assert rules_check(None) == 1
    assert rules_show(True) == 1
    err = capsys.readouterr().err
    assert "settings.yaml: currency: currency 'USD' is not one of EUR" in err
    monkeypatch.delenv("ARBITER_RULES")
    assert rules_check(None) == 0
