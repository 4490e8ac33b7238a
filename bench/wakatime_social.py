"""WakaTime and social: parse/analysis cost, and a virtual week of both pollers.

    python -m bench.wakatime_social

Figures: microseconds per feedparser parse of the real RSS 2.0 / Atom samples and of a 50-item
feed, per trend analysis over 1,000 posts, per productivity computation over 30 days of
summaries and 2,000 durations; then the wall time of a virtual week of the WakaTime poller
(every 30 min) and the social poller (hourly, six sources) under trio's MockClock, every poll
through the real clients and an httpx.MockTransport serving the test fixtures.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.social import SocialPoller  # noqa: E402
from actors.wakatime import WakaTimePoller  # noqa: E402
from bench._report import report  # noqa: E402
from greenhouse.config import Secret, WakaTimeConfig  # noqa: E402
from greenhouse.models import CodingDay, SocialPost, WakaDuration  # noqa: E402
from greenhouse.productivity import productivity_metrics  # noqa: E402
from greenhouse.runtime import Bus, Clock  # noqa: E402
from greenhouse.services.feeds import parse_feed  # noqa: E402
from greenhouse.services.social import SocialService  # noqa: E402
from greenhouse.services.wakatime import WakaTimeService  # noqa: E402
from greenhouse.trends import analyze_tech_trends  # noqa: E402
from tests.fake_social import NOW, FakeSocialWorld, config  # noqa: E402
from tests.fake_wakatime import FakeWakaTime  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "social"
WEEK = 7 * 86400.0


def per_call_us(fn: Callable[[], object], seconds: float = 0.3) -> float:
    """Mean microseconds per call over about `seconds` of repetitions."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        fn()
        count += 1
    return elapsed / count * 1e6


def big_feed(items: int = 50) -> bytes:
    words = ["rust", "python", "k8s", "golang", "sqlite", "garden", "trio", "llm", "wasm", "cli"]
    rng = random.Random(1)
    body = "".join(
        f"<item><title>Post {i} about {rng.choice(words)}</title><link>https://b.example/{i}</link>"
        f"<guid>https://b.example/{i}</guid><pubDate>"
        f"{format_datetime(datetime.fromtimestamp(NOW - i * 3600, tz=UTC), usegmt=True)}</pubDate>"
        f"<description>&lt;p&gt;{' '.join(rng.choices(words, k=40))}&lt;/p&gt;</description></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{body}'
            "</channel></rss>").encode()


def posts(n: int) -> list[SocialPost]:
    rng = random.Random(2)
    words = ["rust", "python", "k8s", "golang", "sqlite", "garden", "#go", "llm", "wasm", "today"]
    return [
        SocialPost(source="rss", id=str(i), published=NOW - rng.uniform(0, 14 * 86400),
                   text=" ".join(rng.choices(words, k=30)))
        for i in range(n)
    ]


def coding(days: int = 30, durations: int = 2000) -> tuple[list[CodingDay], list[WakaDuration]]:
    rng = random.Random(3)
    summary = [
        CodingDay(date=f"2026-10-{d + 1:02d}", total_seconds=rng.uniform(0, 6 * 3600),
                  projects={"a": 1000.0, "b": 2000.0}, languages={"Python": 3000.0})
        for d in range(days)
    ]
    spans = [WakaDuration(time=NOW - rng.uniform(0, days * 86400), duration=rng.uniform(60, 3600),
                          project=rng.choice("abc")) for _ in range(durations)]
    return summary, spans


async def virtual_week() -> tuple[int, int, int, int]:
    clock = Clock(start_epoch=NOW)
    bus = Bus()
    waka_fake, world = FakeWakaTime(), FakeSocialWorld()
    waka = WakaTimePoller(
        None, bus,
        WakaTimeService(WakaTimeConfig(api_key=Secret("k" * 12), api_base_url="https://w.test/api/v1"),
                        transport=waka_fake.transport(), clock=clock),
        clock, interval=1800.0,
    )
    social = SocialPoller(
        None, bus, SocialService(config(), transport=httpx.MockTransport(world), clock=clock),
        clock, interval=3600.0,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(waka.run)
        nursery.start_soon(social.run)
        await trio.sleep(WEEK)
        nursery.cancel_scope.cancel()
    return waka.polls, len(waka_fake.requests), social.polls, len(world.requests)


def main() -> None:
    rss = (FIXTURES / "rss20.feedparser-sample.xml").read_bytes()
    atom = (FIXTURES / "atom10.feedparser-sample.xml").read_bytes()
    feed50 = big_feed()
    many = posts(1000)
    days, spans = coding()
    rows = [
        ["parse RSS 2.0 sample (1.7 KB)", "us", per_call_us(lambda: parse_feed(rss))],
        ["parse Atom 1.0 sample (1.9 KB)", "us", per_call_us(lambda: parse_feed(atom))],
        [f"parse a 50-item RSS feed ({len(feed50) // 1024} KB)", "us",
         per_call_us(lambda: parse_feed(feed50))],
        ["analyze_tech_trends, 1,000 posts", "us",
         per_call_us(lambda: analyze_tech_trends(many, NOW, 7, repo_languages=["Rust"]))],
        ["productivity_metrics, 30 days + 2,000 durations", "us",
         per_call_us(lambda: productivity_metrics(days, spans))],
    ]
    started = time.perf_counter()
    waka_polls, waka_requests, social_polls, social_requests = trio.run(
        virtual_week, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    wall = time.perf_counter() - started
    rows.append([f"virtual week: {waka_polls} WakaTime polls ({waka_requests} requests) + "
                 f"{social_polls} social polls ({social_requests} requests)", "s wall", wall])
    report("wakatime_social", ["measure", "unit", "value"], rows, {})


if __name__ == "__main__":
    main()
