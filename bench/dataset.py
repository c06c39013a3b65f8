"""The benchmark's desk: a year of tickets with comments, and the inventory behind them.

Rows are made in Python from a seeded random generator (the same
`BENCH_TICKETS` always gives the same desk) and written with PostgreSQL's
COPY, in chunks, into databases the services' own migrations created. The
secondary indexes are dropped first and built once at the end, as a bulk
load into a real database would do: keeping a GIN index current row by row
costs far more than building it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from deskside_inventory.catalog import starter_catalog
from deskside_tickets.config import TicketsSettings
from deskside_tickets.models import SlaPolicy
from deskside_tickets.seed import DECLARED, DEPARTMENTS, PLATFORMS, TECHNOLOGIES
from deskside_tickets.sla import Policy, business_minutes

CHUNK = 50_000
PEOPLE = 20_000
AGENTS = [f"agent-{n:02d}" for n in range(1, 41)]
DAYS = 365
REFERENCE_PREFIX = "DS"
# As long as the service waits before closing a resolved ticket (its default).
AUTO_CLOSE = timedelta(days=TicketsSettings.model_fields["auto_close_days"].default)

# Words a ticket's text is made of, so that full-text search meets terms of
# every frequency: symptoms most tickets share, and rarer models and codes.
SYMPTOMS = [
    "stopped syncing",
    "keeps asking for the password",
    "will not connect to the Wi-Fi",
    "crashes when opening attachments",
    "battery drains within hours",
    "shows a certificate warning",
    "cannot sign in after the update",
    "is very slow since this morning",
    "lost all notifications",
    "says the storage is full",
    "cannot find the printer",
    "drops the VPN every hour",
    "will not install company apps",
    "shows an authenticator error",
    "freezes during video calls",
]
CONTEXTS = [
    "It started after I travelled abroad.",
    "A colleague has the same problem.",
    "I restarted it twice and nothing changed.",
    "It worked fine yesterday afternoon.",
    "The customer meeting is in an hour.",
    "I tried the hotel network and the office network.",
    "The app asks me to update but the update fails.",
    "I reinstalled the app and signed in again.",
    "Only the shared folders are affected.",
    "The error appears right after the splash screen.",
]
MODELS = [
    "iPhone 15",
    "iPhone 13 mini",
    "Pixel 8",
    "Galaxy S23",
    "MacBook Air M2",
    "Surface Laptop 5",
    "ThinkPad X1",
    "iPad Air",
    "Galaxy Tab S9",
    "Fairphone 5",
]
ERRORS = [f"error 0x{code:04X}" for code in range(0x1000, 0x1000 + 400, 7)]
REPLIES = [
    "Could you send a screenshot of the error?",
    "Please try signing out and in again, then tell us what you see.",
    "We reset the sync token; it should catch up within the hour.",
    "The vendor confirmed a known issue and a fix next week.",
    "I called you and we fixed it together over a remote session.",
    "Removing and re-adding the account fixed it on my test device.",
    "Thanks, that worked. Everything syncs again.",
    "It happened again this morning, same error.",
]
INTERNAL_NOTES = [
    "Checked the conditional access log: sign-ins blocked by location.",
    "Same pattern as last week's outage; linking to the vendor case.",
    "Device is out of compliance: OS below the catalog's minimum.",
]
# Older tickets are mostly done; the last fortnight holds the live queue.
OPEN_STATUSES = ["new", "in_progress", "waiting_on_requester", "waiting_on_vendor"]
PRIORITIES = ["p1", "p2", "p3", "p3", "p3", "p4", "p4"]
LEVELS = ["low", "medium", "medium", "high", "critical"]
CHANNELS = ["web", "web", "web", "email", "email", "phone", "chat", "walk_in", "api"]

TICKET_COLUMNS = [
    "id",
    "number",
    "reference",
    "title",
    "description",
    "status",
    "requester_id",
    "requester_email",
    "requester_name",
    "created_by",
    "version",
    "created_at",
    "updated_at",
    "channel",
    "impact",
    "urgency",
    "priority",
    "technology_key",
    "technology_name",
    "technology_vendor",
    "technology_tier",
    "enrichment",
    "assignee_id",
    "tier",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "resolution",
    "sla_policy_id",
    "sla_first_response_due_at",
    "sla_resolution_due_at",
    "sla_first_response_breached",
    "sla_resolution_breached",
    "work_stopped",
    "minutes_lost",
    "search_text",
]
COMMENT_COLUMNS = [
    "id",
    "ticket_id",
    "author_id",
    "author_email",
    "author_name",
    "body",
    "internal",
    "created_at",
]


@dataclass
class LoadTimings:
    """Seconds spent per step, and what was loaded."""

    tickets: int = 0
    comments: int = 0
    devices: int = 0
    accounts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Technology:
    key: str
    name: str
    vendor: str
    tier: str
    problems: Sequence[str]


def catalog() -> list[Technology]:
    """The starter catalog, with the problems `make seed` knows for its best-known entries."""
    known = {key: problems for key, _, _, problems in TECHNOLOGIES}
    return [
        Technology(
            key=entry.key,
            name=entry.name,
            vendor=entry.vendor or "unknown",
            tier=str(entry.support_tier),
            problems=known.get(entry.key, []),
        )
        for entry in starter_catalog()
    ]


def person(number: int) -> tuple[str, str, str]:
    sub = f"emp-{number:05d}"
    return sub, f"{sub}@example.com", f"Employee {number}"


def ticket_rows(
    count: int, now: datetime, policy: Policy | None, seed: int = 7
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(ticket row, its comment rows) for `count` tickets spread evenly over the last year."""
    rng = random.Random(seed)
    technologies = catalog()
    start = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / max(count, 1)
    for number in range(1, count + 1):
        created = start + step * number
        age = now - created
        technology = rng.choice(technologies)
        requester, email, name = person(rng.randrange(1, PEOPLE + 1))
        symptom = rng.choice(list(technology.problems) or SYMPTOMS)
        title = f"{technology.name}: {symptom}"
        description = " ".join(
            [
                f"My {rng.choice(MODELS)} {rng.choice(SYMPTOMS)}.",
                rng.choice(CONTEXTS),
                f"The screen says {rng.choice(ERRORS)}." if rng.random() < 0.5 else "",
                rng.choice(CONTEXTS),
            ]
        ).strip()
        if age > timedelta(days=14):
            status = rng.choices(["closed", "resolved", *OPEN_STATUSES], [85, 10, 2, 1, 1, 1])[0]
        else:
            status = rng.choice([*OPEN_STATUSES, "resolved"])
        done = status in ("resolved", "closed")
        assigned = status != "new"
        first_response = created + timedelta(minutes=rng.randint(3, 600)) if assigned else None
        resolved = created + timedelta(hours=rng.randint(1, 120)) if done else None
        if resolved is not None and resolved > now:
            resolved = now
        closed = resolved + timedelta(days=3) if status == "closed" and resolved else None
        if status == "resolved" and resolved is not None and now - resolved > AUTO_CLOSE:
            # The service closes a resolved ticket once its auto-close days are up, so a
            # live desk holds none older. A backlog of them kept housekeeping closing 100
            # every 30 s through every figure, and its bursts showed in every p99.
            status, closed = "closed", resolved + AUTO_CLOSE
        if closed is not None and closed > now:
            closed = now
        updated = max(moment for moment in (created, first_response, resolved, closed) if moment)
        comments: list[tuple[Any, ...]] = []
        public_text: list[str] = []
        ticket_id = f"tkt_bench{number:021d}"
        for position in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            internal = rng.random() < 0.25
            body = rng.choice(INTERNAL_NOTES if internal else REPLIES)
            author = rng.choice(AGENTS) if internal or position % 2 == 0 else requester
            if not internal:
                public_text.append(body)
            comments.append(
                (
                    f"cmt_bench{number:013d}{position:08d}",
                    ticket_id,
                    author,
                    f"{author}@example.com",
                    None,
                    body,
                    internal,
                    min(created + timedelta(minutes=30 * (position + 1)), now),
                )
            )
        breached = rng.random() < 0.12
        work_stopped = rng.random() < 0.1
        settled = resolved or closed
        policy_id = policy.id if policy is not None else None
        ticket = (
            ticket_id,
            number,
            f"{REFERENCE_PREFIX}-{number:06d}",
            title,
            description,
            status,
            requester,
            email,
            name,
            requester,
            1 + len(comments),
            created,
            updated,
            rng.choice(CHANNELS),
            rng.choice(LEVELS),
            rng.choice(LEVELS),
            rng.choice(PRIORITIES),
            technology.key,
            technology.name,
            technology.vendor,
            technology.tier,
            "done",
            rng.choice(AGENTS) if assigned else None,
            rng.choice([1, 1, 1, 2, 3]),
            first_response,
            resolved,
            closed,
            "Fixed together with the requester." if done else None,
            policy_id,
            created + timedelta(hours=4) if policy_id else None,
            created + timedelta(days=3) if policy_id else None,
            breached and rng.random() < 0.5,
            breached,
            work_stopped,
            # Kept at resolution, as the service does (sla.settle_minutes_lost).
            business_minutes(policy, created, settled) if work_stopped and settled else None,
            " ".join([title, description, *public_text]),
        )
        yield ticket, comments


async def load_tickets(database_url: str, count: int, timings: LoadTimings) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SET maintenance_work_mem = '512MB'")
        policy = await _default_policy(connection)
        indexes = await _drop_secondary_indexes(connection, ["tickets", "ticket_comments"])
        began = time.perf_counter()
        now = datetime.now(UTC)
        tickets: list[tuple[Any, ...]] = []
        comments: list[tuple[Any, ...]] = []
        for ticket, its_comments in ticket_rows(count, now, policy):
            tickets.append(ticket)
            comments.extend(its_comments)
            if len(tickets) >= CHUNK:
                await _copy(connection, tickets, comments, timings)
                tickets, comments = [], []
        await _copy(connection, tickets, comments, timings)
        timings.seconds["generate and COPY tickets, comments"] = time.perf_counter() - began

        began = time.perf_counter()
        for statement in indexes:
            await connection.execute(statement)
        timings.seconds["build the secondary indexes"] = time.perf_counter() - began

        began = time.perf_counter()
        await connection.execute("SELECT setval('ticket_reference_seq', $1)", count)
        await connection.execute("VACUUM ANALYZE tickets")
        await connection.execute("VACUUM ANALYZE ticket_comments")
        timings.seconds["VACUUM ANALYZE"] = time.perf_counter() - began
    finally:
        await connection.close()


async def _copy(
    connection: asyncpg.Connection,
    tickets: list[tuple[Any, ...]],
    comments: list[tuple[Any, ...]],
    timings: LoadTimings,
) -> None:
    if tickets:
        await connection.copy_records_to_table("tickets", records=tickets, columns=TICKET_COLUMNS)
    if comments:
        await connection.copy_records_to_table(
            "ticket_comments", records=comments, columns=COMMENT_COLUMNS
        )
    timings.tickets += len(tickets)
    timings.comments += len(comments)


async def _default_policy(connection: asyncpg.Connection) -> Policy | None:
    """The SLA policy new tickets get, with its calendar, as the service reads it."""
    row = await connection.fetchrow(
        "SELECT id, name, is_default, targets, business_hours, pause_on"
        " FROM sla_policies ORDER BY is_default DESC, id LIMIT 1"
    )
    if row is None:
        return None
    fields = {key: row[key] for key in ("id", "name", "is_default")}
    for key in ("targets", "business_hours", "pause_on"):
        fields[key] = json.loads(row[key])
    return Policy.from_row(SlaPolicy(**fields))


async def _drop_secondary_indexes(
    connection: asyncpg.Connection, tables: Sequence[str]
) -> list[str]:
    """Drop every index not behind a constraint; return the statements that rebuild them."""
    rows = await connection.fetch(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        list(tables),
    )
    for row in rows:
        await connection.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


async def load_inventory(database_url: str, timings: LoadTimings, seed: int = 11) -> None:
    """Every employee's devices and declared accounts, and their departments."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    devices, accounts, departments = [], [], []
    for number in range(1, PEOPLE + 1):
        sub, email, name = person(number)
        departments.append((sub, rng.choice(DEPARTMENTS), now))
        for index in range(rng.choice([1, 1, 2, 2, 3])):
            platform, model, versions = rng.choice(PLATFORMS)
            enrolled = now - timedelta(days=rng.randint(0, DAYS))
            compliance = rng.choices(["compliant", "noncompliant", "unknown"], [80, 12, 8])[0]
            devices.append(
                (
                    f"dev_bench{number:013d}{index:04d}",
                    sub,
                    email,
                    name,
                    "personal",
                    platform,
                    model,
                    rng.choice(versions),
                    compliance,
                    "[]",
                    enrolled,
                    "[]",
                    1,
                    enrolled,
                    enrolled,
                )
            )
        for index, (technology, purpose) in enumerate(rng.sample(DECLARED, rng.randint(0, 3))):
            declared = now - timedelta(days=rng.randint(0, DAYS))
            accounts.append(
                (
                    f"acc_bench{number:013d}{index:04d}",
                    sub,
                    email,
                    name,
                    technology,
                    email,
                    purpose,
                    rng.choice(["public", "internal", "internal", "confidential"]),
                    rng.choices(["approved", "requested", "rejected"], [70, 20, 10])[0],
                    1,
                    declared,
                    declared,
                )
            )
    began = time.perf_counter()
    connection = await asyncpg.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "person_departments",
            records=departments,
            columns=["person_id", "department", "updated_at"],
        )
        await connection.copy_records_to_table(
            "devices",
            records=devices,
            columns=[
                "id",
                "owner_id",
                "owner_email",
                "owner_name",
                "ownership",
                "technology",
                "model",
                "os_version",
                "compliance",
                "compliance_reasons",
                "enrolled_at",
                "apps",
                "version",
                "created_at",
                "updated_at",
            ],
        )
        await connection.copy_records_to_table(
            "accounts",
            records=accounts,
            columns=[
                "id",
                "owner_id",
                "owner_email",
                "owner_name",
                "technology",
                "identifier",
                "purpose",
                "data_classification",
                "status",
                "version",
                "created_at",
                "updated_at",
            ],
        )
        for table in ("person_departments", "devices", "accounts"):
            await connection.execute(f"VACUUM ANALYZE {table}")
    finally:
        await connection.close()
    timings.devices, timings.accounts = len(devices), len(accounts)
    timings.seconds["generate and COPY the inventory"] = time.perf_counter() - began
