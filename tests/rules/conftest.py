"""Make `import rules` mean the package, not this test directory.

tests/ is on sys.path (pytest puts it there for tests/conftest.py), and this directory is
named like the package, so without the repository root on sys.path Python would take it for a
namespace package called `rules`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
_cached = sys.modules.get("rules")
if _cached is not None and getattr(_cached, "__file__", None) is None:
    del sys.modules["rules"]  # a namespace package picked up before this file ran
