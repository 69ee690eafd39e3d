"""The stream worker: everything on the route of one event, from the fetched record to the
decision produced.

The Faust app (`app`) and its Faust configuration (`faust_conf`); the poller (`consume`) and
the lanes sharing its backlog, their commits (`lanes`); the per-worker runtime (`runtime`:
clients, metrics timer); one batch through the decision core (`pipeline`); the event codec
and dead letters (`codec`); the Redis store and its Lua scripts (`store`, `scripts`); the
record batches produced (`emit`); counters and the metrics record (`stats`, `metrics`); and
the worker's tuning after start (`collector`, `logs`). It may import `rules`,
`streams.settings`, `streams.kafka` and `streams.native` (the stale-build guard); nothing
else of `streams` (no CLI, bench or local stack), so the worker's route runs downhill.
"""
