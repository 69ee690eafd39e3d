"""aiokafka's retried group coordinator errors are logged as warnings, other errors stay."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, GroupCoordinatorNotAvailableError

from streams.kafka import COORDINATOR_FAILED, quiet_retried_errors


def test_a_retried_coordinator_error_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    quiet_retried_errors()
    quiet_retried_errors()  # once per process, however often a consumer is made
    log = logging.getLogger("aiokafka.consumer.group_coordinator")
    assert len(log.filters) == 1
    with caplog.at_level(logging.INFO, logger=log.name):
        log.error(COORDINATOR_FAILED, GroupCoordinatorNotAvailableError())  # retriable
        log.error(COORDINATOR_FAILED, GroupAuthorizationFailedError())  # not retriable
        log.error("another message: %s", GroupCoordinatorNotAvailableError())
    got = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert got == [
        ("WARNING", "Group Coordinator Request failed: [Error 15] "
                    "GroupCoordinatorNotAvailableError (retried)"),
        ("ERROR", "Group Coordinator Request failed: [Error 30] GroupAuthorizationFailedError"),
        ("ERROR", "another message: [Error 15] GroupCoordinatorNotAvailableError"),
    ]
