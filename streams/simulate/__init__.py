"""`arbiter simulate`: the worker's pipeline over recorded or synthetic events, in one process.

No Kafka and no Redis: the worker's own Pipeline runs with the state in memory
(memory.MemoryStore, the same semantics as the Redis scripts) and the event time as the clock.
"""
