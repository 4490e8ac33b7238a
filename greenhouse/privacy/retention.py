"""Retention: how long each kind of data is kept, applied by the daily `data_cleanup` task.

Tables are found from the schema each run, so data added by other parts of the garden is covered
as soon as it exists:

| data type | tables | days (variable) |
|---|---|---|
| visits | every table with a `visitor_id` column, except consent and requests | `RETENTION_VISITS_DAYS` (30) |
| events | `events` (the garden's event log) | `RETENTION_EVENTS_DAYS` (365) |
| task_runs | tables named like `task_runs` / `task_executions` | `RETENTION_TASK_RUNS_DAYS` (14) |
| consent | `consent_records` | `RETENTION_CONSENT_DAYS` (30) |
| requests | finished rows of `data_subject_requests` | `RETENTION_REQUESTS_DAYS` (90) |
| audit | `privacy_audit_log` | `RETENTION_AUDIT_DAYS` (365) |
| history | tables named `*_history`, `*_readings`, `*_observations`, `*_plays`, `*_deliveries` (growth, mood, weather, coding, listening histories, webhook deliveries) | `RETENTION_HISTORY_DAYS` (365) |

A row's age comes from its first time column among `_TIME_COLUMNS`; a number is read as epoch
seconds, text as an ISO-8601 timestamp or date. A table with no time column is left alone (and
listed as such on the dashboard) rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from greenhouse.config import PrivacyConfig
from greenhouse.messages import iso_timestamp

from .references import scannable_tables

__all__ = ["RetentionPolicy", "apply_retention", "retention_policies"]

_TIME_COLUMNS = (
    "at", "timestamp", "recorded_at", "received_at", "visited_at", "occurred_at", "created_at",
    "started_at", "finished_at", "last_seen", "last_seen_at", "updated_at", "day", "date",
    "end", "start",  # analytics_sessions: a session is as old as its last page view
)
_PRIVACY_OWN = ("consent_records", "data_subject_requests", "privacy_audit_log")
_HISTORY_SUFFIXES = ("_history", "_readings", "_observations", "_plays", "_deliveries")

Selector = Callable[[str, list[str]], bool]


@dataclass(frozen=True)
class RetentionPolicy:
    """One data type: which tables hold it and for how many days."""

    data_type: str
    days: int
    selects: Selector
    extra_where: str = ""  # an additional SQL condition, e.g. only finished requests


def retention_policies(config: PrivacyConfig) -> list[RetentionPolicy]:
    """The policies from configuration."""
    return [
        RetentionPolicy(
            "visits", config.retention_visits_days,
            lambda t, cols: "visitor_id" in cols and t not in _PRIVACY_OWN,
        ),
        RetentionPolicy("events", config.retention_events_days, lambda t, _: t == "events"),
        RetentionPolicy(
            "task_runs", config.retention_task_runs_days,
            lambda t, _: "task_run" in t or "task_execution" in t,
        ),
        RetentionPolicy(
            "consent", config.retention_consent_days, lambda t, _: t == "consent_records"
        ),
        RetentionPolicy(
            "requests", config.retention_requests_days,
            lambda t, _: t == "data_subject_requests",
            extra_where="status = 'completed'",  # open requests stay until they are answered
        ),
        RetentionPolicy(
            "audit", config.retention_audit_days, lambda t, _: t == "privacy_audit_log"
        ),
        RetentionPolicy(
            "history", config.retention_history_days,
            lambda t, cols: t.endswith(_HISTORY_SUFFIXES) and "visitor_id" not in cols,
        ),
    ]


def _time_column(columns: list[str]) -> str | None:
    for name in _TIME_COLUMNS:
        if name in columns:
            return name
    return None


def apply_retention(
    conn: sqlite3.Connection, policies: list[RetentionPolicy], now: float
) -> dict[str, dict[str, int]]:
    """Delete rows older than their policy allows; returns rows deleted per type and table.

    Tables that match a policy but have no time column appear with -1.
    """
    tables = scannable_tables(conn)
    result: dict[str, dict[str, int]] = {}
    with conn:
        for policy in policies:
            cutoff = now - policy.days * 86400.0
            done = result.setdefault(policy.data_type, {})
            for table, columns in tables.items():
                if not policy.selects(table, columns):
                    continue
                column = _time_column(columns)
                if column is None:
                    done[table] = -1
                    continue
                quoted = '"' + column.replace('"', '""') + '"'
                table_q = '"' + table.replace('"', '""') + '"'
                where = (
                    f"(CASE WHEN typeof({quoted}) IN ('integer', 'real') "
                    f"THEN {quoted} < :epoch ELSE {quoted} < :iso END)"
                )
                if policy.extra_where:
                    where += f" AND ({policy.extra_where})"
                cursor = conn.execute(
                    f"DELETE FROM {table_q} WHERE {where}",
                    {"epoch": cutoff, "iso": iso_timestamp(cutoff)},
                )
                done[table] = max(cursor.rowcount, 0)
    return result
