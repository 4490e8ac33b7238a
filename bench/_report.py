"""Shared output for benchmarks: a printed table and a JSON file under bench/results/."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import os

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }


def report(name: str, columns: list[str], rows: list[list[Any]], extra: dict[str, Any]) -> None:
    """Print `rows` as a table and write everything to bench/results/<name>.json."""
    widths = [max(len(str(c)), *(len(_fmt(r[i])) for r in rows)) for i, c in enumerate(columns)]
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(_fmt(v).ljust(w) for v, w in zip(row, widths, strict=False)))
    RESULTS.mkdir(exist_ok=True)
    payload = {"machine": machine(), "columns": columns, "rows": rows, **extra}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    print(f"\nwritten: {RESULTS / f'{name}.json'}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)
