"""Reducing what a request says about a person: networks instead of addresses, browser families
instead of user-agent strings, referrers without query strings, and the real client address
behind a trusted reverse proxy.

User agents are parsed with `ua-parser` (the maintained Python port of the uap-core rules that
Browserscope, Matomo-style tools and many analytics systems share), so the browser table does not
rot in this repository.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import msgspec
from ua_parser import parse as _parse_user_agent

__all__ = [
    "AnonymousUserAgent",
    "TrustedProxies",
    "anonymize_ip_address",
    "anonymize_user_agent",
    "clean_path",
    "clean_referrer",
    "client_address",
    "normalize_ip",
]

MAX_PATH_LENGTH = 512
MAX_USER_AGENT_LENGTH = 1024  # longer strings are cut before parsing or hashing (abuse guard)

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_ip(value: str | None) -> _Address | None:
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443" from some proxies
        text = text[1 : text.index("]")]
    elif text.count(":") == 1 and "." in text:  # "203.0.113.9:51234"
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]  # drop an IPv6 zone id
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalize_ip(value: str | None) -> str | None:
    """The canonical text of an address (IPv4-mapped IPv6 as IPv4), or None when not an IP."""
    address = _parse_ip(value)
    return None if address is None else address.compressed


def anonymize_ip_address(value: str) -> str:
    """The address's network: IPv4 truncated to /24, IPv6 to /48 (raises ValueError if not an IP)."""
    address = _parse_ip(value)
    if address is None:
        raise ValueError("not an IP address")
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class AnonymousUserAgent(msgspec.Struct, frozen=True):
    """What a user agent may say about a visitor: families and a major version, nothing finer."""

    browser: str
    browser_major: str | None
    os: str
    device_type: str  # desktop, mobile, tablet, bot or other


_TABLET_HINTS = ("ipad", "tablet", "kindle", "silk/", "playbook")
_MOBILE_HINTS = ("mobile", "iphone", "ipod", "android", "windows phone", "opera mini")
_BOT_HINTS = ("bot", "crawler", "spider", "slurp", "curl/", "wget/", "python-", "httpx/")
_DESKTOP_OS = ("Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Chrome OS", "FreeBSD")


def _device_type(lowered: str, device_family: str, os_family: str) -> str:
    # uap-core names devices but not their kind; these hints are the usual tokens browsers send.
    if device_family == "Spider" or any(hint in lowered for hint in _BOT_HINTS):
        return "bot"
    if any(hint in lowered for hint in _TABLET_HINTS) or (
        "android" in lowered and "mobile" not in lowered
    ):
        return "tablet"
    if any(hint in lowered for hint in _MOBILE_HINTS):
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "other"


@lru_cache(maxsize=2048)
def anonymize_user_agent(user_agent: str) -> AnonymousUserAgent:
    """Browser family and major version, OS family and device type of a user-agent string."""
    text = (user_agent or "")[:MAX_USER_AGENT_LENGTH]
    parsed = _parse_user_agent(text).with_defaults()
    browser = parsed.user_agent.family
    major = parsed.user_agent.major if browser != "Other" else None
    return AnonymousUserAgent(
        browser=browser,
        browser_major=major,
        os=parsed.os.family,
        device_type=_device_type(text.lower(), parsed.device.family, parsed.os.family),
    )


def clean_path(path: str | None) -> str:
    """A page path without query string or fragment, bounded in length."""
    if not path:
        return "/"
    parts = urlsplit(path.strip())
    cleaned = parts.path or "/"
    if not cleaned.startswith("/"):
        cleaned = "/" + cleaned
    return cleaned[:MAX_PATH_LENGTH]


def clean_referrer(referrer: str | None) -> str | None:
    """An http(s) referrer without credentials, query string or fragment; None otherwise."""
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))[:MAX_PATH_LENGTH]


class TrustedProxies:
    """The reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR networks)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"GREENHOUSE_TRUSTED_PROXIES: {entry!r} is not an address or network") from None

    def __contains__(self, address: object) -> bool:
        parsed = _parse_ip(address) if isinstance(address, str) else None
        return parsed is not None and any(parsed in network for network in self.networks)


def client_address(
    peer: str | None, forwarded_for: Sequence[str] | str | None, trusted: TrustedProxies
) -> str | None:
    """The visitor's address: the socket peer, or `X-Forwarded-For` when the peer is trusted.

    The header is read right to left (each proxy appends the address it saw) and the first hop
    that is not itself a trusted proxy is the client; a malformed hop ends the walk there, so a
    client cannot smuggle an address past the proxy that appended the real one.
    """
    peer_ip = normalize_ip(peer)
    if peer_ip is None or peer_ip not in trusted or not forwarded_for:
        return peer_ip
    headers = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    hops = [hop.strip() for header in headers for hop in header.split(",") if hop.strip()]
    client = peer_ip
    for hop in reversed(hops):
        hop_ip = normalize_ip(hop)
        if hop_ip is None:
            break
        client = hop_ip
        if hop_ip not in trusted:
            break
    return client
