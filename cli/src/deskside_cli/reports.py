"""The three reports as tables, CSV rows and JSON documents.

`productivity` and `adoption` show one API report each. `sla` shows the
tickets summary for the whole range and, to see compliance over time, the
same summary asked once per week of the range (the API has no time series):
each week counts the tickets opened in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deskside_cli.errors import CliError
from deskside_cli.output import Rows
from deskside_contracts.inventory import AdoptionReport, SupportTier
from deskside_contracts.tickets import HoursLost, ProductivityReport, SummaryReport

# What the tickets reports use when no range is given: the 30 days up to now.
DEFAULT_DAYS = 30
WEEK = timedelta(days=7)


def resolve_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    end = end or now
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise CliError("--from must be before --to.")
    return start, end


def weekly_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Seven-day windows from `start`; the last one ends at `end`, so it may be shorter."""
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        stop = min(cursor + WEEK, end)
        windows.append((cursor, stop))
        cursor = stop
    return windows


def moment(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def tickets(count: int) -> str:
    return "1 ticket" if count == 1 else f"{count:,} tickets"


def span(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return "all time"
    return f"{moment(start) if start else 'the start'} → {moment(end) if end else 'now'}"


# --- productivity -------------------------------------------------------------------------------


def productivity_heading(report: ProductivityReport) -> str:
    return (
        f"[bold]Productivity[/bold], tickets opened {span(report.from_, report.to)}: "
        f"{tickets(report.tickets)}, {report.hours_lost:,.1f} work hours lost"
    )


def productivity_tables(report: ProductivityReport) -> list[Rows]:
    def table(title: str, first: str, items: list[HoursLost]) -> Rows:
        if first != "Technology":
            # Vendors and tiers are their own names.
            return Rows(
                title=title,
                columns=(first, "Hours lost", "Tickets"),
                rows=[(item.key, item.hours_lost, item.tickets) for item in items],
                numeric=frozenset({"Hours lost", "Tickets"}),
            )
        return Rows(
            title=title,
            columns=(first, "Name", "Hours lost", "Tickets"),
            rows=[(item.key, item.name, item.hours_lost, item.tickets) for item in items],
            numeric=frozenset({"Hours lost", "Tickets"}),
        )

    return [
        table("Hours lost by technology", "Technology", report.by_technology),
        table("Hours lost by vendor", "Vendor", report.by_vendor),
        table("Hours lost by support tier", "Tier", report.by_support_tier),
    ]


def productivity_csv(report: ProductivityReport) -> Rows:
    """One long table: a `by` column says which breakdown a row belongs to."""
    rows: list[Sequence[Any]] = []
    for by, items in (
        ("technology", report.by_technology),
        ("vendor", report.by_vendor),
        ("support_tier", report.by_support_tier),
    ):
        rows += [(by, item.key, item.name, item.hours_lost, item.tickets) for item in items]
    columns = ("by", "key", "name", "hours_lost", "tickets")
    return Rows(title="productivity", columns=columns, rows=rows)


# --- SLA ----------------------------------------------------------------------------------------


@dataclass
class SlaReport:
    summary: SummaryReport
    weeks: list[SummaryReport]

    def document(self) -> dict[str, Any]:
        return {
            "summary": self.summary.model_dump(mode="json", by_alias=True),
            "weeks": [week.model_dump(mode="json", by_alias=True) for week in self.weeks],
        }


def sla_heading(report: SlaReport) -> str:
    summary = report.summary
    return (
        f"[bold]SLA[/bold], tickets opened {span(summary.from_, summary.to)}: "
        f"{tickets(summary.tickets)}, {_percent(summary.sla_compliance_percent)} within SLA, "
        f"median first response {_minutes(summary.median_first_response_minutes)}, "
        f"median resolution {_minutes(summary.median_resolution_minutes)}"
    )


def sla_tables(report: SlaReport) -> list[Rows]:
    summary = report.summary
    tables = [
        sla_week_table(report),
        Rows(
            title="Tickets by status",
            columns=("Status", "Tickets"),
            rows=[(status, count) for status, count in sorted(summary.by_status.items())],
            numeric=frozenset({"Tickets"}),
        ),
        Rows(
            title="Tickets by priority",
            columns=("Priority", "Tickets"),
            rows=[(level, count) for level, count in sorted(summary.by_priority.items())],
            numeric=frozenset({"Tickets"}),
        ),
    ]
    if summary.open_vendor_escalations:
        tables.append(
            Rows(
                title="Open vendor escalations",
                columns=("Vendor", "Open", "Oldest (hours)"),
                rows=[
                    (item.vendor, item.open_escalations, item.oldest_age_hours)
                    for item in summary.open_vendor_escalations
                ],
                numeric=frozenset({"Open", "Oldest (hours)"}),
            )
        )
    return tables


def sla_weeks(report: SlaReport) -> Rows:
    return Rows(
        title="Week by week (tickets opened that week)",
        columns=(
            "Week from",
            "To",
            "Tickets",
            "Within SLA %",
            "Median first response (min)",
            "Median resolution (min)",
        ),
        csv_columns=(
            "from",
            "to",
            "tickets",
            "sla_compliance_percent",
            "median_first_response_minutes",
            "median_resolution_minutes",
        ),
        rows=[
            (
                week.from_.isoformat(),
                week.to.isoformat(),
                week.tickets,
                week.sla_compliance_percent,
                week.median_first_response_minutes,
                week.median_resolution_minutes,
            )
            for week in report.weeks
        ],
        numeric=frozenset(
            {"Tickets", "Within SLA %", "Median first response (min)", "Median resolution (min)"}
        ),
    )


def sla_week_table(report: SlaReport) -> Rows:
    """The weekly rows with readable dates, for the terminal."""
    rows = sla_weeks(report)
    rows.rows = [
        (week.from_.strftime("%Y-%m-%d"), week.to.strftime("%Y-%m-%d"), *row[2:])
        for week, row in zip(report.weeks, rows.rows, strict=True)
    ]
    return rows


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 120:
        return f"{value / 60:,.1f} h"
    return f"{value:,.0f} min"


# --- adoption -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierUse:
    tier: SupportTier
    technologies: int
    devices: int
    declared_accounts: int
    discovered_undeclared: int


def adoption_by_tier(report: AdoptionReport) -> list[TierUse]:
    """Use of each support tier's technologies, every tier listed (supported first)."""
    result: list[TierUse] = []
    for tier in SupportTier:
        rows = [row for row in report.technologies if row.support_tier is tier]
        result.append(
            TierUse(
                tier=tier,
                technologies=sum(1 for row in rows if row.people),
                devices=sum(row.devices for row in rows),
                declared_accounts=sum(row.declared_accounts for row in rows),
                discovered_undeclared=sum(row.discovered_undeclared for row in rows),
            )
        )
    return result


def adoption_heading(report: AdoptionReport) -> str:
    who = f" in {report.department}" if report.department else ""
    return f"[bold]Adoption[/bold]{who}, use {span(report.from_, report.to)}"


def adoption_tables(report: AdoptionReport) -> list[Rows]:
    compliance = report.compliance
    return [
        adoption_technologies(report),
        Rows(
            title="By support tier",
            columns=("Tier", "Technologies in use", "Devices", "Accounts", "Undeclared"),
            rows=[
                (
                    use.tier.value,
                    use.technologies,
                    use.devices,
                    use.declared_accounts,
                    use.discovered_undeclared,
                )
                for use in adoption_by_tier(report)
            ],
            numeric=frozenset({"Technologies in use", "Devices", "Accounts", "Undeclared"}),
        ),
        Rows(
            title="By category (how splintered it is)",
            columns=("Category", "In use", "People", "On recommended", "Effective number"),
            rows=[
                (
                    row.category,
                    row.technologies_in_use,
                    row.people,
                    f"{row.recommended_share:.0%}",
                    row.effective_technologies,
                )
                for row in report.categories
            ],
            numeric=frozenset({"In use", "People", "On recommended", "Effective number"}),
        ),
        Rows(
            title="Device compliance",
            columns=("State or reason", "Devices"),
            rows=[
                *sorted(compliance.by_state.items()),
                *((f"  {reason}", count) for reason, count in sorted(compliance.by_reason.items())),
            ],
            numeric=frozenset({"Devices"}),
        ),
    ]


def adoption_technologies(report: AdoptionReport) -> Rows:
    return Rows(
        title="By technology",
        columns=(
            "Technology",
            "Name",
            "Category",
            "Tier",
            "Recommended",
            "Devices",
            "Accounts",
            "Undeclared",
            "People",
        ),
        csv_columns=(
            "technology",
            "name",
            "category",
            "support_tier",
            "recommended",
            "devices",
            "declared_accounts",
            "discovered_undeclared",
            "people",
        ),
        rows=[
            (
                row.technology,
                row.name,
                row.category,
                row.support_tier.value,
                row.recommended,
                row.devices,
                row.declared_accounts,
                row.discovered_undeclared,
                row.people,
            )
            for row in report.technologies
        ],
        numeric=frozenset({"Devices", "Accounts", "Undeclared", "People"}),
    )
