"""A plant's score history that keeps its trend line's sums as points come and go.

`predict_growth` fits a least-squares line through the last `history_days` of (time, score)
points plus the current score. Refitting from scratch walks the whole window on every rescore
(about 2,400 points and 1.5 ms by the fourth week, for every plant several times an hour).
`ScoreHistory` keeps the window's sums (n, sum t, sum s, sum t^2, sum t*s, sum s^2), updated as points are appended and as they age out of the window, so a fit costs a
few operations whatever the window's length. The sums are exact: every float is an integer
over a power of two, so each sum is kept as an integer at a common power-of-two scale (plain
int arithmetic, far cheaper than `Fraction`), and the centred sums Sxx, Sxy, Syy are rounded
once, so the line equals the direct fit's within float rounding (the direct fit rounds
each centred term; tests/test_growth_fit.py checks the two against each other).

Anything the running sums cannot answer exactly as the direct filter would (points appended
out of time order, points later than `now`, a window that moves back) makes `fit` return None
and the caller fits directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
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
    finite: bool  # not finite: never in the sums


def _ratio(value: float) -> tuple[int, int]:
    """(numerator, exponent): `value == numerator / 2**exponent` exactly."""
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator.bit_length() - 1


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
        # Sums as integers: st / 2**ft, ss / 2**fs, stt / 2**(2ft), sts / 2**(ft+fs), sss / 2**(2fs).
        self._ft = self._fs = 0
        self._st = self._ss = self._stt = self._sts = self._sss = 0
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
        entry = _Point(t, s, math.isfinite(t) and math.isfinite(s))
        self._points.append(entry)
        if t >= self._since:
            self._add(entry, 1)
        else:
            # Older than the window already advanced past, yet after points inside it.
            self._ordered = False
        if self.maxlen is not None and len(self._points) > self.maxlen:
            self._drop_oldest()

    def _scaled(self, value: float, exponent_attr: str) -> int:
        """`value` as an integer at the sums' scale (raising the scale if it needs more bits)."""
        numerator, exponent = _ratio(value)
        if exponent > getattr(self, exponent_attr):
            self._rescale(exponent_attr, exponent)
        return numerator << (getattr(self, exponent_attr) - exponent)

    def _rescale(self, exponent_attr: str, exponent: int) -> None:
        up = exponent - getattr(self, exponent_attr)
        if exponent_attr == "_ft":
            self._st <<= up
            self._stt <<= 2 * up
            self._sts <<= up
        else:
            self._ss <<= up
            self._sss <<= 2 * up
            self._sts <<= up
        setattr(self, exponent_attr, exponent)

    def _add(self, p: _Point, sign: int) -> None:
        if not p.finite:
            return
        t = self._scaled(p.t, "_ft")
        s = self._scaled(p.s, "_fs")
        self._n += sign
        self._st += sign * t
        self._ss += sign * s
        self._stt += sign * t * t
        self._sts += sign * t * s
        self._sss += sign * s * s

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
        if not math.isfinite(now) or (self._points and self._points[-1].t > now):
            return None
        self._advance(since)
        n = self._n + 1
        t = self._scaled(now, "_ft")
        s = self._scaled(score, "_fs")
        st, ss = self._st + t, self._ss + s
        ft, fs = self._ft, self._fs
        # n * (centred sum) as an integer over n * 2**(scale); int / int rounds correctly once.
        xx = n * (self._stt + t * t) - st * st
        xy = n * (self._sts + t * s) - st * ss
        yy = n * (self._sss + s * s) - ss * ss
        return Fit(
            n,
            xx / (n << (2 * ft)),
            xy / (n << (ft + fs)),
            yy / (n << (2 * fs)),
            xx == 0,
            yy == 0,
        )
