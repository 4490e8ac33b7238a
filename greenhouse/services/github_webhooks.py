"""GitHub webhook deliveries: verify, parse, de-duplicate, and turn into observations.

The HTTP layer calls one function, `parse_delivery(headers, body, secret, max_bytes)`, and maps
its three exceptions to status codes:

    WebhookTooLarge      -> 413
    WebhookSignatureError -> 401   (missing or wrong X-Hub-Signature-256, or no secret set)
    WebhookPayloadError  -> 400   (missing event header, body not a JSON object)

It then publishes `WebhookReceived` for the GitHub poller, which de-duplicates by delivery id
(`DeliveryDeduplicator`: redeliveries keep their id) and calls `observations(...)` to get the
same messages polling produces.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec

from greenhouse.config import Secret
from greenhouse.messages import (
    CommitPushed,
    CommitSnapshot,
    CommitsObserved,
    GitHubActivity,
    Message,
)
from greenhouse.models import GitHubRelease, GitHubUser, parse_github_time

from .github import impact_score

__all__ = [
    "SUPPORTED_EVENTS",
    "DeliveryDeduplicator",
    "WebhookDelivery",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "WebhookTooLarge",
    "observations",
    "parse_delivery",
    "sign",
    "verify_signature",
]

SUPPORTED_EVENTS = frozenset(
    {"ping", "push", "pull_request", "issues", "release", "star", "create"}
)


class WebhookError(Exception):
    """Base of the delivery errors; `status` is the HTTP status the endpoint should answer."""

    status = 400


class WebhookSignatureError(WebhookError):
    """Missing, malformed or wrong `X-Hub-Signature-256` (401)."""

    status = 401


class WebhookPayloadError(WebhookError):
    """Missing `X-GitHub-Event`, or a body that is not a JSON object (400)."""

    status = 400


class WebhookTooLarge(WebhookError):
    """The body is over the configured limit (413)."""

    status = 413


def sign(secret: str | bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes | Secret, body: bytes, header: str | None) -> None:
    """Raise `WebhookSignatureError` unless `header` is the HMAC-SHA256 of `body`."""
    raw = secret.get() if isinstance(secret, Secret) else secret
    if not raw:
        raise WebhookSignatureError("webhook secret is not configured; refusing unsigned input")
    if not header:
        raise WebhookSignatureError("missing X-Hub-Signature-256 header")
    if not header.startswith("sha256="):
        raise WebhookSignatureError("X-Hub-Signature-256 must start with 'sha256='")
    expected = sign(raw, body)
    # Compare as bytes: compare_digest on str refuses non-ASCII, which an attacker controls.
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise WebhookSignatureError("X-Hub-Signature-256 does not match the body")


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A verified delivery: event name, delivery id, action and the raw JSON body."""

    event: str
    delivery_id: str
    body: bytes
    action: str | None = None
    supported: bool = True


class _Action(msgspec.Struct):
    action: str | None = None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, item in headers.items():
            if key.lower() == lowered:
                return item
    return value


def parse_delivery(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | bytes | Secret,
    max_bytes: int = 25 * 1024 * 1024,
) -> WebhookDelivery:
    """Verify and read one delivery; raises only the three `WebhookError` subclasses.

    Size first (cheap), then the signature (before looking inside an untrusted body), then the
    headers and the JSON.
    """
    if len(body) > max_bytes:
        raise WebhookTooLarge(f"payload of {len(body)} bytes is over the {max_bytes}-byte limit")
    verify_signature(secret, body, _header(headers, "X-Hub-Signature-256"))
    event = (_header(headers, "X-GitHub-Event") or "").strip()
    if not event:
        raise WebhookPayloadError("missing X-GitHub-Event header")
    delivery_id = (_header(headers, "X-GitHub-Delivery") or "").strip()
    if not delivery_id:
        raise WebhookPayloadError("missing X-GitHub-Delivery header")
    try:
        action = msgspec.json.decode(body, type=_Action).action
    except msgspec.ValidationError as exc:
        raise WebhookPayloadError(
            f"payload is not a JSON object of the expected shape: {exc}"
        ) from None
    except msgspec.DecodeError as exc:
        raise WebhookPayloadError(f"payload is not valid JSON: {exc}") from None
    return WebhookDelivery(
        event=event,
        delivery_id=delivery_id[:100],
        body=body,
        action=action,
        supported=event in SUPPORTED_EVENTS,
    )


class DeliveryDeduplicator:
    """Remembers the last `capacity` delivery ids; `seen(id)` is True for a repeat."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0

    def seen(self, delivery_id: str) -> bool:
        """Record `delivery_id`; True when it was already recorded (a redelivery)."""
        if delivery_id in self._ids:
            self._ids.move_to_end(delivery_id)
            self.duplicates += 1
            return True
        self._ids[delivery_id] = None
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)


# --------------------------------------------------------------------------------------------
# Payload shapes (the fields the garden reads; the octokit/webhooks examples are the reference).


class _Repo(msgspec.Struct, frozen=True):
    full_name: str
    html_url: str | None = None


class _Person(msgspec.Struct, frozen=True):
    name: str | None = None
    email: str | None = None
    username: str | None = None


class _PushCommit(msgspec.Struct, frozen=True):
    id: str
    message: str = ""
    timestamp: str | None = None
    distinct: bool = True
    author: _Person | None = None
    added: list[str] = msgspec.field(default_factory=list)
    removed: list[str] = msgspec.field(default_factory=list)
    modified: list[str] = msgspec.field(default_factory=list)


class _Pusher(msgspec.Struct, frozen=True):
    name: str | None = None


class PushPayload(msgspec.Struct, frozen=True):
    """`push`."""

    ref: str
    repository: _Repo
    commits: list[_PushCommit] = msgspec.field(default_factory=list)
    pusher: _Pusher | None = None
    sender: GitHubUser | None = None
    created: bool = False
    deleted: bool = False
    forced: bool = False
    compare: str | None = None


class _Titled(msgspec.Struct, frozen=True):
    number: int
    title: str = ""
    html_url: str | None = None
    merged: bool | None = None
    user: GitHubUser | None = None


class PullRequestPayload(msgspec.Struct, frozen=True):
    """`pull_request`."""

    action: str
    pull_request: _Titled
    repository: _Repo
    sender: GitHubUser | None = None


class IssuesPayload(msgspec.Struct, frozen=True):
    """`issues`."""

    action: str
    issue: _Titled
    repository: _Repo
    sender: GitHubUser | None = None


class ReleasePayload(msgspec.Struct, frozen=True):
    """`release`."""

    action: str
    release: GitHubRelease
    repository: _Repo
    sender: GitHubUser | None = None


class StarPayload(msgspec.Struct, frozen=True):
    """`star`."""

    action: str
    repository: _Repo
    starred_at: str | None = None
    sender: GitHubUser | None = None


class CreatePayload(msgspec.Struct, frozen=True):
    """`create` (a branch or tag)."""

    ref: str
    ref_type: str
    repository: _Repo
    sender: GitHubUser | None = None


class PingPayload(msgspec.Struct, frozen=True):
    """`ping` (sent when a hook is created); `repository` is absent for org hooks."""

    zen: str = ""
    hook_id: int | None = None
    repository: _Repo | None = None
    sender: GitHubUser | None = None


def _login(user: GitHubUser | None) -> str:
    return user.login if user is not None else ""


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0][:200]


def observations(delivery: WebhookDelivery, now: float) -> list[Message]:
    """The messages a verified delivery means; [] for events the garden does not use.

    Raises `WebhookPayloadError` when a supported event's body lacks the fields it needs.
    """
    if not delivery.supported:
        return []
    try:
        return _observe(delivery, now)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise WebhookPayloadError(
            f"{delivery.event} payload has an unexpected shape: {exc}"
        ) from None


def _observe(delivery: WebhookDelivery, now: float) -> list[Message]:
    event, body, did = delivery.event, delivery.body, delivery.delivery_id
    common: dict[str, Any] = {"via": "webhook", "delivery_id": did, "at": now}
    if event == "push":
        return _push_messages(msgspec.json.decode(body, type=PushPayload), did, now)
    if event in ("pull_request", "issues"):
        payload: Any = msgspec.json.decode(
            body, type=PullRequestPayload if event == "pull_request" else IssuesPayload
        )
        item = payload.pull_request if event == "pull_request" else payload.issue
        action = payload.action
        if event == "pull_request" and action == "closed" and item.merged:
            action = "merged"
        return [
            GitHubActivity(
                kind=event,
                repository=payload.repository.full_name,
                actor=_login(payload.sender),
                action=action,
                title=item.title[:200],
                number=item.number,
                url=item.html_url,
                **common,
            )
        ]
    if event == "release":
        rel = msgspec.json.decode(body, type=ReleasePayload)
        return [
            GitHubActivity(
                kind="release",
                repository=rel.repository.full_name,
                actor=_login(rel.sender),
                action=rel.action,
                title=(rel.release.name or rel.release.tag_name)[:200],
                url=rel.release.html_url,
                **common,
            )
        ]
    if event == "star":
        star = msgspec.json.decode(body, type=StarPayload)
        return [
            GitHubActivity(
                kind="star",
                repository=star.repository.full_name,
                actor=_login(star.sender),
                action=star.action,
                url=star.repository.html_url,
                **common,
            )
        ]
    if event == "create":
        made = msgspec.json.decode(body, type=CreatePayload)
        return [
            GitHubActivity(
                kind="create",
                repository=made.repository.full_name,
                actor=_login(made.sender),
                action=made.ref_type,
                title=made.ref[:200],
                **common,
            )
        ]
    ping = msgspec.json.decode(body, type=PingPayload)
    return [
        GitHubActivity(
            kind="ping",
            repository=ping.repository.full_name if ping.repository else "",
            actor=_login(ping.sender),
            title=ping.zen[:200],
            **common,
        )
    ]


def _push_messages(push: PushPayload, delivery_id: str, now: float) -> list[Message]:
    repo = push.repository.full_name
    author = _login(push.sender) or (push.pusher.name if push.pusher else "") or "unknown"
    if push.deleted or not push.commits:
        # A deleted branch or tag carries no commits: activity, not growth.
        return [
            GitHubActivity(
                kind="push",
                repository=repo,
                actor=author,
                action="deleted" if push.deleted else "empty",
                title=push.ref,
                count=0,
                via="webhook",
                delivery_id=delivery_id,
                at=now,
            )
        ]
    snapshots = []
    files_total = 0
    for commit in push.commits:
        files = len(set(commit.added) | set(commit.removed) | set(commit.modified))
        files_total += files
        who = commit.author
        snapshots.append(
            CommitSnapshot(
                sha=commit.id,
                repository=repo,
                author=(who.username or who.name or author) if who else author,
                message=_first_line(commit.message),
                timestamp=parse_github_time(commit.timestamp),
                files_changed=files,
                impact_score=impact_score(None, files),
            )
        )
    return [
        CommitsObserved(
            repository=repo,
            commits=tuple(snapshots),
            new_count=len(snapshots),
            observed_at=now,
            via="webhook",
            delivery_id=delivery_id,
        ),
        CommitPushed(
            repository=repo,
            commit_count=len(snapshots),
            author=author,
            impact_score=impact_score(None, files_total),
            delivery_id=delivery_id,
            source="github_webhook",
            timestamp=now,
        ),
    ]
