"""The core is pure: no Kafka, Redis or asyncio imported, and no clock read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import rules

FORBIDDEN = ("kafka", "aiokafka", "faust", "redis", "asyncio", "time")
CLOCK = re.compile(r"\b(time\.time|time_ns|monotonic|perf_counter|datetime\.now|utcnow|"
                   r"date\.today|datetime\.today|localtime)\b")


def test_importing_rules_loads_no_io_framework() -> None:
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import rules\n"
        "cat = rules.load_catalogue()\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(rules.__file__).parents[1]).stdout
    loaded = json.loads(out)
    assert "rules" in loaded  # the check saw the import happen
    for name in loaded:
        root = name.split(".")[0]
        assert root not in FORBIDDEN, name


def test_rules_sources_never_read_the_clock() -> None:
    sources = list(Path(rules.__file__).parent.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text()
        assert not CLOCK.search(text), path
        assert not re.search(r"^\s*(import|from)\s+(time|asyncio|redis|faust|aiokafka|kafka)\b",
                             text, re.M), path
