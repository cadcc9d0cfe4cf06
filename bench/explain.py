"""EXPLAIN (ANALYZE, BUFFERS) of captured statements, and a short summary of where time went.

The statements come from ``common.capture_sql`` (in the benchmark's server, ``api_server.py``):
``(sql, params)`` as Tortoise sent them. Each one is run again under EXPLAIN ANALYZE inside a
transaction that is rolled back, so a write changes nothing; a statement that cannot run again
(an INSERT of a row that now exists) is explained without ANALYZE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from orderdeck import db

EXPLAINED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
TOP = 3


@dataclass
class Explained:
    """One statement and its plan."""

    sql: str
    ms: float | None  # execution time (None: not re-run)
    planning_ms: float = 0.0
    buffers: tuple[int, int] = (0, 0)  # shared hit, read
    scans: list[str] = field(default_factory=list)
    note: str = ""


def _scans(plan: dict[str, Any], out: list[str]) -> list[str]:
    """The plan's nodes that read a table or an index, outermost first."""
    if "Relation Name" in plan or "Index Name" in plan:
        rows = int(plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1))
        text = plan["Node Type"] + (f" on {plan['Relation Name']}" if "Relation Name" in plan else "")
        if "Index Name" in plan:
            text += f" using {plan['Index Name']}"
        text += f": {rows:,} rows" if "Actual Rows" in plan else ""
        removed = plan.get("Rows Removed by Filter", 0) * plan.get("Actual Loops", 1)
        if removed:
            text += f", {int(removed):,} removed by filter"
        out.append(text)
    elif plan.get("Node Type") in ("Sort", "WindowAgg", "Hash Join", "Merge Join", "Nested Loop", "Aggregate"):
        ms = plan.get("Actual Total Time")
        out.append(f"{plan['Node Type']}" + (f" ({ms:,.1f} ms)" if ms is not None else ""))
    for child in plan.get("Plans", []):
        _scans(child, out)
    return out


async def explain(conn: asyncpg.Connection, sql: str, params: list[Any]) -> Explained:
    """Run one statement under EXPLAIN ANALYZE in a rolled-back transaction."""
    note = ""
    if params and isinstance(params[0], (list, tuple)):  # an executemany: its first row
        note, params = f"executemany of {len(params)} rows, first row explained", list(params[0])
    for analyze in (True, False):
        options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
        transaction = conn.transaction()
        await transaction.start()
        try:
            raw = await conn.fetchval(f"EXPLAIN ({options}) {sql}", *params)
        except asyncpg.PostgresError as exc:
            if not analyze:
                return Explained(sql, None, note=f"not explained: {exc}")
            note = (note + "; " if note else "") + f"not re-run ({type(exc).__name__})"
            continue
        finally:
            await transaction.rollback()
        top = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        plan = top["Plan"]
        return Explained(
            sql, top.get("Execution Time") if analyze else None, top.get("Planning Time", 0.0),
            (plan.get("Shared Hit Blocks", 0), plan.get("Shared Read Blocks", 0)), _scans(plan, []), note,
        )  # fmt: skip
    raise AssertionError("unreachable")


async def explain_all(url: str, statements: list[tuple[str, list[Any]]]) -> list[Explained]:
    """Explain every SELECT/INSERT/UPDATE/DELETE of a request, in the order they were sent, with
    the planner settings of orderdeck's own connections."""
    conn = await asyncpg.connect(url, server_settings=db.PLANNER_SETTINGS)
    try:
        return [await explain(conn, sql, params) for sql, params in statements
                if sql.lstrip().upper().startswith(EXPLAINED)]  # fmt: skip
    finally:
        await conn.close()


def _shape(sql: str) -> str:
    return " ".join(sql.split())


def summarise(name: str, large: list[Explained], small: list[Explained], large_label: str, small_label: str) -> str:
    """The ``TOP`` slowest statements at the large size, with the same statement's time at the
    small size (matched by its text, else by its position)."""
    total = sum(e.ms or 0 for e in large)
    total_small = sum(e.ms or 0 for e in small)
    lines = [f"\n{name}: {len(large)} statements, {total:,.1f} ms executing at {large_label} "
             f"({len(small)}, {total_small:,.1f} ms at {small_label})"]  # fmt: skip
    by_shape = {_shape(e.sql): e for e in small}
    ranked = sorted(enumerate(large), key=lambda pair: -(pair[1].ms or 0))[:TOP]
    for position, e in ranked:
        twin = by_shape.get(_shape(e.sql)) or (small[position] if position < len(small) else None)
        at_small = f"{twin.ms:,.1f} ms" if twin and twin.ms is not None else "-"
        ms = f"{e.ms:,.1f} ms" if e.ms is not None else "not run"
        lines.append(f"  {ms} ({small_label}: {at_small}), planning {e.planning_ms:.1f} ms, buffers hit "
                     f"{e.buffers[0]:,} read {e.buffers[1]:,}{'; ' + e.note if e.note else ''}")  # fmt: skip
        lines.append(f"    {_shape(e.sql)[:160]}")
        for scan in e.scans[:6]:
            lines.append(f"      {scan}")
    return "\n".join(lines)
