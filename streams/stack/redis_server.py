"""Redis for the local stack: the machine's redis-server, in memory only, on loopback."""

from __future__ import annotations

from pathlib import Path

from streams.stack.proc import LOOPBACK


def write_config(home: Path, port: int, extra: tuple[str, ...] = ()) -> Path:
    """The server's config; `extra` lines are added (a cluster node's, for one)."""
    config = home / "redis.conf"
    config.write_text("\n".join([
        f"bind {LOOPBACK}", f"port {port}", 'save ""', "appendonly no", "daemonize no",
        f"dir {home}", f"logfile {home / 'redis.log'}", *extra,
        # Redis replaces its command line with this title; the config path in it is how
        # `down` tells our process from any other redis-server.
        'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"', "",
    ]))
    return config


def port_of(config: Path) -> int | None:
    try:
        lines = config.read_text().splitlines()
    except OSError:
        return None
    return next((int(ln.split()[1]) for ln in lines if ln.startswith("port ")), None)
