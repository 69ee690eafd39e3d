"""How a Faust app reaches Kafka, from Settings (shared by the worker and the benchmark)."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any, cast

import faust

from streams.settings import Settings


def broker_url(settings: Settings) -> str:
    return ";".join(f"kafka://{h.strip()}" for h in settings.kafka.split(",") if h.strip())


def credentials(settings: Settings) -> faust.auth.Credentials | None:
    sec = settings.security
    kw = sec.aiokafka_kwargs()
    context = cast(ssl.SSLContext | None, kw.get("ssl_context"))
    if sec.protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=sec.sasl_username, password=sec.sasl_password,
            mechanism=sec.sasl_mechanism or "PLAIN", ssl_context=context,
        )
    if sec.protocol == "SSL":
        return faust.SSLCredentials(context)
    return None


def app_options(settings: Settings, datadir_name: str) -> dict[str, Any]:
    """What every Faust app of ours shares: raw bytes, the broker, no web server."""
    return {
        "broker": broker_url(settings),
        "broker_credentials": credentials(settings),
        "key_serializer": "raw",
        "value_serializer": "raw",
        "topic_partitions": settings.partitions,
        "consumer_auto_offset_reset": "earliest",
        "web_enabled": False,
        "datadir": str(Path(tempfile.gettempdir()) / datadir_name),
    }
