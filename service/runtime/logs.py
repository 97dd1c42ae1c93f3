"""structlog JSON logs: one line per batch and per failure; never personal data.

One stream: a single handler on the root logger renders every record as one JSON line on stderr,
the service's structlog events and the standard-library records of the libraries (aiokafka, asyncpg,
asyncio, pgserver) and Python warnings alike (structlog's ``ProcessorFormatter``). Each line has
``event``, ``level``, ``logger`` and ``timestamp``. A failed write (a closed terminal) drops the
line; it never stops the code that logged it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

# warnings and errors only: their INFO lines come per connection or request, and name URLs (with their
# query strings) or logins (asyncssh: the user name) that do not belong in the log
NOISY = ("aiokafka", "kafka", "pgserver", "httpx", "httpcore", "asyncssh", "aioftp")


def _serialize(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def setup(level: str = "INFO") -> None:
    number: int = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,  # records of other libraries: their message becomes the event
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=_serialize),
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(number, logging.WARNING))
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
