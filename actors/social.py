"""The social poller: feeds and accounts every hour, `social_activity` when you posted something.

Each poll collects every configured source (`SocialService.collect`), then publishes
`SocialActivityObserved` with your metrics summary, the tech trends (matched against your
repositories' languages and topics, learnt from `RepositoriesObserved`) and the posts that are new
since the last poll. Viewers get `SocialActivity` only when new posts of your own appeared.

A source that fails is reported in `failures` while the others still count; the service is marked
unavailable only when every source failed, and the last good observation is kept.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

from greenhouse.messages import RepositoriesObserved, SocialActivity, SocialActivityObserved
from greenhouse.polling import PollerActor
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.services.social import OWN_SOURCES, SocialService
from greenhouse.trends import analyze_tech_trends, social_metrics_summary

__all__ = ["SocialPoller"]

SEEN_LIMIT = 5000  # remembered post keys; older ones are forgotten first


class SocialPoller(PollerActor):
    """Polls every configured social source through `SocialService`."""

    service_name = "social"
    task_id = "social_sync"
    service: SocialService

    def __init__(
        self,
        inbox: Mailbox | None,
        bus: Bus | None,
        service: SocialService,
        clock: Clock | None = None,
        *,
        interval: float | None = 60 * 60.0,
        trend_days: int = 7,
        summary_days: int = 30,
        sync_timeout: float = 600.0,
        seen: OrderedDict[tuple[str, str], None] | None = None,
        news_window: float | None = None,
        availability: dict[str, bool] | None = None,
        name: str = "social",
    ) -> None:
        super().__init__(
            name, inbox, bus, clock, interval=interval, sync_timeout=sync_timeout,
            availability=availability,
        )
        self.service = service
        # On a fresh start, posts older than this are not news: the poll interval (the tree,
        # where the scheduler keeps it, passes it in).
        self.news_window = news_window or interval or 3600.0
        self.trend_days = trend_days
        self.summary_days = summary_days
        self.repo_languages: set[str] = set()
        self.repo_topics: set[str] = set()
        self.last_data: SocialActivityObserved | None = None
        # The keys of posts already seen. The tree passes one dict, loaded from SQLite when the
        # garden is built, to every incarnation of this actor, so neither a restart of the actor
        # nor of the process announces old posts again.
        self._seen: OrderedDict[tuple[str, str], None] = seen if seen is not None else OrderedDict()
        self._first = not self._seen

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RepositoriesObserved):
            for repo in message.repositories:
                if repo.language:
                    self.repo_languages.add(repo.language)
                self.repo_languages.update(repo.languages)
                self.repo_topics.update(repo.topics)
            return None
        return await super().handle(message)

    def _unseen(self, key: tuple[str, str]) -> bool:
        """True the first time a post is seen (it goes to the history)."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def _news(self, published: float, now: float, first: bool) -> bool:
        """Whether an unseen post is worth announcing to viewers."""
        if not first:
            return True
        # With nothing remembered (a fresh start and no stored history), only what appeared
        # within the last poll interval is news, so a start does not announce old posts.
        return published <= 0 or published >= now - self.news_window

    async def poll(self) -> str | None:
        collection = await self.service.collect()
        sources = collection.sources
        failed = _failed_sources(collection.failures)
        if sources and not collection.posts and len(failed) >= len(sources):
            return "; ".join(collection.failures.values())[:300]
        now = self.clock.time()
        first, self._first = self._first, False
        new_posts = tuple(p for p in collection.posts if self._unseen((p.source, p.id)))
        observed = SocialActivityObserved(
            observed_at=now,
            sources=sources,
            new_posts=new_posts,
            summary=social_metrics_summary(
                collection.own_posts(),
                now,
                self.summary_days,
                sources_failed=failed,
            ),
            trends=analyze_tech_trends(
                collection.posts,
                now,
                self.trend_days,
                repo_languages=sorted(self.repo_languages),
                repo_topics=sorted(self.repo_topics),
            ),
            failures=collection.failures,
        )
        self.last_data = observed
        await self.publish(observed)
        own_new = [
            p for p in new_posts if p.source in OWN_SOURCES and self._news(p.published, now, first)
        ]
        if own_new:
            await self.publish(
                SocialActivity(
                    new_posts=len(own_new),
                    by_source=dict(sorted(Counter(p.source for p in own_new).items())),
                    top_topics=tuple(t.term for t in observed.trends.topics[:5]),
                    rising_topics=tuple(r.topic for r in observed.trends.rising[:5]),
                    source="social_sync",
                    timestamp=now,
                )
            )
        return None


def _failed_sources(failures: dict[str, str]) -> set[str]:
    return {key.split(" ", 1)[0] for key in failures}
