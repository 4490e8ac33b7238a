"""Visitor ids, salts, anonymisation and the client address behind a proxy."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.config import PrivacyConfig
from greenhouse.privacy import (
    PrivacyManager,
    TrustedProxies,
    anonymize_ip_address,
    anonymize_user_agent,
    clean_path,
    clean_referrer,
    client_address,
    visitor_id_from_salt,
)
from greenhouse.store import Store

DAY = 86400.0
T0 = 1_764_115_200.0  # 2025-11-26T00:00:00Z
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def manager(tmp_path):
    store = Store(tmp_path / "garden.db")
    m = PrivacyManager.open(store.path, PrivacyConfig())
    yield m
    m.close()
    store.close()


def test_id_is_stable_within_a_day_and_differs_across_days(manager):
    morning = manager.generate_visitor_id("203.0.113.7", CHROME, T0 + 60)
    evening = manager.generate_visitor_id("203.0.113.7", CHROME, T0 + DAY - 1)
    tomorrow = manager.generate_visitor_id("203.0.113.7", CHROME, T0 + DAY + 60)
    assert morning == evening
    assert len(morning) == 32 and int(morning, 16) >= 0
    assert tomorrow != morning
    # Another visitor on the same day gets another id (address or user agent differ).
    assert manager.generate_visitor_id("203.0.113.8", CHROME, T0 + 60) != morning
    assert manager.generate_visitor_id("203.0.113.7", IPHONE, T0 + 60) != morning


def test_old_salts_are_deleted_on_rotation(manager):
    manager.generate_visitor_id("198.51.100.1", CHROME, T0)
    assert manager.salts.days() == ["2025-11-26"]
    salt_day0 = manager.conn.execute("SELECT salt FROM privacy_salts").fetchone()[0]
    manager.generate_visitor_id("198.51.100.1", CHROME, T0 + DAY)
    manager.generate_visitor_id("198.51.100.1", CHROME, T0 + 2 * DAY)
    assert manager.salts.days() == ["2025-11-28"]
    rows = manager.conn.execute("SELECT salt FROM privacy_salts").fetchall()
    assert salt_day0 not in [r[0] for r in rows]
    # The cleanup task rotates too, even when nobody visited that day.
    manager.data_cleanup(T0 + 4 * DAY)
    assert manager.salts.days() == ["2025-11-30"]


def test_salts_are_random_not_a_constant(tmp_path):
    ids = []
    for name in ("a.db", "b.db"):
        store = Store(tmp_path / name)
        m = PrivacyManager.open(store.path, PrivacyConfig())
        ids.append(m.generate_visitor_id("192.0.2.1", CHROME, T0))
        m.close()
        store.close()
    assert ids[0] != ids[1]


def test_salt_survives_restart_within_the_day(tmp_path):
    store = Store(tmp_path / "g.db")
    first = PrivacyManager.open(store.path, PrivacyConfig())
    a = first.generate_visitor_id("192.0.2.1", CHROME, T0 + 10)
    first.close()
    second = PrivacyManager.open(store.path, PrivacyConfig())
    assert second.generate_visitor_id("192.0.2.1", CHROME, T0 + 5000) == a
    second.close()
    store.close()


def test_id_uses_site_and_canonical_address():
    salt = b"s" * 32
    a = visitor_id_from_salt(salt, "garden", "::ffff:192.0.2.1", "ua")
    assert a == visitor_id_from_salt(salt, "garden", "192.0.2.1", "ua")
    assert a != visitor_id_from_salt(salt, "other-site", "192.0.2.1", "ua")


@given(st.ip_addresses(v=4))
def test_ipv4_truncated_to_24(address):
    network = ipaddress.ip_network(anonymize_ip_address(str(address)))
    assert network.prefixlen == 24 and address in network
    assert str(network.network_address).endswith(".0")


@given(st.ip_addresses(v=6))
def test_ipv6_truncated_to_48(address):
    if address.ipv4_mapped is not None:
        return
    network = ipaddress.ip_network(anonymize_ip_address(str(address)))
    assert network.prefixlen == 48 and address in network


def test_anonymize_ip_rejects_garbage():
    with pytest.raises(ValueError):
        anonymize_ip_address("not-an-ip")
    assert anonymize_ip_address("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert anonymize_ip_address("::ffff:203.0.113.77") == "203.0.113.0/24"


@pytest.mark.parametrize(
    ("agent", "browser", "major", "os", "device"),
    [
        (CHROME, "Chrome", "120", "Windows", "desktop"),
        (IPHONE, "Mobile Safari", "17", "iOS", "mobile"),
        (IPAD, "Mobile Safari", "16", "iOS", "tablet"),
        (FIREFOX_LINUX, "Firefox", "121", "Linux", "desktop"),
        (GOOGLEBOT, "Googlebot", "2", "Other", "bot"),
        ("", "Other", None, "Other", "other"),
    ],
)
def test_anonymize_user_agent(agent, browser, major, os, device):
    result = anonymize_user_agent(agent)
    assert (result.browser, result.browser_major, result.os, result.device_type) == (
        browser, major, os, device,
    )
    # Nothing finer than the major version survives.
    assert "6099" not in repr(result)


def test_referrer_and_path_lose_query_strings():
    assert clean_referrer("https://user:pw@example.org:8443/a/b?q=secret#frag") == (
        "https://example.org:8443/a/b"
    )
    assert clean_referrer("javascript:alert(1)") is None
    assert clean_referrer("https://[::1") is None
    assert clean_referrer(None) is None
    assert clean_path("/garden?token=abc#x") == "/garden"
    assert clean_path("garden") == "/garden"
    assert clean_path("") == "/"
    assert len(clean_path("/" + "a" * 5000)) == 512


LOOPBACK = TrustedProxies(["127.0.0.1", "::1"])


def test_forwarded_for_only_from_trusted_proxy():
    # Untrusted peer: its header is ignored, the peer is the client.
    assert client_address("198.51.100.9", "1.2.3.4", LOOPBACK) == "198.51.100.9"
    # Trusted proxy: the right-most untrusted hop is the client.
    assert client_address("127.0.0.1", "203.0.113.5", LOOPBACK) == "203.0.113.5"
    # A client cannot smuggle an address in front of the one its proxy appended.
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.5", LOOPBACK) == "203.0.113.5"
    # Chains of trusted proxies are walked through.
    chain = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("127.0.0.1", "203.0.113.5, 10.1.2.3", chain) == "203.0.113.5"
    # Malformed hop: stop at the last trustworthy address.
    assert client_address("127.0.0.1", "garbage", LOOPBACK) == "127.0.0.1"
    assert client_address("::1", ["2001:db8::7"], LOOPBACK) == "2001:db8::7"
    assert client_address(None, "1.2.3.4", LOOPBACK) is None
    assert client_address("127.0.0.1", None, LOOPBACK) == "127.0.0.1"


def test_trusted_proxies_rejects_bad_entries():
    with pytest.raises(ValueError, match="GREENHOUSE_TRUSTED_PROXIES"):
        TrustedProxies(["not-a-network"])
