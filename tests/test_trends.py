"""Tech trends and social metrics (greenhouse/trends.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from greenhouse.models import SocialPost
from greenhouse.trends import (
    DAY,
    analyze_tech_trends,
    canonical_topic,
    post_topics,
    social_metrics_summary,
    tokenize,
)

NOW = 1_800_000_000.0


def post(text: str, age_days: float, *, source: str = "rss", tags: tuple[str, ...] = (),
         likes: int = 0, ident: str | None = None) -> SocialPost:
    return SocialPost(
        source=source, id=ident or f"{source}-{text}-{age_days}", published=NOW - age_days * DAY,
        text=text, tags=tags, likes=likes,
    )


def test_aliases_and_ambiguous_words() -> None:
    assert canonical_topic("golang") == "go"
    assert canonical_topic("#go") == "go"
    assert canonical_topic("go") is None  # the verb
    assert canonical_topic("K8s") == "kubernetes"
    assert canonical_topic("TypeScript") == "typescript"
    assert post_topics(post("Let's go to the park", 0)) == set()
    assert post_topics(post("Rewrote it in Rust, deployed on k8s", 0)) == {"rust", "kubernetes"}


def test_tokenize_drops_urls_and_stopwords() -> None:
    assert tokenize("The new Python release: https://python.org/x is out!") == [
        "python", "release",
    ]


def test_rising_topics_against_previous_window() -> None:
    posts = [
        *[post(f"rust post {i}", 1 + i * 0.5) for i in range(4)],  # this week: 4 rust
        post("rust last week", 9),  # previous week: 1 rust
        *[post(f"python post {i}", 2 + i) for i in range(2)],  # this week: 2 python
        *[post(f"python older {i}", 8 + i) for i in range(3)],  # previous week: 3 python
        post("ancient rust", 30),  # outside both windows
    ]
    trends = analyze_tech_trends(posts, NOW, days=7)
    assert trends.posts == 6
    counts = {k.term: k.count for k in trends.topics}
    assert counts == {"rust": 4, "python": 2}
    assert [r.topic for r in trends.rising] == ["rust"]
    assert trends.rising[0].previous == 1 and trends.rising[0].growth == 2.5


def test_matches_repository_languages_and_topics() -> None:
    posts = [post("golang generics", 1), post("kubernetes operator", 1), post("svelte 5", 1)]
    trends = analyze_tech_trends(
        posts, NOW, repo_languages=["Go", "Python"], repo_topics=["k8s", "gardening"]
    )
    assert trends.matching_your_work == ("go", "kubernetes")


def test_empty_trends() -> None:
    trends = analyze_tech_trends([], NOW)
    assert trends.posts == 0 and trends.topics == () and trends.rising == ()


def test_social_metrics_summary() -> None:
    posts = [
        post("a", 1, source="mastodon", likes=10, ident="m1"),
        post("b", 1.1, source="mastodon", likes=2, ident="m2"),
        post("c", 3, source="bluesky", likes=40, ident="b1"),
        post("old", 45, source="bluesky", likes=999, ident="b0"),
    ]
    summary = social_metrics_summary(posts, NOW, days=30, sources_failed=["twitter"])
    assert summary.total_posts == 3
    assert summary.posts_by_source == {"bluesky": 1, "mastodon": 2}
    assert summary.likes == 52
    assert summary.top_posts[0].id == "b1"
    assert summary.sources_failed == ("twitter",)
    assert summary.most_active_day is not None
    assert summary.posts_per_day == 0.1


posts_st = st.lists(
    st.builds(
        SocialPost,
        source=st.sampled_from(["rss", "mastodon", "bluesky"]),
        id=st.text(max_size=5),
        published=st.one_of(st.just(0.0), st.floats(NOW - 40 * DAY, NOW, allow_nan=False)),
        text=st.sampled_from(["rust", "python and k8s", "golang", "nothing", "#go #rust ai"]),
        likes=st.integers(0, 100),
    ),
    max_size=40,
)


@given(posts_st, st.integers(1, 30))
def test_trend_invariants(posts: list[SocialPost], days: int) -> None:
    trends = analyze_tech_trends(posts, NOW, days)
    assert trends.posts <= len(posts)
    for topic in trends.topics:
        assert 1 <= topic.count <= trends.posts
    for rising in trends.rising:
        assert rising.count >= 2 and rising.growth >= 1.5
    summary = social_metrics_summary(posts, NOW, days)
    assert sum(summary.posts_by_source.values()) == summary.total_posts
    assert summary.likes >= sum(p.likes for p in summary.top_posts)
    engagement = [p.likes + p.shares + p.replies + p.score for p in summary.top_posts]
    assert engagement == sorted(engagement, reverse=True)
