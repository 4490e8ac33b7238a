"""Webhook verification, parsing of the real example payloads, de-duplication, fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.config import Secret
from greenhouse.messages import CommitPushed, CommitsObserved, GitHubActivity
from greenhouse.services.github_webhooks import (
    DeliveryDeduplicator,
    WebhookError,
    WebhookPayloadError,
    WebhookSignatureError,
    WebhookTooLarge,
    observations,
    parse_delivery,
    sign,
    verify_signature,
)

HOOKS = Path(__file__).parent / "fixtures" / "github" / "webhooks"
SECRET = "It's a Secret to Everybody"
VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def headers_for(event: str, body: bytes, delivery: str = "d-1", secret: str = SECRET) -> dict:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
    }


def test_documented_vector_verifies() -> None:
    assert sign(SECRET, b"Hello, World!") == VECTOR
    verify_signature(SECRET, b"Hello, World!", VECTOR)
    verify_signature(Secret(SECRET), b"Hello, World!", VECTOR)


@pytest.mark.parametrize("index", [0, 5, 12])
def test_flipped_byte_fails(index: int) -> None:
    body = bytearray(b"Hello, World!")
    body[index] ^= 0x01
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(SECRET, bytes(body), VECTOR)
    wrong_sig = VECTOR[:-1] + ("0" if VECTOR[-1] != "0" else "1")
    with pytest.raises(WebhookSignatureError):
        verify_signature(SECRET, b"Hello, World!", wrong_sig)


def test_missing_signature_secret_and_headers_have_distinct_errors() -> None:
    body = b'{"zen": "x"}'
    good = headers_for("ping", body)
    with pytest.raises(WebhookSignatureError, match="missing"):
        parse_delivery({k: v for k, v in good.items() if "Signature" not in k}, body, SECRET)
    with pytest.raises(WebhookSignatureError, match="not configured"):
        parse_delivery(good, body, "")
    with pytest.raises(WebhookPayloadError, match="X-GitHub-Event"):
        parse_delivery({k: v for k, v in good.items() if k != "X-GitHub-Event"}, body, SECRET)
    with pytest.raises(WebhookPayloadError, match="not valid JSON"):
        parse_delivery(headers_for("ping", b"{nope"), b"{nope", SECRET)
    with pytest.raises(WebhookPayloadError, match="JSON object"):
        parse_delivery(headers_for("ping", b"[1, 2]"), b"[1, 2]", SECRET)
    with pytest.raises(WebhookTooLarge):
        parse_delivery(good, body, SECRET, max_bytes=5)
    assert (WebhookSignatureError.status, WebhookPayloadError.status, WebhookTooLarge.status) == (
        401,
        400,
        413,
    )


def test_headers_are_case_insensitive() -> None:
    body = b'{"zen": "x"}'
    lowered = {k.lower(): v for k, v in headers_for("ping", body).items()}
    assert parse_delivery(lowered, body, SECRET).event == "ping"


def deliver(name: str, event: str, delivery: str = "d-1"):
    body = (HOOKS / name).read_bytes()
    parsed = parse_delivery(headers_for(event, body, delivery), body, SECRET)
    return parsed, observations(parsed, now=1_700_000_000.0)


def test_push_becomes_commits_and_commit_pushed() -> None:
    parsed, messages = deliver("push.new-branch.json", "push")
    observed, pushed = messages
    assert isinstance(observed, CommitsObserved) and isinstance(pushed, CommitPushed)
    assert observed.repository == "Codertocat/Hello-World" and observed.via == "webhook"
    commit = observed.commits[0]
    assert commit.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert commit.files_changed == 1 and commit.author == "Codertocat"
    assert pushed.commit_count == 1 and pushed.author == "Codertocat"
    assert pushed.delivery_id == "d-1" and 0 < pushed.impact_score <= 1


def test_tag_deletion_push_is_activity_not_growth() -> None:
    _, messages = deliver("push.tag-deleted.json", "push")
    assert len(messages) == 1 and isinstance(messages[0], GitHubActivity)
    assert messages[0].action == "deleted" and messages[0].count == 0


@pytest.mark.parametrize(
    "name, event, action, title",
    [
        (
            "pull_request.opened.json",
            "pull_request",
            "opened",
            "Update the README with new information.",
        ),
        ("pull_request.closed.json", "pull_request", "closed", None),
        ("issues.opened.json", "issues", "opened", "Spelling error in the README file"),
        ("release.published.json", "release", "published", None),
        ("star.created.json", "star", "created", None),
        ("create.json", "create", "tag", "simple-tag"),
        ("ping.json", "ping", None, "Anything added dilutes everything else."),
    ],
)
def test_each_event_parses_from_real_payload(name, event, action, title) -> None:
    parsed, messages = deliver(name, event)
    assert parsed.supported and len(messages) == 1
    activity = messages[0]
    assert isinstance(activity, GitHubActivity) and activity.kind == event
    assert activity.action == action and activity.delivery_id == "d-1"
    if title is not None:
        assert activity.title == title
    if event != "ping" or activity.repository:
        assert activity.repository.endswith("/Hello-World")


def test_unlisted_events_are_ignored_politely() -> None:
    body = b'{"action": "created", "repository": {"full_name": "a/b"}}'
    parsed = parse_delivery(headers_for("watch", body), body, SECRET)
    assert not parsed.supported and observations(parsed, now=0) == []


def test_supported_event_with_wrong_shape_is_payload_error() -> None:
    body = b'{"ref": 5}'
    parsed = parse_delivery(headers_for("push", body), body, SECRET)
    with pytest.raises(WebhookPayloadError, match="push payload"):
        observations(parsed, now=0)


def test_duplicate_delivery_is_recognised() -> None:
    dedup = DeliveryDeduplicator(capacity=2)
    assert not dedup.seen("a") and dedup.seen("a") and dedup.duplicates == 1
    assert not dedup.seen("b") and not dedup.seen("c")
    assert len(dedup) == 2 and not dedup.seen("a")  # evicted beyond capacity


EVENTS = st.sampled_from(
    ["push", "ping", "issues", "pull_request", "release", "star", "create", "x"]
)


@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.sampled_from([(HOOKS / n).read_bytes() for n in ("push.new-branch.json", "ping.json")]),
    ),
    event=st.one_of(st.none(), EVENTS, st.text(max_size=10)),
    delivery=st.one_of(st.none(), st.text(max_size=20)),
    signed=st.booleans(),
    signature=st.text(max_size=80),
)
def test_arbitrary_input_raises_only_documented_errors(body, event, delivery, signed, signature):
    headers = {}
    if event is not None:
        headers["X-GitHub-Event"] = event
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    headers["X-Hub-Signature-256"] = sign(SECRET, body) if signed else signature
    try:
        parsed = parse_delivery(headers, body, SECRET, max_bytes=10_000)
        observations(parsed, now=0.0)
    except WebhookError:
        pass
