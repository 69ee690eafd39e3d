"""The operator's view: a web page, Prometheus metrics and health, fed by the output topics.

A separate process from the workers (`arbiter dashboard`): it reads `nba.metrics`,
`nba.decisions` and `nba.deadletter` as a plain consumer without a group, so it never holds a
worker back. state folds the records into the view, prom exposes it to Prometheus, feed reads
the topics, lookup finds a decision by event or customer, server is the aiohttp app.
"""
