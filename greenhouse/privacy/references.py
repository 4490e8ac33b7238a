"""Finding every row that refers to a visitor id, anywhere in the database.

The tables are discovered from the schema at the moment of the search (`PRAGMA table_list` and
`table_info`), not from a hand-kept list, so a table added by any part of the garden later is
covered without touching this module. A row refers to an id when any of its columns holds the id
as text: a `visitor_id` column, a JSON document in `events.data`, a cache key or value.

Ids are 128-bit hex strings, so a match by chance is not a practical concern.
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
from collections.abc import Iterable
from typing import Any

__all__ = ["count_references", "delete_references", "find_references", "scannable_tables"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def scannable_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Every user table (and virtual table) with its columns; SQLite's own and shadow tables
    are left out (a virtual table's rows are reached through the virtual table itself)."""
    tables: dict[str, list[str]] = {}
    for row in conn.execute("PRAGMA main.table_list").fetchall():
        name, kind = row[1], row[2]
        if name.startswith("sqlite_") or kind not in ("table", "virtual"):
            continue
        columns = [col[1] for col in conn.execute(f"PRAGMA main.table_info({_quote(name)})")]
        if columns:
            tables[name] = columns
    return tables


def _where(columns: Iterable[str]) -> str:
    # CAST makes numbers and blobs comparable as text; instr is a plain substring test (LIKE
    # would treat `_` and `%` in the id as wildcards).
    return " OR ".join(f"instr(CAST({_quote(c)} AS TEXT), :needle) > 0" for c in columns)


def count_references(
    conn: sqlite3.Connection, needle: str, *, skip: Iterable[str] = ()
) -> dict[str, int]:
    """Rows per table that hold `needle` in any column (tables with none are left out)."""
    skipped = set(skip)
    counts: dict[str, int] = {}
    for table, columns in scannable_tables(conn).items():
        if table in skipped:
            continue
        count = conn.execute(
            f"SELECT COUNT(*) FROM {_quote(table)} WHERE {_where(columns)}", {"needle": needle}
        ).fetchone()[0]
        if count:
            counts[table] = int(count)
    return counts


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return value


def find_references(
    conn: sqlite3.Connection, needle: str, *, skip: Iterable[str] = (),
    omit_columns: dict[str, set[str]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The rows (as column -> value) per table that hold `needle`; blobs as base64."""
    skipped = set(skip)
    omit = omit_columns or {}
    found: dict[str, list[dict[str, Any]]] = {}
    for table, columns in scannable_tables(conn).items():
        if table in skipped:
            continue
        cursor = conn.execute(
            f"SELECT * FROM {_quote(table)} WHERE {_where(columns)}", {"needle": needle}
        )
        names = [d[0] for d in cursor.description]
        hidden = omit.get(table, set())
        rows = [
            {n: _plain(v) for n, v in zip(names, row, strict=True) if n not in hidden}
            for row in cursor.fetchall()
        ]
        if rows:
            found[table] = rows
    return found


def delete_references(
    conn: sqlite3.Connection, needle: str, *, skip: Iterable[str] = ()
) -> dict[str, int]:
    """Delete every row holding `needle`; returns rows deleted per table."""
    skipped = set(skip)
    deleted: dict[str, int] = {}
    for table, columns in scannable_tables(conn).items():
        if table in skipped:
            continue
        cursor = conn.execute(
            f"DELETE FROM {_quote(table)} WHERE {_where(columns)}", {"needle": needle}
        )
        if cursor.rowcount:
            deleted[table] = int(cursor.rowcount)
            if kind_of(conn, table) == "virtual":
                _optimize_full_text(conn, table)
    return deleted


def kind_of(conn: sqlite3.Connection, table: str) -> str | None:
    """`table`, `virtual`, `view`... as `PRAGMA table_list` says (None when absent)."""
    row = conn.execute("PRAGMA main.table_list(" + _quote(table) + ")").fetchone()
    return None if row is None else row[2]


def _optimize_full_text(conn: sqlite3.Connection, table: str) -> None:
    # FTS3/4/5 keep deleted tokens in their index segments until a merge; 'optimize' rewrites
    # the index so the id leaves the file too. Other virtual tables do not know the command.
    with contextlib.suppress(sqlite3.Error):
        conn.execute(f"INSERT INTO {_quote(table)}({_quote(table)}) VALUES ('optimize')")
