"""The arbiter's pure decision core: catalogue, classification, arbitration, contact history.

No Kafka, no Redis, no asyncio, no clock: time comes in as an argument.
"""

from rules.arbitrate import arbitrate
from rules.catalogue import Catalogue
from rules.classify import classify
from rules.decision import Candidate, ChosenAction, Decision
from rules.economics import CURRENCY, Economics, incremental_risk, incremental_value
from rules.errors import ArbiterError, CatalogueError, InvalidEvent
from rules.event import Event, parse_event
from rules.history import (
    History,
    HistoryUpdate,
    decode_history,
    decode_stored,
    history_update,
    stored_write,
)
from rules.load.files import load_catalogue, load_catalogue_files
from rules.model import Action, MoT, Policy, Program
from rules.vocab import CHANNELS, INTERACTION_CHANNELS, OUTCOMES, PRODUCT_LINES

__all__ = [
    "CHANNELS",
    "CURRENCY",
    "INTERACTION_CHANNELS",
    "OUTCOMES",
    "PRODUCT_LINES",
    "Action",
    "ArbiterError",
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
    "load_catalogue_files",
    "parse_event",
    "stored_write",
]
