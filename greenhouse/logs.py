"""Logging: readable text by default, JSON lines with `LOG_FORMAT=json`, secrets redacted.

Per-component levels come from `LOG_LEVEL_<COMPONENT>` (e.g. `LOG_LEVEL_GITHUB=debug` sets the
`greenhouse.github` logger). A redaction filter replaces every configured secret value in every
record, so a token that slips into an exception message still never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from .config import IntegrationSettings, Secret

__all__ = ["JsonFormatter", "RedactingFilter", "configure_logging", "secret_values"]

REDACTED = "***"


class RedactingFilter(logging.Filter):
    """Replaces secret values in the rendered message and exception text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Formatters reuse a cached exc_text, so the traceback is rendered redacted once;
            # exc_info stays for other handlers (pytest's caplog, for one).
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and extras such as `actor`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("actor", "service", "task_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def secret_values(settings: IntegrationSettings) -> list[str]:
    """Every secret's clear value found anywhere in the settings."""
    found: list[str] = []
    for section in settings.__struct_fields__:
        value = getattr(settings, section)
        for field in getattr(value, "__struct_fields__", ()):
            item = getattr(value, field)
            if isinstance(item, Secret) and item:
                found.append(item.get())
    return found


def configure_logging(
    settings: IntegrationSettings, *, level: str | None = None, stream: Any = None
) -> logging.Handler:
    """Install the root handler for the greenhouse loggers; returns it (tests remove it)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if settings.runtime.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(RedactingFilter(secret_values(settings)))
    root = logging.getLogger("greenhouse")
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.propagate = False
    chosen = (level or ("debug" if settings.runtime.debug else settings.runtime.log_level)).upper()
    root.setLevel(chosen)
    for component, component_level in settings.runtime.component_log_levels.items():
        logging.getLogger(f"greenhouse.{component}").setLevel(component_level.upper())
    return handler
