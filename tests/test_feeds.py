"""RSS 2.0 / Atom parsing through feedparser (greenhouse/services/feeds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.services.feeds import FeedParseError, html_to_text, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "social"


def test_rss20_sample() -> None:
    feed = parse_feed((FIXTURES / "rss20.feedparser-sample.xml").read_bytes(), "http://x/rss")
    assert feed.version == "rss20"
    assert feed.title == "Sample Feed"
    (entry,) = feed.entries
    assert entry.id == "http://example.org/guid/1"
    assert entry.title == "First item title"
    assert entry.url == "http://example.org/item/1"
    assert entry.published == 1031184001.0  # Thu, 05 Sep 2002 00:00:01 GMT
    # feedparser sanitised the javascript: style away; the text is plain.
    assert entry.text == "Watch out for nasty tricks"
    assert "javascript" not in entry.text
    assert entry.tags == ("miscellaneous",)
    assert entry.author == ""  # RSS <author> is an e-mail address: not kept


def test_atom10_sample() -> None:
    feed = parse_feed((FIXTURES / "atom10.feedparser-sample.xml").read_bytes(), "http://x/atom")
    assert feed.version == "atom10"
    (entry,) = feed.entries
    assert entry.url == "http://example.org/entry/3"  # xml:base resolved
    assert entry.published == 1131495827.0  # 2005-11-09T00:23:47Z
    assert entry.author == "Mark Pilgrim"  # the name, without the e-mail
    assert entry.text == "Watch out for nasty tricks"


def test_empty_feed_is_a_normal_state() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parse_feed(body, "http://x/quiet")
    assert feed.entries == () and feed.title == "Quiet"


@pytest.mark.parametrize(
    "body",
    [
        b'<rss version="2.0"><channel><title>cut off</ti',  # truncated download
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",  # an error page
        b'{"not": "a feed"}',
        b"",
    ],
)
def test_broken_feed_is_a_clear_error(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="not an RSS or Atom feed"):
        parse_feed(body, "http://x/broken")


def test_oversized_feed_refused() -> None:
    with pytest.raises(FeedParseError, match="over the limit"):
        parse_feed(b" " * (5 * 1024 * 1024 + 1), "http://x/huge")


def test_html_to_text() -> None:
    assert html_to_text("<p>Hello <b>world</b></p><script>alert(1)</script>") == "Hello world"
    assert html_to_text("a &amp; b") == "a & b"


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    try:
        feed = parse_feed(body, "http://x/fuzz")
    except FeedParseError:
        return
    assert isinstance(feed.entries, tuple)


@given(st.text(max_size=200))
def test_html_to_text_never_leaves_tags(markup: str) -> None:
    assert "<script" not in html_to_text(f"<p>{markup}</p>").lower() or "<script" in markup.lower()
