"""The worker after start: the collector and the log levels."""

from __future__ import annotations


def test_the_worker_collector_is_frozen_and_rarely_runs_full_passes() -> None:
    import gc

    from streams.worker.collector import THRESHOLDS, settle_collector

    before = gc.get_threshold()
    try:
        settle_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[2] > before[2]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_startup_spinner_leaves_the_root_logger_at_its_handlers_level() -> None:
    import logging
    import sys

    from faust.utils.terminal import Spinner, SpinnerHandler

    from streams.worker.logs import drop_startup_spinner

    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.WARNING)
    try:
        root.handlers = [stream, SpinnerHandler(Spinner(file=sys.stderr), level=logging.DEBUG)]
        root.setLevel(logging.DEBUG)  # what Faust does at -l warning
        drop_startup_spinner()
        assert root.handlers == [stream]
        assert root.level == logging.WARNING
        assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)

