"""RSS and Atom parsing through feedparser, into `Feed` / `SocialPost` records.

Pure: bytes in, records out; the HTTP side (conditional GET) lives in `SocialService`.
feedparser does the hard parts (RSS 0.9x-2.0, Atom 0.3/1.0, RDF, encodings, dates, HTML
sanitising); this module only decides what counts as broken and maps entries to posts.
"""

from __future__ import annotations

import calendar
import functools
import html
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import feedparser

from greenhouse.models import Feed, SocialPost

__all__ = ["FeedParseError", "html_to_text", "parse_feed"]

MAX_FEED_BYTES = 5 * 1024 * 1024  # a feed bigger than this is refused, not parsed


class FeedParseError(ValueError):
    """The document is not a feed feedparser can read; the message says why in one line."""


class _TextExtractor(HTMLParser):
    """Collects text nodes; script and style bodies are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "br", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_SPACES = re.compile(r"\s+")
_EMAIL = re.compile(r"\(?<?[\w.+-]+@[\w-]+(\.[\w-]+)+>?\)?")


@functools.lru_cache(maxsize=512)  # pure; every poll shows the same posts again (304s too)
def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed."""
    if "<" not in markup:
        return _SPACES.sub(" ", html.unescape(markup)).strip()
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return _SPACES.sub(" ", "".join(extractor.parts)).strip()


def _author(entry: Mapping[str, Any]) -> str:
    """The author's name; e-mail addresses (RSS puts one there) are not kept."""
    detail = entry.get("author_detail") or {}
    name = detail.get("name") or entry.get("author", "")
    return _SPACES.sub(" ", _EMAIL.sub("", str(name))).strip()


def _epoch(entry: Mapping[str, Any]) -> float:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return float(calendar.timegm(parsed))
    return 0.0


def _entry_to_post(entry: Mapping[str, Any], feed_url: str) -> SocialPost:
    summary = entry.get("summary", "")
    content = entry.get("content") or []
    if not summary and content:
        summary = content[0].get("value", "")
    tags = tuple(
        str(tag.get("term")).strip().lower() for tag in entry.get("tags", []) if tag.get("term")
    )
    link = entry.get("link", "")
    return SocialPost(
        source="rss",
        id=str(entry.get("id") or link or entry.get("title", "")),
        published=_epoch(entry),
        title=html_to_text(entry.get("title", "")),
        text=html_to_text(summary),
        url=link,
        author=_author(entry),
        tags=tags,
    )


def parse_feed(
    body: bytes,
    url: str = "",
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    content_type: str | None = None,
) -> Feed:
    """Parse an RSS/Atom document; raises `FeedParseError` when it is not a usable feed.

    feedparser is lenient ("bozo" feeds that still yield entries are common on the web and
    are accepted); a document with no recognisable feed version and no entries is an error.
    """
    if len(body) > MAX_FEED_BYTES:
        raise FeedParseError(f"feed {url or '(inline)'} is {len(body)} bytes, over the limit")
    headers = {"content-type": content_type} if content_type else None
    parsed = feedparser.parse(body, response_headers=headers)
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    # A well-formed feed with no items is a normal empty state; a malformed one with no items
    # (truncated download, an HTML error page) is an error.
    if not entries and (not version or parsed.get("bozo")):
        reason = parsed.get("bozo_exception")
        detail = f": {type(reason).__name__}: {reason}" if reason else ""
        raise FeedParseError(f"not an RSS or Atom feed ({url or 'inline'}){detail}"[:300])
    meta = parsed.get("feed", {})
    return Feed(
        url=url,
        title=html_to_text(meta.get("title", "")),
        version=version or "unknown",
        link=meta.get("link", ""),
        entries=tuple(_entry_to_post(entry, url) for entry in entries),
        etag=etag,
        last_modified=last_modified,
    )
