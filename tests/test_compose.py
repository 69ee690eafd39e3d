"""docker-compose.yml and its Dockerfile speak the arbiter's settings and commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The `arbiter` subcommands of the contract: the only commands the compose file may run.
SUBCOMMANDS = frozenset({"worker", "send", "demo", "tail", "stack", "rules", "bench",
                         "dashboard", "explain"})
APPS = ("worker", "producer", "dashboard")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def test_the_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert {"kafka", "redis", *APPS} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert str(services["redis"]["image"]).startswith("redis:7")


def test_every_arbiter_variable_named_is_read_by_settings() -> None:
    named = set(re.findall(r"\bARBITER_[A-Z0-9_]+", (ROOT / "docker-compose.yml").read_text()))
    source = (ROOT / "streams" / "settings.py").read_text()
    assert {"ARBITER_KAFKA", "ARBITER_REDIS_URL"} <= named
    assert sorted(n for n in named if f'"{n}"' not in source) == []


def test_the_apps_reach_kafka_and_redis_by_service_name(
    services: dict[str, dict[str, Any]],
) -> None:
    kafka_env = _environment(services["kafka"])
    advertised = kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in APPS:
        env = _environment(services[name])
        assert env["ARBITER_KAFKA"] == "kafka:9092"
        assert env["ARBITER_REDIS_URL"] == "redis://redis:6379/0"
        assert f"PLAINTEXT://{env['ARBITER_KAFKA']}" in advertised
        assert "kafka" in services[name]["depends_on"]


def test_the_commands_are_arbiter_subcommands(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" not in service:
            continue
        argv = _argv(service["command"])
        assert argv[0] == "arbiter" and argv[1] in SUBCOMMANDS, (name, argv)
    assert _argv(services["worker"]["command"])[1] == "worker"
    assert _argv(services["producer"]["command"])[1:] == [
        "send", "--count", "100000", "--rate", "500",
    ]


def test_the_image_installs_the_project_and_runs_a_worker() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert "FROM python:3.11-slim" in lines
    copied = [word for ln in lines if ln.startswith("COPY") and "--from" not in ln
              for word in ln.split()[1:-1]]
    assert {"setup.py", "pyproject.toml", "streams", "rules"} <= set(copied)
    assert all((ROOT / path).exists() for path in copied), copied
    cmd = json.loads(next(ln for ln in lines if ln.startswith("CMD"))[len("CMD"):])
    assert cmd[0] == "arbiter" and cmd[1] in SUBCOMMANDS
    # The wheel is built (compiled) in the build stage and installed in the image.
    assert any("pip wheel" in ln and ln.rstrip().endswith(" .") for ln in lines)
    assert any("pip install /wheels/" in ln for ln in lines)
    # The checkout's own compiled files never reach the build.
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "**/*.so" in ignored and ".venv" in ignored


def test_prometheus_scrapes_the_dashboard(services: dict[str, dict[str, Any]]) -> None:
    argv = _argv(services["dashboard"]["command"])
    assert argv[:2] == ["arbiter", "dashboard"]
    # Listening on every interface inside the container, published on the host's loopback.
    port = argv[argv.index("--port") + 1]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert f"127.0.0.1:{port}:{port}" in services["dashboard"]["ports"]
    prometheus = services["prometheus"]
    assert str(prometheus["image"]).startswith("prom/prometheus:")
    source, target = prometheus["volumes"][0].split(":")[:2]
    assert f"--config.file={target}" in _argv(prometheus["command"])
    config = yaml.safe_load((ROOT / source).read_text())
    [job] = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"dashboard:{port}"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_the_grafana_dashboard_reads_metrics_the_dashboard_serves() -> None:
    from streams.dashboard import prom

    board = json.loads((ROOT / "deploy" / "grafana" / "arbiter.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert exprs
    used = {m for e in exprs for m in re.findall(r"\barbiter_[a-z_]+", e)}
    served = set(re.findall(r'"(arbiter_[a-z_]+)"', Path(prom.__file__).read_text()))
    # Counters are served with the _total suffix prometheus_client adds.
    served |= {f"{name}_total" for name in served}
    assert used and used <= served, sorted(used - served)
