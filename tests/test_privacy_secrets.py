"""Credentials at rest: encrypted with GREENHOUSE_SECRET_KEY, never persisted without it."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from greenhouse.config import ConfigError, PrivacyConfig, Secret, settings_from_mapping
from greenhouse.privacy import PrivacyManager, SecretStore
from greenhouse.store import Store

REFRESH_TOKEN = "AQD8-refresh-token-for-spotify-0123456789abcdef"
T0 = 1_764_115_200.0


def _file_bytes(store: Store) -> bytes:
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = store.path.read_bytes()
    wal = store.path.with_name(store.path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_refresh_token_is_unreadable_in_the_database_file(tmp_path):
    key = Fernet.generate_key().decode()
    store = Store(tmp_path / "garden.db")
    manager = PrivacyManager.open(store.path, PrivacyConfig(secret_key=Secret(key)))
    assert manager.secrets.put("spotify.refresh_token", REFRESH_TOKEN, T0) is True
    manager.close()

    raw = _file_bytes(store)
    assert REFRESH_TOKEN.encode() not in raw
    assert b"refresh-token-for-spotify" not in raw
    ciphertext = store.conn.execute("SELECT ciphertext FROM stored_secrets").fetchone()[0]
    assert REFRESH_TOKEN.encode() not in ciphertext

    # Without the key (or with another one) the value cannot be read back.
    no_key = SecretStore(store.conn, Secret(""))
    assert no_key.get("spotify.refresh_token") is None
    wrong = SecretStore(store.conn, Secret(Fernet.generate_key().decode()))
    assert wrong.get("spotify.refresh_token") is None
    # With the key it can, after a restart.
    right = SecretStore(store.conn, Secret(key))
    value = right.get("spotify.refresh_token")
    assert value is not None and value.get() == REFRESH_TOKEN
    assert REFRESH_TOKEN not in repr(value)
    store.close()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.text += record.getMessage() + "\n"


def test_without_a_key_secrets_are_not_persisted(tmp_path):
    store = Store(tmp_path / "garden.db")
    secrets = SecretStore(store.conn, Secret(""))
    # A handler on the logger itself: other tests may have stopped "greenhouse" propagating.
    lines, logger = _Lines(), logging.getLogger("greenhouse.privacy")
    logger.addHandler(lines)
    try:
        assert secrets.put("spotify.refresh_token", REFRESH_TOKEN, T0) is False
    finally:
        logger.removeHandler(lines)
    assert "GREENHOUSE_SECRET_KEY" in lines.text and REFRESH_TOKEN not in lines.text
    assert secrets.get("spotify.refresh_token").get() == REFRESH_TOKEN  # this process only
    assert store.conn.execute("SELECT COUNT(*) FROM stored_secrets").fetchone()[0] == 0
    assert REFRESH_TOKEN.encode() not in _file_bytes(store)
    store.close()


def test_key_rotation_with_several_keys(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    store = Store(tmp_path / "garden.db")
    SecretStore(store.conn, Secret(old)).put("github.token", "ghp_example", T0)
    rotated = SecretStore(store.conn, Secret(f"{new},{old}"))
    assert rotated.get("github.token").get() == "ghp_example"
    assert rotated.rotate(T0 + 1) == 1
    assert SecretStore(store.conn, Secret(new)).get("github.token").get() == "ghp_example"
    assert SecretStore(store.conn, Secret(old)).get("github.token") is None
    rotated.delete("github.token")
    assert rotated.names() == []
    store.close()


def test_malformed_key_is_a_clear_config_error(tmp_path):
    store = Store(tmp_path / "garden.db")
    with pytest.raises(ConfigError, match="GREENHOUSE_SECRET_KEY") as caught:
        SecretStore(store.conn, Secret("not-a-fernet-key"))
    assert "not-a-fernet-key" not in str(caught.value)
    settings = settings_from_mapping({"GREENHOUSE_SECRET_KEY": "short"})
    assert "short" not in repr(settings.privacy)
    store.close()
