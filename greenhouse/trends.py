"""Tech trends and social metrics from posts: pure functions, `now` passed in.

Topics are a fixed vocabulary of technologies (with aliases: "golang" is go, "k8s" is
kubernetes) plus hashtags; keywords are the remaining frequent words. A topic "rises" when it is
seen clearly more in this window than in the window before it. Matching against the user's
repositories uses the same canonical names, so a repository in "Go" matches a post about golang.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from greenhouse.models import (
    KeywordCount,
    RisingTopic,
    SocialMetricsSummary,
    SocialPost,
    TechTrends,
)

__all__ = [
    "TOPIC_ALIASES",
    "analyze_tech_trends",
    "canonical_topic",
    "post_topics",
    "social_metrics_summary",
    "tokenize",
]

DAY = 86_400.0

# keyword (lower case) -> canonical topic. Ambiguous English words ("go", "rust" as in iron)
# count only as hashtags or in their unambiguous spellings.
TOPIC_ALIASES: dict[str, str] = {
    "python": "python", "py": "python", "django": "django", "flask": "flask",
    "fastapi": "fastapi", "pandas": "pandas", "numpy": "numpy", "trio": "python",
    "asyncio": "python",
    "rust": "rust", "rustlang": "rust", "cargo": "rust",
    "golang": "go",
    "javascript": "javascript", "js": "javascript", "node": "javascript",
    "nodejs": "javascript", "node.js": "javascript", "deno": "javascript", "bun": "javascript",
    "typescript": "typescript", "ts": "typescript",
    "react": "react", "vue": "vue", "svelte": "svelte", "angular": "angular",
    "java": "java", "kotlin": "kotlin", "swift": "swift", "scala": "scala",
    "c++": "c++", "cpp": "c++", "c#": "c#", "csharp": "c#", "dotnet": "c#", ".net": "c#",
    "ruby": "ruby", "rails": "ruby", "php": "php", "elixir": "elixir", "erlang": "erlang",
    "haskell": "haskell", "ocaml": "ocaml", "zig": "zig", "lua": "lua", "julia": "julia",
    "wasm": "webassembly", "webassembly": "webassembly",
    "ai": "ai", "llm": "ai", "llms": "ai", "gpt": "ai", "openai": "ai", "chatgpt": "ai",
    "ml": "machine-learning", "machine-learning": "machine-learning",
    "pytorch": "machine-learning", "tensorflow": "machine-learning",
    "kubernetes": "kubernetes", "k8s": "kubernetes", "docker": "docker",
    "container": "docker", "containers": "docker",
    "aws": "cloud", "gcp": "cloud", "azure": "cloud", "serverless": "cloud",
    "postgres": "databases", "postgresql": "databases", "sqlite": "databases",
    "mysql": "databases", "redis": "databases", "database": "databases",
    "databases": "databases",
    "security": "security", "vulnerability": "security", "cve": "security",
    "linux": "linux", "kernel": "linux",
    "git": "git", "github": "git",
    "opensource": "open-source", "open-source": "open-source",
    "blockchain": "blockchain", "crypto": "blockchain",
    "api": "apis", "apis": "apis", "graphql": "apis", "rest": "apis",
    "html": "web", "css": "web", "browser": "web", "frontend": "web",
}

# Hashtag-only aliases: as plain words these are too ambiguous to count.
_HASHTAG_ONLY: dict[str, str] = {"go": "go"}

_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves new one two get got
    like make made use using used via today day week really much many way still even first last
    http https www com org net html amp quot nbsp via don doesn isn it's i'm we're you're let's"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_WORD = re.compile(r"#?[a-z][a-z0-9+#.\-]*[a-z0-9+#]|#?[a-z]")
_URL = re.compile(r"https?://\S+")


def canonical_topic(term: str) -> str | None:
    """The canonical topic of a word, hashtag or repository language, or None."""
    lowered = term.strip().lower()
    if lowered.startswith("#"):
        bare = lowered[1:]
        return TOPIC_ALIASES.get(bare) or _HASHTAG_ONLY.get(bare)
    return TOPIC_ALIASES.get(lowered)


def tokenize(text: str) -> list[str]:
    """Lower-case words without URLs, stop words or trailing punctuation; hashtags keep '#'."""
    words = _WORD.findall(_URL.sub(" ", text.lower()))
    return [w.rstrip(".-") for w in words if w.rstrip(".-") not in _STOPWORDS and len(w) > 1]


def post_topics(post: SocialPost, tokens: list[str] | None = None) -> set[str]:
    """Topics one post is about (each counted once per post); `tokens` if already tokenized."""
    topics: set[str] = set()
    for token in tokens if tokens is not None else tokenize(f"{post.title} {post.text}"):
        topic = canonical_topic(token)
        if topic:
            topics.add(topic)
    for tag in post.tags:
        topic = canonical_topic("#" + tag.lstrip("#"))
        if topic:
            topics.add(topic)
    return topics


def _in_window(post: SocialPost, start: float, end: float, *, undated_here: bool) -> bool:
    if post.published <= 0:
        return undated_here  # an undated entry counts as "seen now"
    return start <= post.published < end


def analyze_tech_trends(
    posts: Iterable[SocialPost],
    now: float,
    days: int = 7,
    *,
    repo_languages: Iterable[str] = (),
    repo_topics: Iterable[str] = (),
    top: int = 15,
) -> TechTrends:
    """Topic and keyword frequencies, rising topics and matches with the user's work."""
    if days < 1:
        raise ValueError("days must be at least 1")
    window = days * DAY
    current: Counter[str] = Counter()
    previous: Counter[str] = Counter()
    keywords: Counter[str] = Counter()
    seen = 0
    for post in posts:
        if _in_window(post, now - window, now + 1.0, undated_here=True):
            seen += 1
            tokens = tokenize(f"{post.title} {post.text}")
            current.update(post_topics(post, tokens))
            keywords.update({t.lstrip("#") for t in tokens if len(t) > 2})
        elif _in_window(post, now - 2 * window, now - window, undated_here=False):
            previous.update(post_topics(post))
    rising = [
        RisingTopic(
            topic=topic,
            count=count,
            previous=previous[topic],
            growth=round((count + 1) / (previous[topic] + 1), 3),
        )
        for topic, count in current.items()
        # "Clearly more": at least two mentions, and half as many again as last window.
        if count >= 2 and (count + 1) / (previous[topic] + 1) >= 1.5
    ]
    rising.sort(key=lambda r: (-r.growth, -r.count, r.topic))
    yours = {
        topic
        for term in [*repo_languages, *repo_topics]
        if (topic := canonical_topic(term) or canonical_topic("#" + term))
    }
    return TechTrends(
        days=days,
        posts=seen,
        topics=_ranked(current, top),
        keywords=_ranked(keywords, top),
        rising=tuple(rising[:top]),
        matching_your_work=tuple(sorted(t for t in current if t in yours)),
    )


def _ranked(counter: Counter[str], top: int) -> tuple[KeywordCount, ...]:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return tuple(KeywordCount(term=term, count=count) for term, count in ordered[:top])


def social_metrics_summary(
    posts: Iterable[SocialPost],
    now: float,
    days: int = 30,
    *,
    sources_failed: Iterable[str] = (),
    top: int = 5,
) -> SocialMetricsSummary:
    """Posts, engagement and the most active day per source over the last `days` days."""
    if days < 1:
        raise ValueError("days must be at least 1")
    start = now - days * DAY
    chosen = [p for p in posts if _in_window(p, start, now + 1.0, undated_here=True)]
    by_source = Counter(p.source for p in chosen)
    per_day = Counter(
        datetime.fromtimestamp(p.published, tz=UTC).strftime("%Y-%m-%d")
        for p in chosen
        if p.published > 0
    )
    likes = sum(p.likes for p in chosen)
    shares = sum(p.shares for p in chosen)
    replies = sum(p.replies for p in chosen)

    def engagement(p: SocialPost) -> int:
        return p.likes + p.shares + p.replies + p.score

    best_day = min(per_day.items(), key=lambda kv: (-kv[1], kv[0]))[0] if per_day else None
    return SocialMetricsSummary(
        days=days,
        total_posts=len(chosen),
        posts_by_source=dict(sorted(by_source.items())),
        likes=likes,
        shares=shares,
        replies=replies,
        posts_per_day=round(len(chosen) / days, 3),
        average_engagement=round(sum(map(engagement, chosen)) / len(chosen), 3) if chosen else 0.0,
        most_active_day=best_day,
        top_posts=tuple(sorted(chosen, key=lambda p: (-engagement(p), p.id))[:top]),
        sources_failed=tuple(sorted(set(sources_failed))),
    )
