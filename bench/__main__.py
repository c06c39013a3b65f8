"""`make bench`: Deskside against its own targets, and against the stack's limits, in one run.

Starts PostgreSQL (or uses the one the tests would use), loads a year of
tickets, starts the stack as real processes and two minimal FastAPI apps
beside it, drives each with wrk, and writes `bench/results/<date>.md` and
`.json`. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tests.support.metrics import requests_in_progress
from tests.support.postgres import (
    PostgresServer,
    create_database,
    drop_database,
    find_or_start_postgres,
    stop_postgres,
)
from tests.support.servers import free_ports

from bench import dataset, events, plans, vacuum
from bench.figures import CREATE_SQL_CEILING, Figure, Run, write_results
from bench.limits import forget_ceiling_rows
from bench.load import Wrk
from deskside_kit.devstack import GATEWAY, SERVICES, Stack
from deskside_kit.paging import encode_cursor
from deskside_kit.tokens import mint_token

BENCH_DIR = Path(__file__).resolve().parent
DATABASES = {"tickets": "bench_tickets", "inventory": "bench_inventory", "notify": "bench_notify"}
LIMIT_DATABASE = "bench_limit"
REPORT_TIMEOUT_SECONDS = 120
PORT_NAMES = ("tickets", "inventory", "notify", "gateway", "json", "insert", "create_sql")
SEARCHES = [
    "syncing",
    "password",
    "printer",
    "vpn",
    "certificate warning",
    "storage full",
    "Pixel",
    "screenshot",
    "0x1015",
    "hotel network",
    "authenticator",
    "Dropbox shared folder",
]
FILTERS = [
    ("in_progress", "ios"),
    ("waiting_on_requester", "windows"),
    ("closed", "dropbox"),
    ("resolved", "gmail"),
    ("new", "macos"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--tickets", type=int, default=int(os.environ.get("BENCH_TICKETS", 1_000_000))
    )
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 20)))
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", nargs="*", help="run only the figures whose name starts so")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        sys.exit("bench: wrk is not installed; `make bench` installs it (Debian package wrk).")
    run = Run(tickets=args.tickets, seconds=args.seconds, connections=args.connections)
    work = Path(tempfile.mkdtemp(prefix="deskside-bench-"))
    # The same server the tests would use: DESKSIDE_TEST_POSTGRES_URL, one on
    # 127.0.0.1:5432, or a throwaway one started here and removed at the end.
    server, how = find_or_start_postgres(work / "postgres")
    try:
        if server is None:
            sys.exit(f"bench: no PostgreSQL: {how}")
        _say(how)
        asyncio.run(
            _bench(run, Wrk(wrk_path, BENCH_DIR / "wrk" / "requests.lua"), args, server, work)
        )
    finally:
        if server is not None:
            stop_postgres(server)
        shutil.rmtree(work, ignore_errors=True)


async def _bench(
    run: Run, wrk: Wrk, args: argparse.Namespace, server: PostgresServer, work: Path
) -> None:
    names = [*DATABASES.values(), LIMIT_DATABASE]
    for name in names:
        await create_database(server, name)
    urls = {part: server.database_url(name) for part, name in DATABASES.items()}
    plain = {
        part: server.database_url(name, driver="postgresql") for part, name in DATABASES.items()
    }
    try:
        for part, url in urls.items():
            _migrate(part, url)
        _say(f"loading {run.tickets:,} tickets ...")
        timings = dataset.LoadTimings()
        await dataset.load_tickets(plain["tickets"], run.tickets, timings)
        await dataset.load_inventory(plain["inventory"], timings)
        run.load = timings
        for step, seconds in timings.seconds.items():
            _say(f"  {step}: {seconds:.1f} s")
        run.autovacuum_off = await vacuum.autovacuum_is_off(plain["tickets"])
        await _measure(run, wrk, server, urls, plain, work, args)
        if not args.only:
            await _stand_in_for_autovacuum(plain, run, before="the query plans")
            await plans.write_plans(plain["tickets"], BENCH_DIR / "plans", run.tickets)
        # A partial run (--only) is for a quick look: it stays out of the record
        # that "no regression" compares against.
        write_results(run, BENCH_DIR / "results" / ("partial" if args.only else ""))
    finally:
        if not args.keep:
            for name in names:
                await drop_database(server, name)


async def _measure(
    run: Run,
    wrk: Wrk,
    server: PostgresServer,
    urls: dict[str, str],
    plain: dict[str, str],
    work: Path,
    args: argparse.Namespace,
) -> None:
    jwt_secret = secrets.token_urlsafe(48)
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
    stack = Stack(
        ports={part: ports[part] for part in ("tickets", "inventory", "notify", "gateway")},
        env={
            "DESKSIDE_ENV": "development",
            "DESKSIDE_VAR_DIR": str(work / "var"),
            "DESKSIDE_JWT_SECRET": jwt_secret,
            "DESKSIDE_SERVICE_TOKEN": secrets.token_urlsafe(48),
            "DESKSIDE_TICKETS_DATABASE_URL": urls["tickets"],
            "DESKSIDE_INVENTORY_DATABASE_URL": urls["inventory"],
            "DESKSIDE_NOTIFY_DATABASE_URL": urls["notify"],
            "DESKSIDE_NOTIFY_MAIL_DIR": str(work / "mail"),
            # Migrated above with `migrate`, as production does; a service that migrates at
            # start-up keeps Alembic loaded, which its resident memory would count.
            **{f"DESKSIDE_{part.upper()}_MIGRATE_ON_START": "false" for part in urls},
            # The limiter still runs (and verifies every token), but never says no.
            "DESKSIDE_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "DESKSIDE_GATEWAY_RATE_LIMIT_BURST": "1000000",
        },
        log_dir=work / "logs",
    )
    limit_document = await _start_and_sample(stack, jwt_secret, plain)
    limits = _start_limits(
        ports,
        server.database_url(LIMIT_DATABASE, driver="postgresql"),
        plain["tickets"],
        limit_document,
        work,
    )
    try:
        direct = stack.url(SERVICES[0])
        gateway = stack.gateway_url
        json_limit = f"http://127.0.0.1:{ports['json']}"
        insert_limit = f"http://127.0.0.1:{ports['insert']}"
        create_sql = f"http://127.0.0.1:{ports['create_sql']}"
        agent = mint_token(
            jwt_secret, sub="agent-01", roles=["agent"], email="agent-01@example.com"
        )
        requester = mint_token(
            jwt_secret, sub="emp-00001", roles=["requester"], email="emp-00001@example.com"
        )
        run.memory_idle = _memory(stack)
        refs = await _references(plain["tickets"], 2000)
        gets = [f"GET /v1/tickets/{ref}" for ref in refs]
        create_body = {
            "title": "Outlook keeps asking for the password",
            "description": "Since the update this morning Outlook asks for my password every "
            "few minutes, on the laptop and on the phone.",
            "impact": "medium",
            "urgency": "high",
        }
        wanted = args.only

        def want(name: str) -> bool:
            return not wanted or any(name.startswith(prefix) for prefix in wanted)

        c = run.connections

        async def figure(name: str, **options: Any) -> Figure | None:
            if not want(name):
                return None
            await _settle(plain, run, stack, before=name)
            _say(f"{name} ...")
            result = await asyncio.to_thread(wrk.run, seconds=run.seconds, **options)
            figure = Figure.from_wrk(name, result)
            run.figures[name] = figure
            _say("  " + figure.line())
            return figure

        await figure("limit: minimal FastAPI JSON", base=json_limit, requests=gets, connections=c)
        await figure(
            "GET ticket, straight to tickets",
            base=direct,
            requests=gets,
            token=agent,
            connections=c,
        )
        await figure(
            "GET ticket, through the gateway",
            base=gateway,
            requests=gets,
            token=agent,
            connections=c,
        )
        await figure(
            "GET ticket, straight, 8 connections",
            base=direct,
            requests=gets,
            token=agent,
            connections=8,
        )
        await figure(
            "GET ticket, gateway, 8 connections",
            base=gateway,
            requests=gets,
            token=agent,
            connections=8,
        )
        await figure(
            "limit: minimal FastAPI + asyncpg insert",
            base=insert_limit,
            requests=["POST /rows"],
            body=create_body,
            connections=c,
        )
        if await figure(
            CREATE_SQL_CEILING,
            base=create_sql,
            requests=["POST /v1/tickets"],
            body=create_body,
            connections=c,
        ):
            _say(
                f"  (deleted the ceiling's {await forget_ceiling_rows(plain['tickets']):,} tickets)"
            )
        await figure(
            "create ticket, straight to tickets",
            base=direct,
            requests=["POST /v1/tickets"],
            body=create_body,
            token=requester,
            connections=c,
        )
        await figure(
            "create ticket, through the gateway",
            base=gateway,
            requests=["POST /v1/tickets"],
            body=create_body,
            token=requester,
            connections=c,
        )
        deep = await _deep_cursors(plain["tickets"], int(run.tickets * 0.9), 50)
        reads = {
            "list, first page": ["GET /v1/tickets?limit=50"],
            "list, page after 90% of the rows": [
                f"GET /v1/tickets?limit=50&cursor={cursor}" for cursor in deep
            ],
            "search q= (full text)": [
                f"GET /v1/tickets?limit=50&q={_quote(words)}" for words in SEARCHES
            ],
            "filtered list (status + technology + assignee)": [
                f"GET /v1/tickets?limit=50&status={status}&technology={technology}"
                f"&assignee=agent-{n:02d}"
                for status, technology in FILTERS
                for n in range(1, 41)
            ],
        }
        for name, requests in reads.items():
            await figure(name, base=direct, requests=requests, token=agent, connections=c)
            # At 64 connections a p50 is mostly time spent queueing behind the other
            # 63; one connection gives the query's own latency, which the targets mean.
            await figure(
                f"{name}, 1 connection", base=direct, requests=requests, token=agent, connections=1
            )
        year = (datetime.now(UTC) - timedelta(days=dataset.DAYS + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, path in (
            ("report: tickets summary", f"/v1/reports/tickets/summary?from={year}"),
            ("report: productivity", f"/v1/reports/tickets/productivity?from={year}"),
            ("report: adoption", f"/v1/reports/adoption?from={year}"),
        ):
            # A report may take long: wrk waits for it up to two minutes.
            await figure(
                name,
                base=gateway,
                requests=[f"GET {path}"],
                token=agent,
                connections=1,
                timeout=REPORT_TIMEOUT_SECONDS,
            )
        if want("event to webhook"):
            processes = {part.name: stack.processes[part.name].pid for part in (*SERVICES, GATEWAY)}
            admin = mint_token(jwt_secret, sub="admin-01", roles=["admin"])
            # Last of all: the target's rate leaves a backlog that takes minutes to work
            # off, and a figure after it would pay for that. The sustainable rate goes
            # first, on an idle stack, for the same reason.
            for rate, seconds in ((events.SUSTAINABLE_RATE, 30), (events.TARGET_RATE, 60)):
                await _settle(plain, run, stack, before=f"event to webhook at {rate} creates/s")
                _say(f"event to webhook at {rate} creates/s ...")
                result = await events.measure(
                    gateway,
                    admin_token=admin,
                    requester_token=requester,
                    rate=rate,
                    seconds=seconds,
                    processes=processes,
                )
                _say("  " + json.dumps(result))
                if rate == events.TARGET_RATE:
                    run.webhooks = result
                else:
                    run.webhooks_sustainable = result
        run.memory_after = _memory(stack)
    finally:
        for process in limits:
            process.terminate()
            process.wait(timeout=10)
        stack.stop()


async def _start_and_sample(stack: Stack, jwt_secret: str, plain: dict[str, str]) -> str:
    """Start the stack; return the body tickets answers for one ticket (the JSON limit's answer)."""
    await asyncio.to_thread(stack.start)
    token = mint_token(jwt_secret, sub="agent-01", roles=["agent"])
    reference = (await _references(plain["tickets"], 1))[0]
    async with httpx.AsyncClient(base_url=stack.url(SERVICES[0]), timeout=30) as client:
        response = await client.get(
            f"/v1/tickets/{reference}", headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()
        return response.text


def _start_limits(
    ports: dict[str, int], database_url: str, tickets_url: str, document: str, work: Path
) -> list[subprocess.Popen[bytes]]:
    environment = {
        **os.environ,
        "BENCH_LIMIT_DOCUMENT": document,
        "BENCH_LIMIT_DATABASE_URL": database_url,
        "BENCH_LIMIT_TICKETS_DATABASE_URL": tickets_url,
    }
    apps = {"json": "json_app", "insert": "insert_app", "create_sql": "create_sql_app"}
    processes = []
    for part, app in apps.items():
        port = ports[part]
        log = (work / "logs" / f"limit-{app}.log").open("ab")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"bench.limits:{app}",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "--no-server-header",
                ],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    for part in apps:
        _wait_listening(ports[part])
    return processes


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _memory(stack: Stack) -> dict[str, float]:
    """Resident memory of each process, in MiB."""
    sizes = {}
    for part in (*SERVICES, GATEWAY):
        process = stack.processes[part.name]
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes[part.name] = round(int(line.split()[1]) / 1024, 1)
    return sizes


# What the stack still has to do after a figure that wrote: events to relay,
# mail to send, webhooks to deliver. Each figure starts once it is done. Only
# work due now counts: a retry waiting out its back-off is no load meanwhile.
# (The event figure deletes its subscription when its receiver goes, and with
# it the deliveries still owed to it.)
BACKLOG = {
    "tickets": "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
    "notify": """
        SELECT (SELECT count(*) FROM notifications WHERE status = 'pending'
                  AND (next_attempt_at IS NULL OR next_attempt_at <= now()))
             + (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'
                  AND (next_attempt_at IS NULL OR next_attempt_at <= now()))
    """,
}
SETTLE_TIMEOUT_SECONDS = 120


async def _settle(plain: dict[str, str], run: Run, stack: Stack, *, before: str) -> None:
    """Wait until the stack has worked off what earlier figures left it, so it is idle.

    First the requests a figure left unanswered (`_wait_for_answers`), then the
    events, mail and webhooks they left to send. On a server without autovacuum,
    then do what autovacuum would have by now; then take a checkpoint (`_checkpoint`).
    """
    await _wait_for_answers(stack)
    began = time.monotonic()
    while True:
        left = 0
        for part, query in BACKLOG.items():
            connection = await asyncpg.connect(plain[part])
            try:
                left += await connection.fetchval(query)
            finally:
                await connection.close()
        waited = time.monotonic() - began
        if not left or waited > SETTLE_TIMEOUT_SECONDS:
            if waited >= 1:
                _say(
                    f"  (waited {waited:.0f} s for the stack to work off its backlog; {left} left)"
                )
            break
        await asyncio.sleep(1)
    await _stand_in_for_autovacuum(plain, run, before=before)
    await _checkpoint(plain["tickets"])


async def _wait_for_answers(stack: Stack) -> None:
    """Wait until no process of the stack is still answering a request.

    When wrk stops, the requests its 64 connections had sent are still being
    answered, about half a second's work after a search figure. A figure that
    started then queued behind them, and wrk, which corrects for coordinated
    omission, counts one stalled request as the many it would have sent
    meanwhile: a one-connection search figure read p99 216 ms for one stall of
    430 ms, 28 ms with none.
    """
    urls = [stack.url(part) for part in SERVICES] + [stack.gateway_url]
    began = time.monotonic()
    async with httpx.AsyncClient(trust_env=False, timeout=SETTLE_TIMEOUT_SECONDS) as client:
        while True:
            busy = 0
            for url in urls:
                metrics = await client.get(f"{url}/metrics")
                metrics.raise_for_status()
                # Each process counts the /metrics request that reads it.
                busy += round(requests_in_progress(metrics.text)) - 1
            waited = time.monotonic() - began
            if not busy:
                return
            if waited > SETTLE_TIMEOUT_SECONDS:
                _say(f"  (still answering {busy} requests after {waited:.0f} s; measuring anyway)")
                return
            await asyncio.sleep(0.1)


async def _checkpoint(database_url: str) -> None:
    """Write every dirty page now, so the server's next timed checkpoint is minutes away.

    A timed checkpoint that began inside a figure slowed it (its writes, and a whole
    page to the WAL for each page changed first after it): the event figure's
    database CPU per ticket read 1.97 and 2.24 ms in two runs where one did, 1.5 to
    1.6 in one where none did. With one just before each figure, every figure
    starts from the same state. The stack's databases share
    one server, so one checkpoint covers them all. A role allowed no checkpoint (not a
    superuser, nor `pg_checkpoint`) leaves the server to its own schedule.
    """
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        pass
    finally:
        await connection.close()


async def _stand_in_for_autovacuum(plain: dict[str, str], run: Run, *, before: str) -> None:
    """On a server without autovacuum, do what it would have by now (`bench.vacuum`)."""
    if not run.autovacuum_off:
        return
    for part, url in plain.items():
        for done in await vacuum.vacuum_where_due(url):
            run.stand_in_vacuums.append(f"{done} ({part}), before {before}")
            _say(f"  ({done} in {part}: due by autovacuum's rule, which is off on this server)")


def _migrate(part: str, url: str) -> None:
    environment = {
        **os.environ,
        f"DESKSIDE_{part.upper()}_DATABASE_URL": url,
        "DESKSIDE_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", f"deskside_{part}", "migrate"], env=environment, check=True
    )


async def _references(database_url: str, count: int) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT reference FROM tickets TABLESAMPLE SYSTEM (1) LIMIT $1", count
        )
        return [row["reference"] for row in rows] or [
            row["reference"]
            for row in await connection.fetch("SELECT reference FROM tickets LIMIT $1", count)
        ]
    finally:
        await connection.close()


async def _deep_cursors(database_url: str, offset: int, count: int) -> list[str]:
    """Cursors of the default order (-created_at) that start `offset` rows in."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT created_at, id FROM tickets"
            " ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT $2",
            offset,
            count,
        )
    finally:
        await connection.close()
    return [encode_cursor([row["created_at"], row["id"]]) for row in rows]


def _quote(words: str) -> str:
    from urllib.parse import quote

    return quote(words)


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


if __name__ == "__main__":
    main()
