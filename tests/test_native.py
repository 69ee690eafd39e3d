"""The compiled build: the modules setup.py lists are the ones running, and never stale."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams import native

SETUP = native.ROOT / "setup.py"


def _listed() -> list[str]:
    """COMPILED from setup.py, as module names."""
    tree = ast.parse(SETUP.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            paths = ast.literal_eval(node.value)
            return [p.removesuffix(".py").replace("/", ".") for p in paths]
    raise AssertionError("setup.py has no COMPILED list")


def test_the_listed_modules_are_the_compiled_ones() -> None:
    """In this environment every listed module runs compiled (unless the build was asked to
    stay pure), and nothing else is: a build that fell back to Python would pass unseen."""
    listed = _listed()
    assert "rules.arbitrate" in listed and "streams.worker.pipeline" in listed
    code = ("import importlib, json, sys\n"
            f"mods = {listed!r}\n"
            "print(json.dumps({m: importlib.import_module(m).__file__ for m in mods}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=native.ROOT).stdout
    files = json.loads(out)
    want_compiled = os.environ.get("ARBITER_PURE_PYTHON", "0") == "0"
    for mod, file in files.items():
        assert file.endswith(".so") is want_compiled, (mod, file)
    if want_compiled:
        assert sorted(native.compiled()) == sorted(listed)


def _module(root: Path, pkg: str, name: str, source_age: float, compiled_age: float) -> None:
    (root / pkg).mkdir(parents=True, exist_ok=True)
    py = root / pkg / f"{name}.py"
    so = root / pkg / f"{name}.cpython-311-x86_64-linux-gnu.so"
    py.write_text("x = 1\n")
    so.write_bytes(b"")
    now = time.time()
    os.utime(py, (now - source_age, now - source_age))
    os.utime(so, (now - compiled_age, now - compiled_age))


def test_a_source_edited_after_compiling_is_reported(tmp_path: Path) -> None:
    _module(tmp_path, "rules", "fresh", source_age=100, compiled_age=50)
    _module(tmp_path, "rules", "edited", source_age=10, compiled_age=50)
    _module(tmp_path, "streams", "pipeline", source_age=5, compiled_age=60)
    _module(tmp_path, "streams", "installed", source_age=50, compiled_age=51)  # within slack
    assert native.stale(tmp_path) == ["rules/edited.py", "streams/pipeline.py"]
    with pytest.raises(native.StaleBuild, match=r"rules/edited\.py, streams/pipeline\.py"):
        native.check(tmp_path)


def test_a_stale_module_inside_a_subpackage_is_refused(tmp_path: Path) -> None:
    _module(tmp_path, "streams/worker", "store", source_age=5, compiled_age=60)
    _module(tmp_path, "streams/worker", "emit", source_age=100, compiled_age=60)
    assert sorted(native.compiled(tmp_path)) == ["streams.worker.emit", "streams.worker.store"]
    assert native.stale(tmp_path) == ["streams/worker/store.py"]
    with pytest.raises(native.StaleBuild, match=r"streams/worker/store\.py"):
        native.check(tmp_path)


def test_a_clean_build_is_not_stale(tmp_path: Path) -> None:
    _module(tmp_path, "rules", "event", source_age=100, compiled_age=50)
    (tmp_path / "streams").mkdir()
    assert native.compiled(tmp_path) == {
        "rules.event": tmp_path / "rules" / "event.cpython-311-x86_64-linux-gnu.so"}
    assert native.stale(tmp_path) == []
    native.check(tmp_path)
    assert native.stale() == []  # this checkout's own build


def test_the_cli_refuses_a_stale_build(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli import main as cli

    monkeypatch.setattr(native, "stale", lambda root=native.ROOT: ["rules/event.py"])
    assert cli.main(["rules", "check"]) == 2
    err = capsys.readouterr().err
    assert "rules/event.py changed after being compiled" in err and "make" in err
    monkeypatch.undo()
    assert cli.main(["rules", "check"]) == 0
