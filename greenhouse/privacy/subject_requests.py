"""Data-subject requests (GDPR Art. 15 access, Art. 17 erasure, Art. 20 portability).

Each request gets a random id, a status and the deadline of Art. 12(3): one month from receipt
(the same day of the next month, or that month's last day). The garden answers at once: an
access or portability request stores its export (JSON, and for portability also CSV) on the
request row; an erasure deletes every row in every table that holds the visitor id and proves it
by counting again afterwards. The request row of an erasure keeps no visitor id.
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import io
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

import msgspec

from .audit import AuditLog
from .references import (
    count_references,
    delete_references,
    find_references,
    scannable_tables,
)

__all__ = [
    "MAX_REQUESTS_PER_HOUR",
    "MAX_REQUESTS_PER_ID_PER_DAY",
    "REQUEST_TYPES",
    "DataSubjectRequest",
    "RequestStore",
    "TooManyRequests",
    "UnknownRequestType",
    "export_csv",
    "one_month_after",
]

REQUEST_TYPES = ("access", "portability", "erasure")
# Each request scans the whole database; these bound what a flood of them can cost (the admin
# is not limited). A real visitor needs a handful a year.
MAX_REQUESTS_PER_ID_PER_DAY = 10
MAX_REQUESTS_PER_HOUR = 120

# Tables that describe the privacy machinery itself rather than a visitor: the audit log holds
# no ids by construction, salts and encrypted secrets are not about anyone.
_NOT_PERSONAL = ("privacy_audit_log", "privacy_salts", "stored_secrets", "schema_migrations")
_AUDIT = ("privacy_audit_log",)
_EXPORT_COLUMNS = {"data_subject_requests": {"export_json", "export_csv"}}

_json = msgspec.json.Encoder(order="sorted")


class _RowsRemain(Exception):
    def __init__(self, proof: dict[str, Any]) -> None:
        super().__init__("rows remain after erasure")
        self.proof = proof


class TooManyRequests(RuntimeError):
    """Over the request limits; `retry_after` is in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many data-subject requests; try again later")
        self.retry_after = retry_after


class UnknownRequestType(ValueError):
    """A request type other than access, portability or erasure."""


class DataSubjectRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request's public state (never the visitor id)."""

    id: str
    type: str
    status: str  # received, completed, failed
    received_at: float
    deadline_at: float
    completed_at: float | None = None
    error: str | None = None
    proof: dict[str, Any] | None = None
    overdue: bool = False


def one_month_after(moment: float) -> float:
    """The same time one calendar month later, clamped to the month's last day."""
    start = datetime.fromtimestamp(moment, tz=UTC)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day).timestamp()


def export_csv(data: dict[str, list[dict[str, Any]]]) -> str:
    """Rows in long form, one line per value: `table,row,column,value` (RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["table", "row", "column", "value"])
    for table in sorted(data):
        for index, row in enumerate(data[table]):
            for column, value in row.items():
                if isinstance(value, dict):  # a blob, already base64 in a dict
                    value = _json.encode(value).decode()
                writer.writerow([table, index, column, "" if value is None else value])
    return out.getvalue()


class RequestStore:
    """Requests in `data_subject_requests`, and the work each one does."""

    def __init__(self, conn: sqlite3.Connection, audit: AuditLog) -> None:
        self.conn = conn
        self.audit = audit

    # -- the data held about an id ---------------------------------------------------------

    def collect(self, visitor_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every row held about the id, per table (earlier exports left out of new ones)."""
        return find_references(
            self.conn, visitor_id, skip=_NOT_PERSONAL, omit_columns=_EXPORT_COLUMNS
        )

    def export(self, visitor_id: str, request_id: str, now: float) -> dict[str, Any]:
        """The access/portability document."""
        return {
            "format": "digital-greenhouse-export/1",
            "request_id": request_id,
            "visitor_id": visitor_id,
            "generated_at": datetime.fromtimestamp(now, tz=UTC).isoformat(),
            "data": self.collect(visitor_id),
        }

    # -- requests ----------------------------------------------------------------------------

    def check_limits(self, visitor_id: str, now: float) -> None:
        """Raise `TooManyRequests` when this id or everyone together asked too often."""
        recent = self.conn.execute(
            "SELECT COUNT(*), MIN(received_at) FROM data_subject_requests WHERE received_at > ?",
            (now - 3600.0,),
        ).fetchone()
        if recent[0] >= MAX_REQUESTS_PER_HOUR:
            raise TooManyRequests(max(1.0, recent[1] + 3600.0 - now))
        mine = self.conn.execute(
            "SELECT COUNT(*), MIN(received_at) FROM data_subject_requests "
            "WHERE visitor_id = ? AND received_at > ?",
            (visitor_id, now - 86400.0),
        ).fetchone()
        if mine[0] >= MAX_REQUESTS_PER_ID_PER_DAY:
            raise TooManyRequests(max(1.0, mine[1] + 86400.0 - now))

    def create(
        self, request_type: str, visitor_id: str, now: float, *, limited: bool = True
    ) -> DataSubjectRequest:
        """Record a request and carry it out; returns its state."""
        if request_type not in REQUEST_TYPES:
            raise UnknownRequestType(
                f"unknown request type {request_type!r}; known: {', '.join(REQUEST_TYPES)}"
            )
        if limited:
            self.check_limits(visitor_id, now)
        request_id = secrets.token_urlsafe(16)
        with self.conn:
            self.conn.execute(
                "INSERT INTO data_subject_requests(id, type, visitor_id, status, received_at, "
                "deadline_at) VALUES (?, ?, ?, 'received', ?, ?)",
                (request_id, request_type, visitor_id, now, one_month_after(now)),
            )
            self.audit.write("request_received", now, request_id=request_id, type=request_type)
        self.process(request_id, now)
        found = self.get(request_id, now)
        assert found is not None
        return found

    def process(self, request_id: str, now: float) -> None:
        """Carry out a received (or earlier failed) request; failures are recorded, not raised."""
        row = self.conn.execute(
            "SELECT type, visitor_id, status FROM data_subject_requests WHERE id = ?",
            (request_id,),
        ).fetchone()
        if row is None or row[2] == "completed":
            return
        request_type, visitor_id = row[0], row[1]
        try:
            if visitor_id is None:
                raise ValueError("the request has no subject any more")
            if request_type == "erasure":
                self._erase(request_id, visitor_id, now)
            else:
                self._export(request_id, request_type, visitor_id, now)
        except sqlite3.Error as error:
            with self.conn:
                self.conn.execute(
                    "UPDATE data_subject_requests SET status = 'failed', error = ? WHERE id = ?",
                    (f"database error: {type(error).__name__}", request_id),
                )
                self.audit.write("request_failed", now, request_id=request_id,
                                 type=request_type, error=type(error).__name__)

    def _export(self, request_id: str, request_type: str, visitor_id: str, now: float) -> None:
        document = self.export(visitor_id, request_id, now)
        csv_text = export_csv(document["data"]) if request_type == "portability" else None
        counts = {table: len(rows) for table, rows in document["data"].items()}
        with self.conn:
            self.conn.execute(
                "UPDATE data_subject_requests SET status = 'completed', completed_at = ?, "
                "error = NULL, proof = ?, export_json = ?, export_csv = ? WHERE id = ?",
                (now, _json.encode({"rows": counts}).decode(), _json.encode(document).decode(),
                 csv_text, request_id),
            )
            self.audit.write("export_completed", now, request_id=request_id,
                             type=request_type, rows=counts)

    def _erase(self, request_id: str, visitor_id: str, now: float) -> None:
        # One transaction: the request row forgets the id first (so it survives as the record
        # of the erasure), then every row anywhere holding the id goes, then we count again. If
        # anything is left the transaction is rolled back, so a retry still knows the subject.
        self.conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed, not left readable
        try:
            with self.conn:
                self.conn.execute("PRAGMA defer_foreign_keys = ON")
                self.conn.execute(
                    "UPDATE data_subject_requests SET visitor_id = NULL WHERE id = ?",
                    (request_id,),
                )
                before = count_references(self.conn, visitor_id, skip=_AUDIT)
                deleted = delete_references(self.conn, visitor_id, skip=_AUDIT)
                after = count_references(self.conn, visitor_id)
                proof = {
                    "found": before,
                    "deleted": deleted,
                    "remaining": sum(after.values()),
                    "tables_scanned": len(scannable_tables(self.conn)),
                }
                if proof["remaining"]:
                    raise _RowsRemain(proof)
                self.conn.execute(
                    "UPDATE data_subject_requests SET status = 'completed', completed_at = ?, "
                    "error = NULL, proof = ? WHERE id = ?",
                    (now, _json.encode(proof).decode(), request_id),
                )
                self.audit.write("erasure_completed", now, request_id=request_id,
                                 deleted=deleted, remaining=0)
        except _RowsRemain as failure:
            with self.conn:
                self.conn.execute(
                    "UPDATE data_subject_requests SET status = 'failed', error = 'rows remain', "
                    "proof = ? WHERE id = ?",
                    (_json.encode(failure.proof).decode(), request_id),
                )
                self.audit.write("erasure_failed", now, request_id=request_id,
                                 remaining=failure.proof["remaining"])
            return
        # Best effort: fold the WAL into the file so the deleted rows' old pages leave it too.
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def get(self, request_id: str, now: float) -> DataSubjectRequest | None:
        """The public state of a request, or None."""
        row = self.conn.execute(
            "SELECT id, type, status, received_at, deadline_at, completed_at, error, proof "
            "FROM data_subject_requests WHERE id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            return None
        return DataSubjectRequest(
            id=row[0], type=row[1], status=row[2], received_at=row[3], deadline_at=row[4],
            completed_at=row[5], error=row[6],
            proof=msgspec.json.decode(row[7]) if row[7] else None,
            overdue=row[2] != "completed" and now > row[4],
        )

    def subject_of(self, request_id: str) -> str | None:
        """The visitor id a request is about (None after an erasure or when unknown)."""
        row = self.conn.execute(
            "SELECT visitor_id FROM data_subject_requests WHERE id = ?", (request_id,)
        ).fetchone()
        return None if row is None else row[0]

    def exports(self, request_id: str) -> tuple[str | None, str | None]:
        """The stored JSON and CSV exports of a request."""
        row = self.conn.execute(
            "SELECT export_json, export_csv FROM data_subject_requests WHERE id = ?",
            (request_id,),
        ).fetchone()
        return (None, None) if row is None else (row[0], row[1])

    def retry_unfinished(self, now: float) -> int:
        """Process again every request not yet completed (the daily cleanup calls this)."""
        ids = [r[0] for r in self.conn.execute(
            "SELECT id FROM data_subject_requests WHERE status != 'completed' "
            "AND visitor_id IS NOT NULL"
        )]
        for request_id in ids:
            self.process(request_id, now)
        return len(ids)

    def summary(self, now: float) -> dict[str, Any]:
        """Counts by type and status, overdue count and the nearest open deadline."""
        by: dict[str, dict[str, int]] = {}
        for request_type, status, count in self.conn.execute(
            "SELECT type, status, COUNT(*) FROM data_subject_requests GROUP BY type, status"
        ):
            by.setdefault(request_type, {})[status] = count
        overdue, nearest = self.conn.execute(
            "SELECT SUM(deadline_at < ?), MIN(deadline_at) FROM data_subject_requests "
            "WHERE status != 'completed'",
            (now,),
        ).fetchone()
        return {"by_type": by, "overdue": int(overdue or 0), "next_deadline": nearest}

