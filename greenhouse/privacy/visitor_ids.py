"""Cookieless visitor ids from a rotating daily salt (the Plausible/Umami scheme).

    visitor_id = HMAC-SHA256(key=salt_of_the_day, msg=site \\0 ip \\0 user_agent)[:16 bytes], hex

The salt is 32 random bytes made the first time it is needed on a UTC day, stored in
`privacy_salts`, and every older salt is deleted when the day's salt is made. Once yesterday's
salt is gone nobody (the operator included) can recompute yesterday's ids from an address, so a
visitor cannot be followed from one day to the next. The raw address and user agent exist only
in memory for the length of one call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from datetime import UTC, datetime

from .anonymize import MAX_USER_AGENT_LENGTH, normalize_ip

__all__ = ["SaltStore", "VISITOR_ID_LENGTH", "utc_day", "visitor_id_from_salt"]

VISITOR_ID_LENGTH = 32  # hex characters: 128 bits, so ids never collide and never match by chance


def utc_day(now: float) -> str:
    """The UTC calendar day of an epoch time, as `YYYY-MM-DD`."""
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


def visitor_id_from_salt(salt: bytes, site: str, ip: str | None, user_agent: str | None) -> str:
    """The keyed hash of site, address and user agent under `salt`, truncated to 128 bits."""
    address = normalize_ip(ip) or (ip or "").strip()
    agent = (user_agent or "")[:MAX_USER_AGENT_LENGTH]
    message = b"\0".join(part.encode("utf-8", "surrogatepass") for part in (site, address, agent))
    return hmac.new(salt, message, hashlib.sha256).hexdigest()[:VISITOR_ID_LENGTH]


class SaltStore:
    """Today's salt, kept in `privacy_salts`, rotated on the first use of each UTC day."""

    def __init__(self, conn: sqlite3.Connection, site: str) -> None:
        self.conn = conn
        self.site = site
        self._cached: tuple[str, bytes] | None = None

    def salt_for(self, now: float) -> bytes:
        """The salt of `now`'s day, made (and older ones deleted) if the day has none yet."""
        day = utc_day(now)
        if self._cached is not None and self._cached[0] == day:
            return self._cached[1]
        return self.rotate(now)

    def is_current(self, now: float) -> bool:
        """True when today's salt is already in memory (no database write needed)."""
        return self._cached is not None and self._cached[0] == utc_day(now)

    def rotate(self, now: float) -> bytes:
        """Make sure today's salt exists and every older one is gone; returns today's salt."""
        day = utc_day(now)
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO privacy_salts(day, salt, created_at) VALUES (?, ?, ?)",
                (day, secrets.token_bytes(32), now),
            )
            # Deleting every other day (not only older ones) also drops a salt made while the
            # wall clock was wrong (a Pi before NTP sync), which would otherwise live for ever.
            self.conn.execute("DELETE FROM privacy_salts WHERE day != ?", (day,))
            salt = self.conn.execute(
                "SELECT salt FROM privacy_salts WHERE day = ?", (day,)
            ).fetchone()[0]
        self._cached = (day, bytes(salt))
        return self._cached[1]

    def days(self) -> list[str]:
        """The days that still have a salt (for the dashboard and tests; never the salts)."""
        return [row[0] for row in self.conn.execute("SELECT day FROM privacy_salts ORDER BY day")]

    def visitor_id(self, ip: str | None, user_agent: str | None, now: float) -> str:
        """The visitor id of an address and user agent on `now`'s day."""
        return visitor_id_from_salt(self.salt_for(now), self.site, ip, user_agent)
