"""The `arbiter` command line: the entry point (`main`) and one module per command group.

Each command module gives `configure(parser)` (its argparse subcommand) and `run(args)`; the
entry point turns every `ArbiterError` into one line and its exit code. It may import anything
of `streams` and `rules`; nothing imports it but the console script and `python -m streams.cli`.
"""
