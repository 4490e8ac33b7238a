"""Credentials at rest (OAuth refresh tokens and the like), encrypted with Fernet.

The key comes from `GREENHOUSE_SECRET_KEY`: one Fernet key, or several separated by commas to
rotate (the first encrypts, all decrypt; `cryptography`'s MultiFernet). Make one with

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

Without a key nothing is written to the database: values are kept in memory for the life of the
process only, and the caller is told (`put` returns False) so it can say so in its status.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from greenhouse.config import ConfigError, Secret
from greenhouse.store import open_connection

__all__ = ["SecretStore", "fernet_from_key", "lineage_name", "read_stored_secret"]

log = logging.getLogger("greenhouse.privacy")


def fernet_from_key(key: Secret) -> MultiFernet | None:
    """The cipher for `GREENHOUSE_SECRET_KEY`, None when unset; ConfigError when malformed."""
    if not key:
        return None
    parts = [part.strip() for part in key.get().split(",") if part.strip()]
    try:
        return MultiFernet([Fernet(part.encode()) for part in parts])
    except (ValueError, TypeError):
        raise ConfigError(
            "GREENHOUSE_SECRET_KEY: expected a Fernet key (32 url-safe base64 bytes); make one with "
            "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
        ) from None


class SecretStore:
    """Named secrets in `stored_secrets`, encrypted; in memory only when there is no key."""

    def __init__(self, conn: sqlite3.Connection, key: Secret) -> None:
        self.conn = conn
        self.cipher = fernet_from_key(key)
        self._memory: dict[str, Secret] = {}
        self._warned = False

    @property
    def persistent(self) -> bool:
        """True when secrets are written (encrypted) to the database."""
        return self.cipher is not None

    def put(self, name: str, value: Secret | str, now: float) -> bool:
        """Store a secret; returns True when it was persisted (encrypted)."""
        secret = value if isinstance(value, Secret) else Secret(value)
        self._memory[name] = secret
        if self.cipher is None:
            if not self._warned:
                log.warning(
                    "GREENHOUSE_SECRET_KEY is not set: %s kept in memory only, not stored", name
                )
                self._warned = True
            return False
        token = self.cipher.encrypt(secret.get().encode())
        with self.conn:
            self.conn.execute(
                "INSERT INTO stored_secrets(name, ciphertext, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET ciphertext = excluded.ciphertext, "
                "updated_at = excluded.updated_at",
                (name, token, now),
            )
        return True

    def get(self, name: str) -> Secret | None:
        """The secret, from memory or decrypted from the database; None when absent or when the
        stored value cannot be decrypted with the current key (logged without the value)."""
        if name in self._memory:
            return self._memory[name]
        if self.cipher is None:
            return None
        row = self.conn.execute(
            "SELECT ciphertext FROM stored_secrets WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        try:
            secret = Secret(self.cipher.decrypt(bytes(row[0])).decode())
        except InvalidToken:
            log.error("stored secret %s cannot be decrypted with GREENHOUSE_SECRET_KEY", name)
            return None
        self._memory[name] = secret
        return secret

    def delete(self, name: str) -> None:
        """Forget a secret everywhere."""
        self._memory.pop(name, None)
        with self.conn:
            self.conn.execute("DELETE FROM stored_secrets WHERE name = ?", (name,))

    def names(self) -> list[str]:
        """Names of the stored secrets (never values)."""
        return [row[0] for row in self.conn.execute("SELECT name FROM stored_secrets ORDER BY name")]

    def rotate(self, now: float) -> int:
        """Re-encrypt every stored secret under the first key; returns how many."""
        if self.cipher is None:
            return 0
        rows = self.conn.execute("SELECT name, ciphertext FROM stored_secrets").fetchall()
        count = 0
        with self.conn:
            for name, token in rows:
                try:
                    fresh = self.cipher.rotate(bytes(token))
                except InvalidToken:
                    continue
                self.conn.execute(
                    "UPDATE stored_secrets SET ciphertext = ?, updated_at = ? WHERE name = ?",
                    (fresh, now, name),
                )
                count += 1
        return count


def lineage_name(base: str, configured: Secret) -> str:
    """The name under which a credential rotated from `configured` is kept.

    It carries a short hash of the configured value, so a user who configures a new token (a
    new authorisation) starts from it instead of an old rotated one."""
    digest = hashlib.sha256(configured.get().encode()).hexdigest()[:12]
    return f"{base}.{digest}"


def read_stored_secret(path: str | Path, key: Secret, name: str) -> Secret | None:
    """One stored secret read on a short-lived connection (None without a key or when absent)."""
    if not key:
        return None
    conn = open_connection(path)
    try:
        return SecretStore(conn, key).get(name)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
