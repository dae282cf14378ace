"""Structured JSON logs with an allow-list (DESIGN.md principle 2).

Only the keys in ``ALLOWED_KEYS`` reach the output; any other key is dropped. A
``room`` value is replaced by its one-way tag (``hearth_core.ids.log_tag``). Nothing
the server logs carries payloads, keys, invite secrets, pseudonyms or IP addresses:
call sites pass only counters, codes and connection numbers, and the allow-list
catches what a careless call site might add.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from hearth_core.ids import log_tag

ALLOWED_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "conn",
        "room",
        "code",
        "close_code",
        "count",
        "port",
        "tls",
        "version",
        "seconds",
        "frames",
        "batch",
        "error",
        "trace",
    }
)
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


def allow_list(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """Drop every key not in ``ALLOWED_KEYS``; tag room ids."""
    # Keys starting with "_" are structlog's own bookkeeping, removed before rendering.
    for key in [k for k in event if k not in ALLOWED_KEYS and not k.startswith("_")]:
        del event[key]
    room = event.get("room")
    if isinstance(room, str | bytes):
        event["room"] = log_tag(room)
    return event


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send Hearth's and the libraries' logs as JSON lines to ``stream`` (stderr by default)."""
    out = stream if stream is not None else sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        allow_list,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_hearth", False):
            root.removeHandler(old)
    handler._hearth = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(_LEVELS[level])
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def get_logger() -> Any:
    """The server's logger."""
    return structlog.stdlib.get_logger("hearth")
