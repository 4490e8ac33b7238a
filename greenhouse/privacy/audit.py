"""The privacy audit log: what was done, when, and how much, never to whom.

Entries carry an action name, an optional request id (a random token, not derived from the
visitor) and a detail object of counts, categories and table names. `write` refuses strings that
look like visitor ids or addresses, so personal data cannot slip in by accident.
"""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from typing import Any

import msgspec

__all__ = ["AuditLog", "PersonalDataInAudit"]

_encoder = msgspec.json.Encoder()
_HEX_ID = re.compile(r"[0-9a-f]{24,}")


class PersonalDataInAudit(ValueError):
    """A detail value looked like a visitor id or an address; the entry was not written."""


def _check(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)
    elif isinstance(value, str):
        if _HEX_ID.search(value):
            raise PersonalDataInAudit("audit detail holds something shaped like a visitor id")
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return
        raise PersonalDataInAudit("audit detail holds an IP address")


class AuditLog:
    """Append-only record of privacy actions in `privacy_audit_log`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def write(
        self, action: str, now: float, *, request_id: str | None = None, **detail: Any
    ) -> None:
        """Append one entry (inside the caller's transaction when there is one)."""
        _check(action)
        _check(detail)
        self.conn.execute(
            "INSERT INTO privacy_audit_log(at, action, request_id, detail) VALUES (?, ?, ?, ?)",
            (now, action, request_id, _encoder.encode(detail).decode()),
        )

    def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest entries first."""
        rows = self.conn.execute(
            "SELECT id, at, action, request_id, detail FROM privacy_audit_log "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            {"id": r[0], "at": r[1], "action": r[2], "request_id": r[3],
             "detail": msgspec.json.decode(r[4])}
            for r in rows
        ]

    def count_since(self, since: float) -> dict[str, int]:
        """Entries per action since `since`."""
        rows = self.conn.execute(
            "SELECT action, COUNT(*) FROM privacy_audit_log WHERE at >= ? GROUP BY action",
            (since,),
        ).fetchall()
        return {action: count for action, count in rows}
