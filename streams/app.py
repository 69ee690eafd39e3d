"""The Faust app under its contract name: `faust -A streams.app worker` runs the worker.

The app lives in `streams.worker.app`; this module only keeps the name the contract fixes.
"""

from streams.worker.app import app

__all__ = ["app"]
