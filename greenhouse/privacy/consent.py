"""Consent: what a visitor agreed to, under which policy version, and when they withdrew.

Categories:

* `essential`: what the garden needs to work (rate limiting, the WebSocket connection). Always
  on; recording it only documents that the visitor saw the notice.
* `analytics`: counting the visit (path, referrer, daily visitor id) in the analytics actor.
* `personalization`: remembering viewer preferences (camera, sound) on the server side.

Analytics run by default in the cookieless mode (`PRIVACY_REQUIRE_CONSENT=false`): the daily id
cannot identify anyone after the day ends, the Plausible/Umami position. With
`PRIVACY_REQUIRE_CONSENT=true` a visit is counted only after an analytics grant under the current
policy version. Either way `DNT: 1`, `Sec-GPC: 1` and a withdrawal stop analytics for that id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

import msgspec

__all__ = [
    "CONSENT_CATEGORIES",
    "ConsentDecision",
    "ConsentLedger",
    "PrivacySignals",
    "UnknownConsentCategory",
    "signals_from_headers",
]

CONSENT_CATEGORIES = ("essential", "analytics", "personalization")


class UnknownConsentCategory(ValueError):
    """A consent category that the garden does not know."""


class PrivacySignals(msgspec.Struct, frozen=True):
    """The browser's own privacy signals on one request."""

    dnt: bool = False
    gpc: bool = False


def signals_from_headers(headers: Mapping[str, str]) -> PrivacySignals:
    """`DNT: 1` and `Sec-GPC: 1` (header names in any case)."""
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    return PrivacySignals(dnt=lowered.get("dnt") == "1", gpc=lowered.get("sec-gpc") == "1")


class ConsentDecision(msgspec.Struct, frozen=True):
    """The current state of one category for one id."""

    category: str
    granted: bool
    policy_version: str
    recorded_at: float


def _validated(categories: Iterable[str]) -> list[str]:
    chosen = []
    for category in categories:
        if category not in CONSENT_CATEGORIES:
            raise UnknownConsentCategory(
                f"unknown consent category {category!r}; known: {', '.join(CONSENT_CATEGORIES)}"
            )
        if category not in chosen:
            chosen.append(category)
    return chosen


class ConsentLedger:
    """Consent rows in `consent_records`: history kept, latest row per category wins."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(
        self,
        visitor_id: str,
        granted: Iterable[str],
        policy_version: str,
        now: float,
        *,
        refused: Iterable[str] = (),
        source: str = "api",
    ) -> dict[str, ConsentDecision]:
        """Record granted (and explicitly refused) categories; returns the new current state.

        A category that was granted before and is now refused is a withdrawal: the earlier grant
        gets its `withdrawn_at` and a refusal row is added.
        """
        grants = _validated(granted)
        refusals = [c for c in _validated(refused) if c not in grants]
        rows = [(c, 1) for c in grants] + [(c, 0) for c in refusals]
        for category, value in rows:
            if not value:
                self._mark_withdrawn(visitor_id, category, now)
            self.conn.execute(
                "INSERT INTO consent_records(visitor_id, category, granted, policy_version, "
                "source, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (visitor_id, category, value, policy_version, source, now),
            )
        return self.current(visitor_id)

    def withdraw(
        self, visitor_id: str, categories: Iterable[str] | None, policy_version: str, now: float,
        *, source: str = "api",
    ) -> dict[str, ConsentDecision]:
        """Withdraw the given categories (all but essential when None)."""
        chosen = [c for c in CONSENT_CATEGORIES if c != "essential"]
        if categories is not None:
            chosen = [c for c in _validated(categories) if c != "essential"]
        return self.record(visitor_id, (), policy_version, now, refused=chosen, source=source)

    def _mark_withdrawn(self, visitor_id: str, category: str, now: float) -> None:
        self.conn.execute(
            "UPDATE consent_records SET withdrawn_at = ? WHERE visitor_id = ? AND category = ? "
            "AND granted = 1 AND withdrawn_at IS NULL",
            (now, visitor_id, category),
        )

    def current(self, visitor_id: str) -> dict[str, ConsentDecision]:
        """The latest decision per category for the id."""
        rows = self.conn.execute(
            "SELECT category, granted, policy_version, recorded_at FROM consent_records "
            "WHERE visitor_id = ? ORDER BY id",
            (visitor_id,),
        ).fetchall()
        state: dict[str, ConsentDecision] = {}
        for category, granted, version, at in rows:
            state[category] = ConsentDecision(category, bool(granted), version, at)
        return state

    def counts(self) -> dict[str, dict[str, int]]:
        """Current grants and refusals per category over all ids (for the dashboard)."""
        rows = self.conn.execute(
            """
            SELECT category, granted, COUNT(*) FROM consent_records AS c
            WHERE id = (SELECT MAX(id) FROM consent_records
                        WHERE visitor_id = c.visitor_id AND category = c.category)
            GROUP BY category, granted
            """
        ).fetchall()
        result = {c: {"granted": 0, "refused": 0} for c in CONSENT_CATEGORIES}
        for category, granted, count in rows:
            result.setdefault(category, {"granted": 0, "refused": 0})
            result[category]["granted" if granted else "refused"] += count
        return result
