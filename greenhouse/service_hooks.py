"""Service clients' hooks (`RequestGate`, `ResponseCache`) answered by the bucket and cache actors.

`BaseIntegration` asks a `RequestGate` before every request and reports every response to it,
and keeps conditional-request bodies in a `ResponseCache`. The adapters here implement those two
protocols with `ask` over the actors' mailboxes, so a service client plugs into the garden's
rate-limit buckets and multi-layer cache just by being given them:

    gate = ActorRequestGate(garden.mailboxes)
    cache = ActorResponseCache(garden.mailbox("cache"))
    GitHubService(config, gate=gate, cache=cache)

`check_rate_limit(mailboxes, service, tokens)` is the seed's thin API over the bucket actors.
Only mailboxes and `ask` are used, so this module sits in `greenhouse/`, below the actors.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any

from .messages import (
    Acquire,
    CacheGet,
    CacheResult,
    CacheSet,
    Denied,
    Granted,
    RateLimitStatsRequest,
    RequestRecorded,
    ServerLimits,
)
from .ratelimit import PRIORITY_NORMAL
from .runtime import NOT_NOW, AskError, AskTimeout, Mailbox, answer_now, ask
from .services.base import CachedResponse, RateLimitExceeded, RateLimitInfo

__all__ = [
    "ActorRequestGate",
    "ActorResponseCache",
    "RateLimitResult",
    "bucket_mailbox_name",
    "check_rate_limit",
]

log = logging.getLogger("greenhouse.service_hooks")


def bucket_mailbox_name(service: str) -> str:
    """The mailbox name of a service's bucket actor (as `actors/tree.py` makes it)."""
    return f"rate_limit.{service}"


class RateLimitResult(enum.StrEnum):
    """The outcome of `check_rate_limit`."""

    ALLOWED = "allowed"
    RATE_LIMITED = "rate_limited"  # not now; `retry_after` says when
    REJECTED = "rejected"  # never: more tokens than the bucket's burst
    UNAVAILABLE = "unavailable"  # the bucket actor did not answer


async def check_rate_limit(
    mailboxes: Mapping[str, Mailbox],
    service: str,
    tokens: float = 1,
    *,
    priority: int = PRIORITY_NORMAL,
    endpoint: str = "",
    max_wait: float = 0.0,
    answer_within: float = 5.0,
) -> tuple[RateLimitResult, dict[str, Any]]:
    """Take `tokens` from `service`'s bucket: `(result, status)`, status as plain data.

    A service without a bucket is allowed (nothing limits it). `max_wait` > 0 waits in line.
    """
    box = mailboxes.get(bucket_mailbox_name(service))
    if box is None:
        return RateLimitResult.ALLOWED, {"service": service, "limited": False}
    try:
        reply = await ask(
            box,
            Acquire(tokens=tokens, priority=priority, endpoint=endpoint, max_wait=max_wait),
            timeout=max_wait + answer_within,
        )
    except (AskTimeout, AskError) as error:
        return RateLimitResult.UNAVAILABLE, {"service": service, "error": str(error)}
    if isinstance(reply, Granted):
        return RateLimitResult.ALLOWED, {
            "service": service,
            "limited": True,
            "tokens": reply.tokens,
            "remaining": reply.remaining,
            "waited": reply.waited,
        }
    assert isinstance(reply, Denied)
    result = (
        RateLimitResult.REJECTED
        if reply.retry_after == float("inf")
        else (RateLimitResult.RATE_LIMITED)
    )
    return result, {
        "service": service,
        "limited": True,
        "retry_after": reply.retry_after,
        "reason": reply.reason,
    }


class ActorRequestGate:
    """`RequestGate` over the bucket actors: acquire asks `Acquire`, report tells the outcome.

    The report is one `RequestRecorded` carrying the server's limits (when it sent any).

    A caller waits in line up to `max_wait` seconds; a longer wait, or a bucket actor that does
    not answer, is refused with `RateLimitExceeded` (fail closed: no request is sent unmetered).
    """

    def __init__(
        self,
        mailboxes: Mapping[str, Mailbox],
        *,
        priority: int = PRIORITY_NORMAL,
        max_wait: float = 60.0,
        ask_margin: float = 5.0,
    ) -> None:
        self.mailboxes = mailboxes
        self.priority = priority
        self.max_wait = max_wait
        self.ask_margin = ask_margin

    def _box(self, service: str) -> Mailbox | None:
        return self.mailboxes.get(bucket_mailbox_name(service))

    async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
        """Wait for `tokens` from the service's bucket, or raise `RateLimitExceeded`."""
        box = self._box(service)
        if box is None:
            return
        want = Acquire(
            tokens=tokens, priority=self.priority, endpoint=endpoint, max_wait=self.max_wait
        )
        try:
            # An idle bucket settles most requests at once, in this task (no round trip).
            reply = answer_now(box, want)
            if reply is NOT_NOW:
                reply = await ask(box, want, timeout=self.max_wait + self.ask_margin)
        except (AskTimeout, AskError) as error:
            log.warning("%s: bucket did not answer (%s); refusing the request", service, error)
            raise RateLimitExceeded(service, self.max_wait) from error
        if isinstance(reply, Denied):
            raise RateLimitExceeded(service, reply.retry_after)

    async def report(
        self,
        service: str,
        endpoint: str,
        info: RateLimitInfo | None,
        ok: bool,
        elapsed_ms: float,
    ) -> None:
        """Tell the bucket what the server said (if anything) and how the request went."""
        box = self._box(service)
        if box is None:
            return
        limits = None
        if info is not None and (info.remaining is not None or info.retry_after is not None):
            limits = ServerLimits(
                remaining=info.remaining,
                limit=info.limit,
                reset=info.reset,
                retry_after=info.retry_after,
                endpoint=endpoint,
            )
        recorded = RequestRecorded(endpoint=endpoint, ok=ok, elapsed_ms=elapsed_ms, limits=limits)
        try:
            if answer_now(box, recorded) is not NOT_NOW:
                return  # an idle bucket took it in this task
        except AskError as error:  # as a told message's failure: the request itself went fine
            log.warning("%s: bucket failed on a request report (%s)", service, error)
            return
        # Told without a schedule point of its own when the mailbox has room: a report ends a
        # request, and its caller reaches a schedule point soon after (the next request, its
        # own publish, its mailbox).
        if not (box.fits(1) and box.put_nowait(recorded)):
            await box.put(recorded)

    async def stats(self, service: str) -> dict[str, Any] | None:
        """The bucket's metrics (None when the service has no bucket)."""
        box = self._box(service)
        return None if box is None else await ask(box, RateLimitStatsRequest())


class ActorResponseCache:
    """`ResponseCache` over the cache actor; a cache that does not answer is a miss, not an error.

    `get` also returns an expired entry while the cache still keeps it (SQLite keeps them a
    day): the entry exists to be revalidated with its ETag / Last-Modified, and a 304 refreshes it.
    """

    def __init__(self, mailbox: Mailbox, *, timeout: float = 5.0, revalidate_stale: bool = True):
        self.mailbox = mailbox
        self.timeout = timeout
        self.revalidate_stale = revalidate_stale

    async def get(self, key: str) -> CachedResponse | None:
        """The stored response for `key`, or None."""
        try:
            reply: CacheResult = await ask(
                self.mailbox,
                CacheGet(key=key, decode_as=CachedResponse, allow_stale=self.revalidate_stale),
                timeout=self.timeout,
            )
        except (AskTimeout, AskError) as error:
            log.warning("cache get %s failed (%s); treating as a miss", key, error)
            return None
        return reply.value if reply.found else None

    async def set(self, key: str, value: CachedResponse, ttl: float) -> None:
        """Store the response for `ttl` seconds, tagged with its service (the key's prefix)."""
        service = key.split(":", 1)[0]
        try:
            await ask(
                self.mailbox,
                CacheSet(
                    key=key,
                    value=value,
                    ttl=ttl,
                    tags=(f"service:{service}",),
                    etag=value.etag,
                    last_modified=value.last_modified,
                    wait=False,  # the client goes on once memory has it; the disk follows
                ),
                timeout=self.timeout,
            )
        except (AskTimeout, AskError) as error:
            log.warning("cache set %s failed (%s); not cached", key, error)
