"""`arbiter bench`: the throughput, latency and memory benchmark and its kit.

The phases (`raw`: the aiokafka ceiling; `naive`: a Faust agent the way the docs show it;
the real worker timed by what it writes, `worker`; `latency` at a fixed offered rate), the
run that strings them together (`run`), the report (`command`), and the benchmarks without
I/O (`core`: the decision core alone; `stages`: the worker's pipeline step by step). It may
import `rules`, `streams.worker`, `streams.stack`, `streams.kafka`, `streams.settings` and
`streams.synthetic`; the worker never imports it.
"""
