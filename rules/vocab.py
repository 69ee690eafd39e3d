"""The contract's closed vocabularies: product lines, channels, outcomes, program kinds, arms.

Every other module reads them from here (see ../shared CONTRACT: "Product lines", "Kafka
topics", "Decision"); nothing here imports anything, so any module of the core or the shell can.
"""

from __future__ import annotations

PRODUCT_LINES = ("prepaid", "postpaid", "home")
# The channels an action can go to; each has its topic `nba.actions.<channel>`.
CHANNELS = ("sms", "email", "push", "outbound_call", "store", "call_center", "telesales", "digital")
OUTCOMES = ("action", "suppressed", "no_candidate", "no_mot")
# Channels a customer starts a conversation in (the event's `channel`).
INTERACTION_CHANNELS = ("store", "call_center", "telesales", "digital")
# An action whose channel is this answers in the channel the customer is using.
EVENT_CHANNEL = "event"
PROGRAM_KINDS = ("commercial", "experience", "umbrella")
NBO, NBA = "nbo", "nba"
# How NBO picks among the eligible commercial offers: the highest expected value (the action's
# weight x the MoT's value x probability of a positive decision), or the highest priority.
NBO_RANKINGS = ("value", "priority")
