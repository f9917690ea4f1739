"""Fixtures of the operations tests: the provider's JSON log lines, as an operator reads them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from idp.ops.logging import JsonFormatter, RequestIdFilter


class JsonLog:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line parsed: each must be one JSON object."""
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "idp.access"]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """The records of the ``idp`` loggers through the handler set-up that ``idp serve``
    installs (request id filter, JSON formatter), at DEBUG."""
    log = JsonLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("idp")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield log
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
