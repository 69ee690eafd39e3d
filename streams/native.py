"""The compiled build (see setup.py) next to its sources: refuse to run a stale one.

An editable install compiles rules/ and the pipeline's modules in place, and Python imports a
compiled module before its source: after an edit, the old code would run without a word.
"""

from __future__ import annotations

from pathlib import Path

from rules.errors import ArbiterError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rules", "streams")
# Installers write a module's source and its compiled file moments apart, in either order.
SLACK_S = 2.0


class StaleBuild(ArbiterError):
    """A compiled module is older than its source; the old code would run."""

    exit_code = 2


def compiled(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> its compiled file, for the extension modules anywhere in the
    packages (subpackages included: `streams.worker.pipeline`)."""
    out = {}
    for pkg in PACKAGES:
        for so in sorted((root / pkg).rglob("*.so")):
            parts = so.relative_to(root).with_name(so.name.split(".")[0]).parts
            out[".".join(parts)] = so
    return out


def stale(root: Path = ROOT) -> list[str]:
    """The sources edited after their module was compiled, as paths from the project root."""
    out = []
    for name, so in compiled(root).items():
        source = so.with_name(name.rsplit(".", 1)[1] + ".py")  # beside it, same module name
        if source.exists() and source.stat().st_mtime > so.stat().st_mtime + SLACK_S:
            out.append(source.relative_to(root).as_posix())
    return out


def check(root: Path = ROOT) -> None:
    if bad := stale(root):
        raise StaleBuild(
            f"{', '.join(bad)} changed after being compiled, and the old compiled code would "
            f"run: rebuild with `make` (or `pip install -e .`), or delete the *.so files under "
            f"{root}/rules and {root}/streams to run the sources as they are")
