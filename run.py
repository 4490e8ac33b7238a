"""Digital Greenhouse: `python run.py` runs the garden; see `python run.py --help`.

Commands:
  (none)        run the garden (the demo world when no API keys are set)
  status        configured services, the database and its event count
  check-config  validate the configuration and print what is wrong
  simulate      the whole garden against the simulation world in virtual time
  backup PATH   an online, consistent copy of the database (SQLite's backup API)
  check         health check and one real read per configured service, then the engines
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from greenhouse.config import ConfigError, IntegrationSettings, load_settings
from greenhouse.logs import configure_logging
from greenhouse.store import DatabaseCorrupt, event_count, open_connection

if TYPE_CHECKING:
    from actors.tree import Garden

log = logging.getLogger("greenhouse.run")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python run.py",
        description="Digital Greenhouse: your digital life as a living garden.",
    )
    parser.add_argument("--db", help="SQLite database path (default: GREENHOUSE_DB or greenhouse.db)")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="overrides LOG_LEVEL"
    )
    parser.add_argument("--env-file", default=".env", help="the .env file to read (default .env)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("status", help="configured services, the database and its event count")
    sub.add_parser("check-config", help="validate the configuration")
    backup = sub.add_parser(
        "backup", help="an online, consistent copy of the database (safe while the garden runs)"
    )
    backup.add_argument("path", help="where to write the copy")
    sim = sub.add_parser(
        "simulate", help="run the whole garden against the simulation world in virtual time"
    )
    sim.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    sim.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    sim.add_argument("--faults", type=float, default=0.02, help="API fault rate (default 0.02)")
    sub.add_parser(
        "check", help="health check and one real read per configured service, then the engines"
    )
    return parser.parse_args(argv)


def command_status(settings: IntegrationSettings, db_path: str) -> int:
    enabled = settings.get_enabled_services()
    print("Digital Greenhouse status")
    for name in settings.service_configs():
        state = "configured" if name in enabled else "not configured"
        print(f"  {name:<10} {state}")
    print(f"  mode       {'demo' if settings.demo_mode else 'live'}")
    path = Path(db_path)
    if not path.exists():
        print(f"  database   {path} (not created yet)")
        return 0
    try:
        conn = open_connection(path, readonly=True)
        count = event_count(conn)
        conn.close()
    except sqlite3.Error as error:
        print(f"  database   {path}: cannot read ({error})")
        return 1
    print(f"  database   {path} ({path.stat().st_size / 1024:.0f} KiB, {count} events)")
    return 0


def command_backup(db_path: str, target: str) -> int:
    """Copy the live database with SQLite's online backup API, then verify the copy."""
    source_path, target_path = Path(db_path), Path(target)
    if not source_path.exists():
        print(f"backup: {source_path} does not exist", file=sys.stderr)
        return 1
    if target_path.resolve() == source_path.resolve():
        print("backup: the copy must not overwrite the database itself", file=sys.stderr)
        return 2
    target_path.parent.mkdir(parents=True, exist_ok=True)
    partial = target_path.with_name(target_path.name + ".partial")
    try:
        source = open_connection(source_path, readonly=True)
        copy = sqlite3.connect(partial)
        with copy:
            # Pages in steps, so a running garden's writer is never blocked for long.
            source.backup(copy, pages=256)
        check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        copy.close()
        source.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        print(f"backup failed: {error}", file=sys.stderr)
        return 1
    if check != "ok":
        partial.unlink(missing_ok=True)
        print(f"backup failed: the copy did not pass integrity_check ({check})", file=sys.stderr)
        return 1
    partial.replace(target_path)
    print(f"backed up {source_path} to {target_path} ({target_path.stat().st_size / 1024:.0f} KiB)")
    return 0


def command_check_config(settings: IntegrationSettings) -> int:
    problems = settings.validate_configurations()
    enabled = settings.get_enabled_services()
    for name in settings.service_configs():
        if name in problems:
            mark = "problem"
        elif name in enabled:
            mark = "ok"
        else:
            mark = "not configured"
        print(f"{name:<10} {mark}")
    for section, items in problems.items():
        for item in items:
            print(f"  {section}: {item}")
    if not problems:
        print("configuration ok" + ("" if enabled else " (no services: the demo garden runs)"))
    return 1 if problems else 0


DEMO_BANNER = """DEMO MODE: no API keys are set, so the garden grows from a simulated developer's
life (GitHub, Spotify, weather, WakaTime and a feed), with its clock running {speed:g}x faster.
To connect your real accounts, copy .env.example to .env, fill in the services you use
(GITHUB_TOKEN + GITHUB_USERNAME, SPOTIFY_*, OPENWEATHER_API_KEY + WEATHER_CITY, WAKATIME_API_KEY,
RSS_FEEDS, ...) and start again; `python run.py check-config` tells what is missing."""


def command_simulate(settings: IntegrationSettings, args: argparse.Namespace, db_path: str) -> int:
    from actors.simulation import simulate

    # The log would drown the progress bar: only warnings and worse while simulating.
    logging.getLogger("greenhouse").setLevel(logging.ERROR)
    if args.days < 1:
        print("simulate: --days must be at least 1", file=sys.stderr)
        return 2
    summary = simulate(
        args.days, args.seed, db_path, settings=settings, fault_rate=args.faults
    )
    print(summary.table())
    return 0
def command_check(settings: IntegrationSettings) -> int:
    """`python run.py check`: exit 1 when a configured service fails."""
    from greenhouse.integration_check import format_report, run_check_for_settings

    report = trio.run(run_check_for_settings, settings)
    print(format_report(report))
    return 1 if report.failed else 0


async def log_addresses(garden: Garden) -> None:
    """Say where viewers and the HTTP API are, once both servers have bound."""
    addresses = garden.extras.get("addresses")
    running = {spec.name for spec in garden.root.specs}
    if addresses is None or not running & {"websocket", "http"}:
        return
    urls = {name: await addresses.wait(name) for name in ("websocket", "http") if name in running}
    log.info(
        "garden viewers: %s  HTTP API: %s",
        urls.get("websocket", "(off)"),
        urls.get("http", "(off)"),
    )


async def serve(settings: IntegrationSettings, db_path: str) -> None:
    """Run the garden until SIGINT or SIGTERM, then shut down cleanly."""
    from actors.simulation import demo_garden
    from actors.tree import build_garden, run_garden

    if settings.demo_mode:
        for line in DEMO_BANNER.format(speed=settings.runtime.demo_speed).splitlines():
            log.warning(line)
        garden, _ = demo_garden(settings, db_path=db_path)
    else:
        garden = build_garden(settings, db_path=db_path)
    with trio.open_signal_receiver(*SHUTDOWN_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(run_garden, garden)
            log.info("garden running (database %s); Ctrl-C to stop", db_path)
            nursery.start_soon(log_addresses, garden)
            async for signum in signals:
                log.info("received %s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break
    log.info("stopped cleanly; database flushed")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args.env_file)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings, level=args.log_level)
    db_path = args.db or settings.runtime.db_path
    if args.command == "status":
        return command_status(settings, db_path)
    if args.command == "check-config":
        return command_check_config(settings)
    if args.command == "backup":
        return command_backup(db_path, args.path)
    if args.command == "simulate":
        return command_simulate(settings, args, args.db or "simulation.db")
    if args.command == "check":
        return command_check(settings)
    problems = settings.validate_configurations()
    if problems:
        for section, items in problems.items():
            for item in items:
                print(f"configuration error: {section}: {item}", file=sys.stderr)
        return 2
    try:
        trio.run(serve, settings, db_path)
    except DatabaseCorrupt as error:
        print(f"database error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
