"""The worker's garbage-collector settings, applied once it has started.

A full (generation 2) collection walks every tracked object: the imported libraries, the
catalogue and the decision memos. At CPython's default thresholds one ran every ~5 s under
5,000 events/s and took 40-107 ms, growing with the memos: each one stalled every event in
flight, enough by itself to put the 99th percentile over 50 ms. Freezing what exists after
start takes the libraries and catalogue out of those walks; the higher thresholds make young
collections rarer (a batch's objects die young, by reference count) and full ones a matter
of minutes, not seconds. Our objects form few cycles, so little waits for them.
"""

from __future__ import annotations

import gc

THRESHOLDS = (5_000, 20, 1_000)


def settle_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
