"""A plant's score history that keeps its trend line's sums as points come and go.

`predict_growth` fits a least-squares line through the last `history_days` of (time, score)
points plus the current score. Refitting from scratch walks the whole window on every rescore
(about 2,400 points and 1.5 ms by the fourth week, for every plant several times an hour).
`ScoreHistory` keeps the window's sums (n, sum t, sum s, sum t^2, sum t*s, sum s^2) as exact
fractions, updated as points are appended and as they age out of the window, so a fit costs a
few operations whatever the window's length. Exact sums give the centred sums Sxx, Sxy, Syy
rounded once, so the line equals the direct fit's within float rounding (the direct fit rounds
each centred term; tests/test_growth_fit.py checks the two against each other).

Anything the running sums cannot answer exactly as the direct filter would (points appended
out of time order, points later than `now`, a window that moves back) makes `fit` return None
and the caller fits directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import NamedTuple

__all__ = ["Fit", "ScoreHistory"]


class Fit(NamedTuple):
    """The centred sums of a window plus one point (x in seconds); what the line needs."""

    n: int
    sxx: float
    sxy: float
    syy: float
    same_times: bool  # every point at the same time (exactly)
    same_scores: bool  # every score the same (exactly)


class _Point(NamedTuple):
    t: float
    s: float
    ft: Fraction | None  # None: not finite, never in the sums
    fs: Fraction | None


class ScoreHistory:
    """(time, score) points in time order, at most `maxlen`, with the window's running sums.

    Iterates, appends and measures like the `deque(maxlen=...)` it replaces.
    """

    def __init__(self, points: Iterable[tuple[float, float]] = (), maxlen: int | None = None):
        self.maxlen = maxlen
        self._points: list[_Point] = []
        self._first = 0  # points before this index have left the window (and the sums)
        self._since = -math.inf  # the window's start as last advanced
        self._ordered = True
        self._n = 0
        self._st = self._ss = self._stt = self._sts = self._sss = Fraction(0)
        for t, s in points:
            self.append((t, s))

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return ((p.t, p.s) for p in self._points)

    def __len__(self) -> int:
        return len(self._points)

    def __repr__(self) -> str:
        return f"ScoreHistory({len(self)} points, {self._n} in the window)"

    def append(self, point: tuple[float, float]) -> None:
        """Add the newest point (dropping the oldest beyond `maxlen`)."""
        t, s = point
        if self._points and t < self._points[-1].t:
            self._ordered = False  # fits fall back to the direct filter from now on
        finite = math.isfinite(t) and math.isfinite(s)
        ft, fs = (Fraction(t), Fraction(s)) if finite else (None, None)
        entry = _Point(t, s, ft, fs)
        self._points.append(entry)
        if t >= self._since:
            self._add(entry, 1)
        else:
            # Older than the window already advanced past: the direct filter would skip it
            # too, but it sits after points that are in the window; keep it simple.
            self._ordered = False
        if self.maxlen is not None and len(self._points) > self.maxlen:
            self._drop_oldest()

    def _add(self, p: _Point, sign: int) -> None:
        if p.ft is None or p.fs is None:
            return
        self._n += sign
        if sign > 0:
            self._st += p.ft
            self._ss += p.fs
            self._stt += p.ft * p.ft
            self._sts += p.ft * p.fs
            self._sss += p.fs * p.fs
        else:
            self._st -= p.ft
            self._ss -= p.fs
            self._stt -= p.ft * p.ft
            self._sts -= p.ft * p.fs
            self._sss -= p.fs * p.fs

    def _drop_oldest(self) -> None:
        if self._first > 0:
            self._first -= 1  # it had left the window already
        else:
            self._add(self._points[0], -1)
        del self._points[0]

    def _advance(self, since: float) -> None:
        points = self._points
        while self._first < len(points) and points[self._first].t < since:
            self._add(points[self._first], -1)
            self._first += 1
        self._since = since
        if self._first > 1024 and self._first * 2 > len(points):
            del points[: self._first]  # compact: the dropped points are never read again
            self._first = 0

    def fit(self, since: float, now: float, score: float) -> Fit | None:
        """Sums over the finite points with `since <= t <= now` plus (now, score); or None.

        None means the running sums cannot say it exactly (fit directly instead).
        """
        if not self._ordered or since < self._since or not math.isfinite(score):
            return None
        if self._points and self._points[-1].t > now:
            return None
        self._advance(since)
        n = self._n + 1
        ft, fs = Fraction(now), Fraction(score)
        st, ss = self._st + ft, self._ss + fs
        sxx = self._stt + ft * ft - st * st / n
        sxy = self._sts + ft * fs - st * ss / n
        syy = self._sss + fs * fs - ss * ss / n
        return Fit(n, float(sxx), float(sxy), float(syy), sxx == 0, syy == 0)
