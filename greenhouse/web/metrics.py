"""The Prometheus text exposition format (version 0.0.4) for `GET /metrics`.

Small enough to write here rather than add prometheus_client, whose process-global registry
does not fit state owned by actors: each scrape gathers plain samples (`MetricSample`) and this
renders them, grouping samples of one name under one HELP/TYPE header.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import msgspec

__all__ = ["CONTENT_TYPE", "MetricSample", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricSample(msgspec.Struct, frozen=True):
    """One sample: metric name, kind (counter/gauge), help text, labels and value."""

    name: str
    kind: str
    help: str
    value: float
    labels: dict[str, str] = {}


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render_metrics(samples: Iterable[MetricSample]) -> str:
    """Render samples as exposition text (invalid names or labels raise ValueError)."""
    families: dict[str, list[MetricSample]] = {}
    for sample in samples:
        if not _NAME.match(sample.name):
            raise ValueError(f"invalid metric name {sample.name!r}")
        families.setdefault(sample.name, []).append(sample)
    lines: list[str] = []
    for name, group in families.items():
        first = group[0]
        lines.append(f"# HELP {name} {_escape_help(first.help)}")
        lines.append(f"# TYPE {name} {first.kind}")
        for sample in group:
            if sample.labels:
                for key in sample.labels:
                    if not _LABEL.match(key):
                        raise ValueError(f"invalid label name {key!r}")
                inner = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in sample.labels.items())
                lines.append(f"{name}{{{inner}}} {_number(sample.value)}")
            else:
                lines.append(f"{name} {_number(sample.value)}")
    return "\n".join(lines) + "\n"
