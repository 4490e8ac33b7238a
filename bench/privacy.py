"""What privacy costs per visit and per request.

* visitor ids: HMAC-SHA256 over today's salt (cached after the first call of the day)
* the analytics decision for a visit (id + consent lookup in SQLite), the per-visit hot path
* user-agent anonymisation: first sight (uap-core rules) and a cached repeat
* an erasure over the whole schema of a garden holding `--rows` rows per visitor table

    python bench/privacy.py [--visits 20000] [--rows 50000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report  # noqa: E402
from greenhouse.config import PrivacyConfig  # noqa: E402
from greenhouse.privacy import PrivacyManager, PrivacySignals, anonymize_user_agent  # noqa: E402
from greenhouse.store import Store  # noqa: E402

NOW = 1_800_000_000.0


def rate(work: Callable[[], int], repeat: int = 3) -> tuple[float, float]:
    """Best items/s and microseconds per item over `repeat` runs."""
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        items = work()
        best = max(best, items / (time.perf_counter() - started))
    return best, 1e6 / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(3)
    clients = [
        (f"{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
         f"Mozilla/5.0 (X11; Linux x86_64; rv:{rng.randint(90, 130)}.0) Gecko/20100101 "
         f"Firefox/{rng.randint(90, 130)}.{i}")
        for i in range(args.visits)
    ]
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        manager = PrivacyManager.open(store.path, PrivacyConfig())

        def ids() -> int:
            for ip, agent in clients:
                manager.generate_visitor_id(ip, agent, NOW)
            return len(clients)

        def decisions() -> int:
            for ip, agent in clients:
                visitor = manager.generate_visitor_id(ip, agent, NOW)
                manager.analytics_refusal(visitor, PrivacySignals(), NOW)
            return len(clients)

        sample = [agent for _, agent in clients[:2000]]
        fresh = iter(range(10**9))

        def agents_first() -> int:
            # Never-seen strings each run, so neither our cache nor ua-parser's own one helps.
            run = next(fresh)
            unique = [f"{agent} run{run}/{i}" for i, agent in enumerate(sample)]
            for agent in unique:
                anonymize_user_agent(agent)
            return len(unique)

        def agents_cached() -> int:
            for agent in sample[:100] * 20:
                anonymize_user_agent(agent)
            return 2000

        for name, work in (
            ("visitor id", ids),
            ("visit decision (id + consent lookup)", decisions),
            ("user agent, first sight", agents_first),
            ("user agent, cached", agents_cached),
        ):
            per_second, micros = rate(work)
            rows.append([name, f"{per_second:,.0f}/s", f"{micros:.1f} us"])

        # An erasure over a garden with `rows` visits, sessions and events spread over 1,000 ids.
        visitors = [manager.generate_visitor_id(ip, a, NOW) for ip, a in clients[:1000]]
        with store.conn:
            store.conn.executemany(
                "INSERT INTO analytics_visits(visitor_id, path, referrer, at) VALUES (?, ?, ?, ?)",
                [(visitors[i % 1000], f"/p/{i}", None, NOW) for i in range(args.rows)],
            )
            store.conn.executemany(
                "INSERT INTO events(type, data, timestamp, source) VALUES (?, ?, ?, ?)",
                [("note", f'{{"visitor_id": "{visitors[i % 1000]}"}}', "2027-01-15T08:00:00Z",
                  "bench") for i in range(args.rows)],
            )
        started = time.perf_counter()
        request = manager.create_data_subject_request("erasure", visitors[0], NOW)
        erase_seconds = time.perf_counter() - started
        deleted = sum(request.proof["deleted"].values())
        started = time.perf_counter()
        manager.create_data_subject_request("portability", visitors[1], NOW)
        export_seconds = time.perf_counter() - started
        tables = request.proof["tables_scanned"]
        rows.append([f"erasure ({tables} tables, {2 * args.rows:,} rows)",
                     f"{deleted} rows deleted", f"{erase_seconds * 1000:.0f} ms"])
        rows.append([f"portability export ({2 * args.rows:,} rows)", "JSON + CSV",
                     f"{export_seconds * 1000:.0f} ms"])
        manager.close()
        store.close()
    report("privacy", ["operation", "rate / result", "cost"], rows,
           {"visits": args.visits, "rows": args.rows})


if __name__ == "__main__":
    main()
