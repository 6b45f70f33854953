"""The bridge's log lines: the human format or one JSON object per line (BRIDGE_LOG_FORMAT).

Both carry the request id of the request that caused them. What a line says is the caller's
business (the access line scrubs its query, the audit refuses secret fields); the JSON format only
changes the shape, and `json.dumps` escapes newlines, so one event stays one line.

A line is formatted where it is logged (the request id is the caller's context) and written by one
thread of its own (`queued_stream`): a slow or stalled stdout — a full pipe to a log collector —
holds up that thread, not the event loop that serves every request.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

from bridge.observability.request_id import current_request_id

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s%(request_suffix)s"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record a handler writes (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        record.request_id = request_id
        record.request_suffix = f" request_id={request_id}" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            event["request_id"] = request_id
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


# The writer's pause after each batch: a line waits at most this long, and while it pauses the event
# loop hands over lines without waking a thread for each (a wake per line costs about as much as the write).
BATCH_PAUSE_SECONDS = 0.01


class QueuedLines(logging.Handler):
    """Formats a record in the caller's thread and hands the finished line to the writer's queue.

    The line, not a copy of the record (what the standard QueueHandler queues): the writer needs
    nothing else, and no lock is taken, since formatting touches only the record and the queue is
    thread-safe. Each access line pays this on the event loop.
    """

    def __init__(self, lines: queue.SimpleQueue[str | None]) -> None:
        super().__init__()
        self.lines = lines

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(self.format(record))
        except Exception:
            self.handleError(record)


def queued_stream(stream: IO[str]) -> QueuedLines:
    """A handler that formats a record here and hands the line to a thread writing to `stream`.

    The thread writes what has queued up in one go, then pauses; it writes out the rest and stops when
    the process exits.
    """
    lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    writer = threading.Thread(target=_write_batches, args=(lines, stream), name="log-writer", daemon=True)
    writer.start()

    def stop() -> None:
        lines.put(None)
        writer.join(timeout=5)

    atexit.register(stop)
    return QueuedLines(lines)


def _write_batches(lines: queue.SimpleQueue[str | None], stream: IO[str]) -> None:
    while True:
        batch = [lines.get()]
        while True:
            try:
                batch.append(lines.get_nowait())
            except queue.Empty:
                break
        text = "".join(f"{line}\n" for line in batch if line is not None)
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stdout: nowhere left to say so
        if None in batch:
            return
        time.sleep(BATCH_PAUSE_SECONDS)


def formatter_config(log_format: LogFormat) -> dict[str, Any]:
    """A dictConfig formatter entry for `log_format`."""
    if log_format is LogFormat.JSON:
        return {"()": JsonFormatter}
    return {"format": TEXT_FORMAT}


def logging_config(log_format: LogFormat, *, level: str = "INFO") -> dict[str, Any]:
    """The whole process's logging (dictConfig): uvicorn's loggers and the bridge's, one handler on stderr
    and the access line on stdout, as uvicorn's own access log was."""
    handler_base = {"()": queued_stream, "formatter": "bridge", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"bridge": formatter_config(log_format)},
        "handlers": {
            "default": {**handler_base, "stream": "ext://sys.stderr"},
            "access": {**handler_base, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "bridge.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }
