"""The core is pure: nothing of the shell, Kafka, Redis or asyncio imported, no clock read,
and no import circle among its modules."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import rules

FORBIDDEN = ("streams", "kafka", "aiokafka", "faust", "redis", "asyncio", "time")
CLOCK = re.compile(r"\b(time\.time|time_ns|monotonic|perf_counter|datetime\.now|utcnow|"
                   r"date\.today|datetime\.today|localtime)\b")


def test_importing_rules_loads_no_io_framework() -> None:
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import pkgutil, importlib, rules\n"
        "for m in pkgutil.walk_packages(rules.__path__, 'rules.'):\n"
        "    importlib.import_module(m.name)\n"
        "cat = rules.load_catalogue()\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(rules.__file__).parents[1]).stdout
    loaded = json.loads(out)
    assert {"rules", "rules.vocab", "rules.catalogue", "rules.load.files"} <= set(loaded)
    for name in loaded:
        root = name.split(".")[0]
        assert root not in FORBIDDEN, name


def test_rules_sources_never_read_the_clock() -> None:
    sources = list(Path(rules.__file__).parent.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text()
        assert not CLOCK.search(text), path
        assert not re.search(
            r"^\s*(import|from)\s+(time|asyncio|redis|faust|aiokafka|kafka|streams)\b",
            text, re.M), path


def _imports(path: Path) -> set[str]:
    """The rules modules a source imports (TYPE_CHECKING imports included: a circle there is
    still a circle for a reader)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rules"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rules"))
    return found


def test_rules_modules_import_without_a_circle() -> None:
    root = Path(rules.__file__).parents[1]
    graph = {}
    for path in Path(rules.__file__).parent.rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = {m for m in _imports(path) if m != name}
    assert "rules.vocab" in graph and graph["rules.vocab"] == set()
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail, name))
        if name in done or name == "rules":  # the package's face re-exports; nothing imports it
            return
        for dep in graph.get(name, ()):
            visit(dep, (*trail, name))
        done.add(name)

    for name in graph:
        if name != "rules":
            visit(name, ())
