"""`PrivacyManager`: the privacy rules in one object over one SQLite connection.

Synchronous and clock-free (every method takes `now`), so it is tested without trio; the privacy
actor owns one instance and calls it from a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from greenhouse.config import PrivacyConfig
from greenhouse.store import open_connection

from .audit import AuditLog
from .consent import CONSENT_CATEGORIES, ConsentDecision, ConsentLedger, PrivacySignals
from .retention import apply_retention, retention_policies
from .secret_store import SecretStore
from .subject_requests import DataSubjectRequest, RequestStore
from .visitor_ids import SaltStore, utc_day

__all__ = ["PrivacyManager"]

DAY = 86400.0


class PrivacyManager:
    """Visitor ids, consent, data-subject requests, retention, audit and secrets at rest."""

    def __init__(self, conn: sqlite3.Connection, config: PrivacyConfig) -> None:
        self.conn = conn
        self.config = config
        # Deleted rows are overwritten with zeros instead of lingering in free pages.
        conn.execute("PRAGMA secure_delete = ON")
        self.audit = AuditLog(conn)
        self.salts = SaltStore(conn, config.site_id)
        self.consent = ConsentLedger(conn)
        self.requests = RequestStore(conn, self.audit)
        self.secrets = SecretStore(conn, config.secret_key)

    @classmethod
    def open(cls, path: str | Path, config: PrivacyConfig) -> PrivacyManager:
        """A manager on its own connection to the garden database (tables must exist)."""
        return cls(open_connection(path), config)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # -- visitor ids and analytics -----------------------------------------------------------

    def generate_visitor_id(self, ip: str | None, user_agent: str | None, now: float) -> str:
        """Today's id for an address and user agent (see `visitor_ids`)."""
        return self.salts.visitor_id(ip, user_agent, now)

    def analytics_refusal(
        self, visitor_id: str, signals: PrivacySignals, now: float
    ) -> str | None:
        """Why a visit must not be counted (`disabled`, `dnt`, `gpc`, `withdrawn`,
        `no_consent`), or None when analytics may record it."""
        if not self.config.analytics_enabled:
            return "disabled"
        if signals.gpc:
            return "gpc"
        if signals.dnt:
            return "dnt"
        decision = self.consent.current(visitor_id).get("analytics")
        if decision is not None and not decision.granted:
            return "withdrawn"
        if self.config.require_consent and (
            decision is None or decision.policy_version != self.config.policy_version
        ):
            return "no_consent"
        return None

    # -- consent -----------------------------------------------------------------------------

    def record_consent(
        self,
        visitor_id: str,
        categories: Iterable[str],
        now: float,
        *,
        refused: Iterable[str] = (),
        policy_version: str | None = None,
        source: str = "api",
    ) -> dict[str, ConsentDecision]:
        """Record granted and refused categories under a policy version (default: current)."""
        granted, refusals = list(categories), list(refused)
        version = policy_version or self.config.policy_version
        with self.conn:
            state = self.consent.record(
                visitor_id, granted, version, now, refused=refusals, source=source
            )
            self.audit.write("consent_recorded", now, granted=sorted(set(granted)),
                             refused=sorted(set(refusals)), policy_version=version)
        return state

    def withdraw_consent(
        self, visitor_id: str, now: float, categories: Iterable[str] | None = None
    ) -> dict[str, ConsentDecision]:
        """Withdraw categories (every non-essential one when None)."""
        chosen = None if categories is None else list(categories)
        with self.conn:
            state = self.consent.withdraw(visitor_id, chosen, self.config.policy_version, now)
            self.audit.write("consent_withdrawn", now,
                             categories=sorted(chosen) if chosen is not None else ["all"])
        return state

    def consent_state(self, visitor_id: str) -> dict[str, ConsentDecision]:
        """The current decision per category."""
        return self.consent.current(visitor_id)

    # -- data-subject requests ---------------------------------------------------------------

    def create_data_subject_request(
        self, request_type: str, visitor_id: str, now: float, *, limited: bool = True
    ) -> DataSubjectRequest:
        """Record and carry out an access, portability or erasure request (`limited=False`
        for the admin: no per-id or hourly limit)."""
        return self.requests.create(request_type, visitor_id, now, limited=limited)

    def get_request(self, request_id: str, now: float) -> DataSubjectRequest | None:
        """A request's public state."""
        return self.requests.get(request_id, now)

    # -- retention ---------------------------------------------------------------------------

    def data_cleanup(self, now: float) -> dict[str, Any]:
        """The daily task: rotate the salt, apply retention, retry unfinished requests."""
        self.salts.rotate(now)
        deleted = apply_retention(self.conn, retention_policies(self.config), now)
        retried = self.requests.retry_unfinished(now)
        report = {"deleted": deleted, "requests_retried": retried, "salt_day": utc_day(now)}
        with self.conn:
            self.audit.write("data_cleanup", now, deleted=deleted, requests_retried=retried)
        return report

    # -- the dashboard -----------------------------------------------------------------------

    def get_privacy_dashboard_data(self, now: float) -> dict[str, Any]:
        """Everything an operator needs to see about privacy, without any personal data."""
        last_cleanup = self.conn.execute(
            "SELECT at, detail FROM privacy_audit_log WHERE action = 'data_cleanup' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return {
            "generated_at": now,
            "visitor_ids": {
                "method": "HMAC-SHA256(daily random salt, site + IP + user agent), 128 bits",
                "salt_days": self.salts.days(),
                "current_day": utc_day(now),
                "raw_ip_stored": False,
            },
            "analytics": {
                "enabled": self.config.analytics_enabled,
                "require_consent": self.config.require_consent,
                "honours": ["DNT", "Sec-GPC"],
            },
            "consent": {
                "policy_version": self.config.policy_version,
                "categories": list(CONSENT_CATEGORIES),
                "current": self.consent.counts(),
            },
            "requests": self.requests.summary(now),
            "retention_days": {
                policy.data_type: policy.days for policy in retention_policies(self.config)
            },
            "last_cleanup": None if last_cleanup is None else {
                "at": last_cleanup[0], "detail": msgspec.json.decode(last_cleanup[1]),
            },
            "audit_last_30_days": self.audit.count_since(now - 30 * DAY),
            "secrets_at_rest": {
                "encrypted": self.secrets.persistent,
                "stored": self.secrets.names(),
            },
        }
