"""The arbiter's shell: Kafka, Redis, Faust agents, metrics, CLI and the local stack."""
