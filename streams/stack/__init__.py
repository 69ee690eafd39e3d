"""The local stack: Apache Kafka (KRaft) and Redis as plain processes on loopback.

`control` starts, stops and reports them (`arbiter stack up|down|status`); `kafka_server`
and `redis_server` write each server's configuration; `server` runs one server process;
`proc` holds the process and port helpers; `worker` runs `arbiter worker` as a child process
for the demo, the bench and the tests alike. It may import `streams.settings` only; the
worker never imports it.
"""
