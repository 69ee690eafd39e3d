"""`/metrics`: the dashboard's state as Prometheus text, through prometheus_client.

A custom collector reads the state at scrape time, so the figures are those of the page, and
Prometheus naming holds: base units (seconds), `_total` counters, snake_case labels.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.dashboard.state import DashboardState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY: web.AppKey[CollectorRegistry] = web.AppKey("registry", CollectorRegistry)
QUANTILES = (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"), ("max", "1"))


class ArbiterCollector(Collector):
    def __init__(self, state: DashboardState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state
        yield CounterMetricFamily("arbiter_events", "Events read by the workers", value=s.events_in)
        yield CounterMetricFamily("arbiter_deadletters", "Records sent to the dead-letter topic",
                                  value=s.deadletter)
        yield CounterMetricFamily("arbiter_duplicates",
                                  "Redelivered or repeated events (decision re-emitted)",
                                  value=s.duplicates)
        decisions = CounterMetricFamily("arbiter_decisions", "Decisions per outcome",
                                        labels=["outcome"])
        for outcome, n in sorted(s.outcomes.items()):
            decisions.add_metric([outcome], n)
        yield decisions
        yield from self._actions()
        yield from self._mots()
        yield from self._workers()

    def _actions(self) -> Iterator[Metric]:
        # The metrics record counts actions per program and per channel apart, not per pair:
        # one family each, so that the sum over either label is the number of actions.
        s = self.state
        programs = CounterMetricFamily("arbiter_actions_by_program", "Actions per program",
                                       labels=["program"])
        for p, n in sorted(s.programs.items()):
            programs.add_metric([p], n)
        channels = CounterMetricFamily("arbiter_actions_by_channel", "Actions per channel",
                                       labels=["channel"])
        for c, n in sorted(s.channels.items()):
            channels.add_metric([c], n)
        yield programs
        yield channels
        arms = CounterMetricFamily("arbiter_arm_decisions", "Decisions per experiment arm",
                                   labels=["arm"])
        arm_actions = CounterMetricFamily(
            "arbiter_arm_actions", "Actions per experiment arm (control: would-be, not sent)",
            labels=["arm"])
        for a, n in sorted(s.arm_decisions.items()):
            arms.add_metric([a], n)
            arm_actions.add_metric([a], s.arm_actions.get(a, 0))
        yield arms
        yield arm_actions

    def _mots(self) -> Iterator[Metric]:
        count = GaugeMetricFamily("arbiter_mot_count", "MoTs counted over a rolling window "
                                  "(cluster-wide, from Redis)", labels=["mot", "product_line",
                                                                        "window"])
        value = GaugeMetricFamily("arbiter_mot_value", "Incremental value of a MoT over 30 days, "
                                  "EUR", labels=["mot", "product_line"])
        risk = GaugeMetricFamily("arbiter_mot_risk", "Incremental risk of a MoT over 30 days, EUR",
                                 labels=["mot", "product_line"])
        for e in self.state.mots:
            mot, line = str(e.get("mot")), str(e.get("product_line"))
            counts = e.get("counts")
            if isinstance(counts, dict):
                for window, n in counts.items():
                    count.add_metric([mot, line, str(window)], float(n))
            value.add_metric([mot, line], float(e.get("value") or 0))  # type: ignore[arg-type]
            risk.add_metric([mot, line], float(e.get("risk") or 0))  # type: ignore[arg-type]
        yield from (count, value, risk)

    def _workers(self) -> Iterator[Metric]:
        s = self.state
        now = time.time()
        silent = set(s.silent(now))
        latency = GaugeMetricFamily("arbiter_latency_seconds", "Event in to decision out over "
                                    "the worker's last interval", labels=["worker", "quantile"])
        rate = GaugeMetricFamily("arbiter_events_per_second", "Events in per second over the "
                                 "worker's last interval", labels=["worker"])
        last = GaugeMetricFamily("arbiter_worker_last_report_timestamp_seconds",
                                 "When the worker wrote its newest metrics record",
                                 labels=["worker"])
        up = GaugeMetricFamily("arbiter_worker_up", "1 while the worker reports, 0 once silent "
                               "for 3 intervals", labels=["worker"])
        for w, v in sorted(s.workers.items()):
            for key, q in QUANTILES:
                latency.add_metric([w, q], v.latency_ms.get(key, 0.0) / 1000)
            rate.add_metric([w], v.per_s)
            last.add_metric([w], v.last_ts)
            up.add_metric([w], 0.0 if w in silent else 1.0)
        yield from (latency, rate, last, up)
        yield GaugeMetricFamily("arbiter_workers_reporting", "Workers heard from within 3 "
                                "intervals", value=len(s.workers) - len(silent))
        yield CounterMetricFamily("arbiter_metrics_records", "Metrics records read",
                                  value=s.metrics_records)


def registry(state: DashboardState) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ArbiterCollector(state))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)
