"""Log lines are formatted where they are logged and written by a thread of their own."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

from bridge.observability import request_id
from bridge.observability.logs import JsonFormatter, LogFormat, RequestIdFilter, logging_config, queued_stream


class SlowStream(io.StringIO):
    """A stdout that takes its time, like a full pipe to a log collector."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        time.sleep(0.05)
        return super().write(text)


def test_a_slow_stream_does_not_hold_up_the_caller() -> None:
    stream = SlowStream()
    handler = queued_stream(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.Logger("bridge.test_queued")
    logger.addHandler(handler)
    started = time.perf_counter()
    for number in range(5):
        logger.warning("line %d", number)
    assert time.perf_counter() - started < 0.05
    deadline = time.perf_counter() + 5
    while stream.getvalue().count("\n") < 5 and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().splitlines() == [f"WARNING line {number}" for number in range(5)]
    assert threading.current_thread().name not in stream.writers


def test_the_json_line_carries_the_callers_request_id() -> None:
    stream = io.StringIO()
    handler = queued_stream(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.Logger("bridge.test_json")
    logger.addHandler(handler)
    token = request_id._current.set("req-0123456789")
    try:
        logger.warning("слово %s", "тут")
    finally:
        request_id._current.reset(token)
    deadline = time.perf_counter() + 5
    while not stream.getvalue() and time.perf_counter() < deadline:
        time.sleep(0.01)
    event = json.loads(stream.getvalue())
    assert event["message"] == "слово тут" and event["request_id"] == "req-0123456789"


def test_the_process_configuration_writes_through_the_queue() -> None:
    config = logging_config(LogFormat.TEXT)
    assert {handler["()"] for handler in config["handlers"].values()} == {queued_stream}
