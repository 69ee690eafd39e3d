"""The arbiter's pure decision core: catalogue, classification, arbitration, contact history.

No Kafka, no Redis, no asyncio, no clock: time comes in as an argument.
"""

from rules.arbitrate import arbitrate
from rules.classify import classify
from rules.decision import Candidate, ChosenAction, Decision
from rules.economics import CURRENCY, Economics, incremental_risk, incremental_value
from rules.errors import CatalogueError, InvalidEvent
from rules.event import Event, parse_event
from rules.history import (
    History,
    HistoryUpdate,
    decode_history,
    decode_stored,
    history_update,
    stored_write,
)
from rules.load.files import load_catalogue
from rules.model import (
    CHANNELS,
    OUTCOMES,
    PRODUCT_LINES,
    Action,
    Catalogue,
    MoT,
    Policy,
    Program,
)

__all__ = [
    "CHANNELS",
    "CURRENCY",
    "OUTCOMES",
    "PRODUCT_LINES",
    "Action",
    "Candidate",
    "Catalogue",
    "CatalogueError",
    "ChosenAction",
    "Decision",
    "Economics",
    "Event",
    "History",
    "HistoryUpdate",
    "InvalidEvent",
    "MoT",
    "Policy",
    "Program",
    "arbitrate",
    "classify",
    "decode_history",
    "decode_stored",
    "history_update",
    "incremental_risk",
    "incremental_value",
    "load_catalogue",
    "parse_event",
    "stored_write",
]
