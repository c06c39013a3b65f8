"""The `deskside` command: what an admin who runs a desk does from a terminal.

    deskside token | migrate | seed                 this machine's stack (as `make` does)
    deskside catalog export | import                the technology catalog as YAML or CSV
    deskside webhooks test <id>                     a test event, and what became of it
    deskside report adoption | productivity | sla   tables, JSON, CSV and --chart out.png

Expected failures (no gateway, a refused request, a bad file) end with a
sentence on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from deskside_cli import catalog as catalog_files
from deskside_cli import charts, local, reports
from deskside_cli.api import DEFAULT_URL, call_api, sentence_for
from deskside_cli.catalog import CatalogFormat, ImportPlan
from deskside_cli.errors import CliError
from deskside_cli.output import OutputFormat, Rows, print_tables, say, write_csv, write_json
from deskside_client import DesksideClient, DesksideError
from deskside_contracts.common import Role
from deskside_contracts.inventory import TechnologyCreate, TechnologyRead, TechnologyUpdate
from deskside_contracts.notify import DeliveryDetail, DeliveryStatus, WebhookRead

app = typer.Typer(
    help="Deskside from the command line: tokens, migrations, demo data, the catalog, "
    "webhooks and reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="The technology catalog as YAML or CSV.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook subscriptions.", no_args_is_help=True)
report_app = typer.Typer(help="The desk's reports, as tables, JSON, CSV or a chart.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(report_app, name="report", no_args_is_help=True)


def parse_moment(text: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 moment; without an offset it is UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a date (2026-11-01) nor a moment (2026-11-01T09:00Z)."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Url = Annotated[
    str,
    typer.Option(
        "--url", envvar="DESKSIDE_URL", help="The gateway.", show_envvar=True, metavar="URL"
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="DESKSIDE_TOKEN",
        help="A bearer token (a development one: deskside token --role admin).",
        show_envvar=True,
        show_default=False,
    ),
]
From = Annotated[
    datetime | None,
    typer.Option(
        "--from", parser=parse_moment, metavar="DATE", help="Start (UTC), e.g. 2026-11-01."
    ),
]
To = Annotated[
    datetime | None,
    typer.Option("--to", parser=parse_moment, metavar="DATE", help="End (UTC), exclusive."),
]
Format = Annotated[OutputFormat, typer.Option("--format", "-f", help="How to print it.")]
Chart = Annotated[
    Path | None,
    typer.Option("--chart", metavar="PNG", help="Also draw the report into this PNG file."),
]


def progress_console() -> Console:
    # Progress and notes go to stderr, so stdout stays clean for pipes.
    return Console(stderr=True, highlight=False)


def note(message: str) -> None:
    typer.echo(message, err=True)


@contextlib.contextmanager
def sentences_for_failures() -> Iterator[None]:
    """Expected failures become a message on stderr and a non-zero exit status."""
    try:
        yield
    except CliError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(exc.exit_code) from None


# --- this machine's stack -----------------------------------------------------------------------


@app.command("token")
def token_command(
    role: Annotated[
        list[Role] | None, typer.Option("--role", help="Repeat for several; requester if none.")
    ] = None,
    sub: Annotated[str, typer.Option(help="Who the token speaks for.")] = "dev-user",
    email: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[int | None, typer.Option(help="An agent's support tier.")] = None,
    department: Annotated[str | None, typer.Option()] = None,
    hours: Annotated[float | None, typer.Option(help="Lifetime in hours [default: 12].")] = None,
    ttl: Annotated[
        str | None, typer.Option(help="Lifetime as 30m, 12h or 7d (instead of --hours).")
    ] = None,
) -> None:
    """Print a development token signed with the stack's key (what make token prints)."""
    with sentences_for_failures():
        if hours is not None and ttl is not None:
            raise CliError("Give the lifetime once: --hours or --ttl.")
        lifetime = parse_ttl(ttl) if ttl is not None else timedelta(hours=hours or 12)
        typer.echo(
            local.development_token(
                roles=role or [],
                sub=sub,
                email=email,
                name=name,
                tier=tier,
                department=department,
                lifetime_seconds=int(lifetime.total_seconds()),
            )
        )


def parse_ttl(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        amount = float(text[:-1])
        seconds = amount * units[text[-1].lower()]
    except (ValueError, KeyError, IndexError):
        raise CliError(f"--ttl {text!r}: write a number and a unit, like 30m, 12h or 7d.") from None
    if seconds <= 0:
        raise CliError("--ttl must be longer than nothing.")
    return timedelta(seconds=seconds)


@app.command("migrate")
def migrate_command(
    services: Annotated[
        list[str] | None,
        typer.Argument(help="tickets, inventory or notify; every one if none.", show_default=False),
    ] = None,
) -> None:
    """Apply each service's migrations to its configured database (what make migrate runs)."""
    with sentences_for_failures():
        chosen = services or list(local.MIGRATIONS)
        unknown = [name for name in chosen if name not in local.MIGRATIONS]
        if unknown:
            choices = ", ".join(local.MIGRATIONS)
            raise CliError(f"No service called {', '.join(unknown)}: choose from {choices}.")
        for done in asyncio.run(local.migrate(chosen)):
            if done.before == done.after:
                say(f"{done.service}: already at {done.after} ({done.database})")
            else:
                start = done.before or "an empty database"
                say(f"{done.service}: {start} → {done.after} ({done.database})")


@app.command("seed")
def seed_command(
    url: Url = DEFAULT_URL,
    tickets: Annotated[int, typer.Option(min=0, help="How many tickets.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed, for repeatable data.")] = 2026,
) -> None:
    """Fill the running stack with a realistic desk, through its API (what make seed runs)."""
    with sentences_for_failures():
        started = time.monotonic()
        local.seed(url, tickets, seed, progress_console())
        say(
            f"Seeded {tickets} tickets and the estate of {local.EMPLOYEES} employees "
            f"into {url} in {time.monotonic() - started:.0f} s."
        )


# --- the catalog --------------------------------------------------------------------------------


CatalogFormatOption = Annotated[
    CatalogFormat | None,
    typer.Option("--format", "-f", help="yaml or csv [default: from the file's extension]."),
]


@catalog_app.command("export")
def catalog_export(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Where to write it (.yaml or .csv); stdout if none.", show_default=False
        ),
    ] = None,
    catalog_format: CatalogFormatOption = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Write the technology catalog to a file that can be reviewed and kept in version control."""
    with sentences_for_failures():
        chosen = (
            catalog_files.format_for(file, catalog_format)
            if file is not None
            else catalog_format or CatalogFormat.YAML
        )

        async def fetch(client: DesksideClient) -> list[TechnologyCreate]:
            return [catalog_files.entry_from_read(item) for item in await every_technology(client)]

        entries = call_api(url, token, fetch)
        text = catalog_files.dump_catalog(entries, chosen)
        if file is None:
            typer.echo(text, nl=False)
            return
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"Cannot write {file}: {exc.strerror or exc}.") from None
        note(f"Wrote {len(entries)} technologies to {file}.")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="A catalog file (.yaml or .csv).")],
    catalog_format: CatalogFormatOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would change; change nothing.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Create and update technologies so the catalog says what the file says."""
    with sentences_for_failures():
        entries = catalog_files.load_catalog(file, catalog_files.format_for(file, catalog_format))

        async def work(client: DesksideClient) -> tuple[ImportPlan, list[Failure]]:
            plan = catalog_files.plan_import(entries, await every_technology(client))
            if dry_run:
                return plan, []
            return plan, await apply_plan(client, plan)

        plan, failures = call_api(url, token, work)
        print_import_summary(plan, failures, dry_run=dry_run)
        if failures:
            raise typer.Exit(1)


Failure = tuple[str, str]  # (technology key, what went wrong)


async def every_technology(client: DesksideClient) -> list[TechnologyRead]:
    return [technology async for technology in client.catalog.iterate(page_size=200)]


async def apply_plan(client: DesksideClient, plan: ImportPlan) -> list[Failure]:
    """Creates first (an alternative may name a new one), then updates; failures are listed."""
    failures: list[Failure] = []
    known = (
        {update.current.key for update in plan.update} | set(plan.unchanged) | set(plan.untouched)
    )
    creating = {entry.key for entry in plan.create}
    # An alternative that is itself being created is set once both exist.
    later: list[tuple[str, str]] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=progress_console(),
    )
    with progress:
        task = progress.add_task("Applying the catalog", total=len(plan.create) + len(plan.update))
        for entry in plan.create:
            alternative = entry.recommended_alternative
            if alternative in creating and alternative not in known:
                entry = entry.model_copy(update={"recommended_alternative": None})
                later.append((entry.key, alternative))
            try:
                await client.catalog.create(entry)
                known.add(entry.key)
            except DesksideError as exc:
                failures.append((entry.key, sentence_for(exc)))
            progress.advance(task)
        for update in plan.update:
            key = update.current.key
            changes = TechnologyUpdate.model_validate(update.changes)
            try:
                await client.catalog.update(key, changes, if_match=update.current.version)
            except DesksideError as exc:
                failures.append((key, sentence_for(exc)))
            progress.advance(task)
        for key, alternative in later:
            if key in known and alternative in known:
                try:
                    await client.catalog.update(key, recommended_alternative=alternative)
                except DesksideError as exc:
                    failure = f"setting its alternative {alternative}: {sentence_for(exc)}"
                    failures.append((key, failure))
    return failures


def print_import_summary(plan: ImportPlan, failures: list[Failure], *, dry_run: bool) -> None:
    changed = Rows(title="Would change" if dry_run else "Changes", columns=("Technology", "What"))
    changed.rows += [(entry.key, "new") for entry in plan.create]
    changed.rows += [(u.current.key, ", ".join(sorted(u.changes))) for u in plan.update]
    if changed.rows:
        print_tables([changed])
    failed = {key for key, _ in failures}
    created = sum(1 for entry in plan.create if entry.key not in failed)
    updated = sum(1 for update in plan.update if update.current.key not in failed)
    verbs = ("would be created", "would be updated") if dry_run else ("created", "updated")
    summary = (
        f"{created} {verbs[0]}, {updated} {verbs[1]}, {len(plan.unchanged)} unchanged"
        + (f", {len(failures)} failed" if failures else "")
        + "."
    )
    if plan.untouched:
        summary += (
            f" {len(plan.untouched)} in Deskside but not in the file were left alone: "
            + ", ".join(plan.untouched)
            + "."
        )
    if dry_run:
        summary += " Nothing was sent (--dry-run)."
    say(summary)
    for key, message in failures:
        typer.echo(f"{key} failed: {message}", err=True)


# --- webhooks -----------------------------------------------------------------------------------


@webhooks_app.command("test")
def webhooks_test(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The subscription, wh_…")],
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the first attempt.")
    ] = 15.0,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Send a webhook.test event to a subscription now and say what its endpoint answered."""
    with sentences_for_failures():

        async def work(client: DesksideClient) -> tuple[WebhookRead, DeliveryDetail]:
            webhook = await client.webhooks.get(webhook_id)
            sent = await client.webhooks.test(webhook_id)
            deadline = time.monotonic() + wait
            while True:
                delivery = await client.webhooks.delivery(sent.id)
                tried = delivery.attempts > 0 or delivery.status is not DeliveryStatus.PENDING
                if tried or time.monotonic() >= deadline:
                    return webhook, delivery
                await asyncio.sleep(0.2)

        webhook, delivery = call_api(url, token, work)
        ok, message = describe_delivery(webhook, delivery, wait)
        if not ok:
            raise CliError(message)
        say(message)


def describe_delivery(
    webhook: WebhookRead, delivery: DeliveryDetail, wait: float
) -> tuple[bool, str]:
    """Whether the test got through, and what happened, as a sentence or two."""
    where = webhook.url
    last = delivery.attempt_log[-1] if delivery.attempt_log else None
    if delivery.status is DeliveryStatus.SUCCEEDED and last is not None:
        return True, (
            f"Delivered a webhook.test event to {where}: it answered {last.status_code} "
            f"in {last.duration_ms} ms (delivery {delivery.id})."
        )
    if delivery.status is DeliveryStatus.SKIPPED:
        return False, f"The test event to {where} was skipped: the endpoint is disabled."
    if last is None:
        return False, (
            f"The test event to {where} is queued (delivery {delivery.id}) but was not tried "
            f"within {wait:g} s: is notify's delivery worker running?"
        )
    if last.status_code is not None:
        reason = f"it answered HTTP {last.status_code}"
        excerpt = (
            last.response_excerpt.strip().splitlines()[0][:200]
            if last.response_excerpt.strip()
            else ""
        )
        if excerpt:
            reason += f" ({excerpt})"
    else:
        reason = f"no answer: {last.error or 'the connection failed'}"
    if delivery.status is DeliveryStatus.FAILED:
        return (
            False,
            f"The test event to {where} failed for good: {reason} (delivery {delivery.id}).",
        )
    retry = delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else "later"
    return False, (
        f"The test event to {where} did not get through: {reason}. Deskside tries again "
        f"at {retry} (delivery {delivery.id})."
    )


# --- reports ------------------------------------------------------------------------------------


@report_app.command("productivity")
def report_productivity(
    from_: From = None,
    to: To = None,
    output: Format = OutputFormat.TABLE,
    chart: Chart = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Work hours lost by technology, vendor and support tier (tickets opened in the range)."""
    with sentences_for_failures():
        report = call_api(
            url, token, lambda client: client.reports.productivity(start=from_, end=to)
        )
        if output is OutputFormat.JSON:
            write_json(report.model_dump(mode="json", by_alias=True))
        elif output is OutputFormat.CSV:
            write_csv(reports.productivity_csv(report))
        else:
            print_tables(reports.productivity_tables(report), reports.productivity_heading(report))
        if chart is not None:
            charts.productivity_chart(report, chart)
            note(f"Chart of hours lost per technology written to {chart}.")


@report_app.command("sla")
def report_sla(
    from_: From = None,
    to: To = None,
    output: Format = OutputFormat.TABLE,
    chart: Chart = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """SLA compliance, medians and backlog, for the range and week by week (default: 30 days)."""
    with sentences_for_failures():
        start, end = reports.resolve_range(from_, to, datetime.now(UTC))

        async def fetch(client: DesksideClient) -> reports.SlaReport:
            summary = await client.reports.summary(start=start, end=end)
            weeks = [
                await client.reports.summary(start=week_start, end=week_end)
                for week_start, week_end in reports.weekly_windows(start, end)
            ]
            return reports.SlaReport(summary=summary, weeks=weeks)

        report = call_api(url, token, fetch)
        if output is OutputFormat.JSON:
            write_json(report.document())
        elif output is OutputFormat.CSV:
            write_csv(reports.sla_weeks(report))
        else:
            print_tables(reports.sla_tables(report), reports.sla_heading(report))
        if chart is not None:
            charts.sla_chart(report, chart)
            note(f"Chart of weekly SLA compliance written to {chart}.")


@report_app.command("adoption")
def report_adoption(
    from_: From = None,
    to: To = None,
    department: Annotated[str | None, typer.Option(help="Only people of this department.")] = None,
    output: Format = OutputFormat.TABLE,
    chart: Chart = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """What the company runs on: per technology, support tier and category; device compliance."""
    with sentences_for_failures():
        report = call_api(
            url,
            token,
            lambda client: client.reports.adoption(start=from_, end=to, department=department),
        )
        if output is OutputFormat.JSON:
            write_json(report.model_dump(mode="json", by_alias=True))
        elif output is OutputFormat.CSV:
            write_csv(reports.adoption_technologies(report))
        else:
            print_tables(reports.adoption_tables(report), reports.adoption_heading(report))
        if chart is not None:
            charts.adoption_chart(report, chart)
            note(f"Chart of adoption by support tier written to {chart}.")


def main() -> None:
    app()
