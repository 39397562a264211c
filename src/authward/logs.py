"""Structured logs: security events as one JSON object per line.

The ``authward.security`` logger tells an operator what happened (a failed login, a
throttled address, a reused refresh token) in a form a log pipeline can parse.
`JsonFormatter` writes only the message and an allow-list of fields: a field that is
not on the list is dropped, so a careless ``extra={"password": ...}`` never reaches a
log. The list holds public facts only (user id, client address, public handle, family
id): never a password, a token, a session id, a CSRF token or an email.

``authward serve`` installs `log_config` (uvicorn's own loggers, plus these).
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["SAFE_FIELDS", "JsonFormatter", "log_config"]

SAFE_FIELDS: Final = ("event", "user_id", "ip", "handle", "family", "strategy", "retry_after")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the safe fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "":
                entry[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: its message or traceback could quote a secret.
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging config, plus JSON lines on stderr for ``authward.security``."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["authward_json"] = {"()": "authward.logs.JsonFormatter"}
    config["handlers"]["authward_security"] = {
        "class": "logging.StreamHandler",
        "formatter": "authward_json",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["authward.security"] = {
        "handlers": ["authward_security"],
        "level": "INFO",
        "propagate": False,
    }
    config["loggers"]["authward"] = {"handlers": ["default"], "level": level.upper()}
    return config
