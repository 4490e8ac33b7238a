"""The privacy manager's tables, as named migrations (listed once in `greenhouse/schema.py`).

Nothing here holds a raw IP address or a full user agent: visits are keyed by a daily visitor id
that cannot be reversed once the day's salt is deleted.
"""

from __future__ import annotations

import sqlite_utils

from greenhouse.store import Migration

__all__ = ["PRIVACY_MIGRATIONS"]


def _salts(db: sqlite_utils.Database) -> None:
    # One random salt per UTC day; rows older than today are deleted on rotation.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS privacy_salts (
            day TEXT PRIMARY KEY,
            salt BLOB NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )


def _consent(db: sqlite_utils.Database) -> None:
    # One row per decision on one category: the latest row per (visitor_id, category) is the
    # current state, older rows are the proof of what was agreed to and when.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS consent_records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            visitor_id TEXT NOT NULL,
            category TEXT NOT NULL,
            granted INTEGER NOT NULL,
            policy_version TEXT NOT NULL,
            source TEXT NOT NULL,
            recorded_at REAL NOT NULL,
            withdrawn_at REAL
        )
        """
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS consent_records_visitor ON consent_records(visitor_id, category)"
    )


def _requests(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS data_subject_requests (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            visitor_id TEXT,
            status TEXT NOT NULL,
            received_at REAL NOT NULL,
            deadline_at REAL NOT NULL,
            completed_at REAL,
            error TEXT,
            proof TEXT,
            export_json TEXT,
            export_csv TEXT
        )
        """
    )


def _audit(db: sqlite_utils.Database) -> None:
    # Actions and counts only: no visitor id, no address, no user agent.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS privacy_audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            action TEXT NOT NULL,
            request_id TEXT,
            detail TEXT NOT NULL
        )
        """
    )


def _secrets(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS stored_secrets (
            name TEXT PRIMARY KEY,
            ciphertext BLOB NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )


PRIVACY_MIGRATIONS: list[Migration] = [
    Migration("privacy_0001_salts", _salts),
    Migration("privacy_0002_consent_records", _consent),
    Migration("privacy_0003_data_subject_requests", _requests),
    Migration("privacy_0004_audit_log", _audit),
    Migration("privacy_0005_stored_secrets", _secrets),
]
