"""Standing in for autovacuum on a server that has it switched off.

A test server may run without autovacuum (deterministic timings for the
tests), but no production server does, and the reports depend on it: they
count and rank from covering indexes, which stay index-only only while
vacuums keep the visibility map current. On such a server the benchmark does
autovacuum's job between figures, by autovacuum's own rule: a table is
vacuumed (or analyzed) once its changes pass the threshold its settings give
(`tickets` has its own, in its migrations). A table autovacuum would leave
alone is left alone here too. It is a little kinder than the real thing:
the vacuum runs as soon as the stack settles, unthrottled, where autovacuum
would get to it within its minute's nap and at its cost limit.
"""

from __future__ import annotations

import asyncpg

_DUE = """
    SELECT format('%I.%I', s.schemaname, s.relname) AS name,
           s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze,
           greatest(c.reltuples, 0) AS tuples,
           coalesce(c.reloptions, '{}') AS options
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
"""
# Each rule: the counter it watches, then the server settings for its threshold and scale.
_RULES = {
    "VACUUM": (
        ("n_dead_tup", "autovacuum_vacuum_threshold", "autovacuum_vacuum_scale_factor"),
        (
            "n_ins_since_vacuum",
            "autovacuum_vacuum_insert_threshold",
            "autovacuum_vacuum_insert_scale_factor",
        ),
    ),
    "ANALYZE": (
        ("n_mod_since_analyze", "autovacuum_analyze_threshold", "autovacuum_analyze_scale_factor"),
    ),
}


async def autovacuum_is_off(database_url: str) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval("SHOW autovacuum") == "off"
    finally:
        await connection.close()


async def vacuum_where_due(database_url: str) -> list[str]:
    """Vacuum and analyze what autovacuum would now; returns what was done ("VACUUM tickets")."""
    connection = await asyncpg.connect(database_url)
    done = []
    try:
        settings = {
            row["name"]: float(row["setting"])
            for row in await connection.fetch(
                "SELECT name, setting FROM pg_settings WHERE name LIKE 'autovacuum_%'"
                " AND vartype IN ('integer', 'real')"
            )
        }
        # A backend's counts reach these statistics when it is idle, up to ten seconds
        # after its last transaction: the very end of a figure may count at the next settle.
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        for table in await connection.fetch(_DUE):
            options = dict(option.split("=", 1) for option in table["options"])
            if options.get("autovacuum_enabled", "true").lower() in ("false", "off", "0"):
                continue
            for command, rules in _RULES.items():
                if any(
                    _passes(table[counter], table["tuples"], options, settings, threshold, scale)
                    for counter, threshold, scale in rules
                ):
                    await connection.execute(f"{command} {table['name']}")
                    done.append(f"{command} {table['name'].removeprefix('public.')}")
    finally:
        await connection.close()
    return done


def _passes(
    count: int,
    tuples: float,
    options: dict[str, str],
    settings: dict[str, float],
    threshold: str,
    scale: str,
) -> bool:
    """Autovacuum's test: `count` over threshold + scale factor times rows (a -1 threshold: off)."""
    base = float(options.get(threshold, settings[threshold]))
    if base < 0:
        return False
    return count > base + float(options.get(scale, settings[scale])) * tuples
