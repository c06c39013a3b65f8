"""The service layer of the ticket reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from deskside_contracts.tickets import (
    HoursLost,
    ProductivityReport,
    SkillGap,
    SummaryReport,
    VendorBacklog,
)
from deskside_kit.database import utc_now
from deskside_kit.tabular import Cell, CsvTable
from deskside_tickets import sla
from deskside_tickets.repository import Loss, TicketRepository
from deskside_tickets.sla import Policy


class ReportService:
    """Numbers for the desk's leads: where work time goes, and how the desk keeps up."""

    def __init__(self, repository: TicketRepository) -> None:
        self.repository = repository

    async def productivity(self, start: datetime, end: datetime) -> ProductivityReport:
        await self.repository.begin_report()
        # Settled tickets come summed from SQL; the few still open (whose loss grows
        # with the clock) are computed here against their policy's calendar.
        losses = await self.repository.settled_losses(start, end)
        unsettled = await self.repository.unsettled_losses(start, end)
        if unsettled:
            policies = {row.id: Policy.from_row(row) for row in await self.repository.policies()}
            now = utc_now()
            for row in unsettled:
                policy = policies.get(row.sla_policy_id or "")
                minutes = sla.business_minutes(policy, row.opened_at, row.settled_at or now)
                losses.append(
                    Loss(row.technology_key, row.technology_name, row.vendor, row.tier, minutes, 1)
                )

        def by(
            key: Callable[[Loss], str | None], name: Callable[[Loss], str | None]
        ) -> list[HoursLost]:
            totals: dict[str, list[Any]] = {}
            for loss in losses:
                entry = totals.setdefault(key(loss) or "unknown", [None, 0, 0])
                entry[0] = entry[0] or name(loss)
                entry[1] += loss.minutes
                entry[2] += loss.tickets
            rows = [
                HoursLost(key=group, name=label, hours_lost=round(minutes / 60, 2), tickets=count)
                for group, (label, minutes, count) in totals.items()
            ]
            return sorted(rows, key=lambda row: (-row.hours_lost, row.key))

        return ProductivityReport(
            from_=start,
            to=end,
            tickets=sum(loss.tickets for loss in losses),
            hours_lost=round(sum(loss.minutes for loss in losses) / 60, 2),
            by_technology=by(lambda loss: loss.technology_key, lambda loss: loss.technology_name),
            by_vendor=by(lambda loss: loss.vendor, lambda loss: None),
            by_support_tier=by(lambda loss: loss.tier, lambda loss: None),
        )

    async def summary(self, start: datetime, end: datetime) -> SummaryReport:
        # The medians are read at the positions these counts give: one snapshot for both.
        await self.repository.begin_report()
        counts = await self.repository.summary_counts(start, end)
        by_status: Counter[str] = Counter()
        by_priority: Counter[str] = Counter()
        by_technology: Counter[str] = Counter()
        for count in counts:
            by_status[count.status] += count.tickets
            by_priority[count.priority] += count.tickets
            by_technology[count.technology_key or "none"] += count.tickets
        under_policy = sum(count.under_policy for count in counts)
        kept = sum(count.kept for count in counts)
        first_response, resolution = await self.repository.median_minutes_to(
            start,
            end,
            responded=sum(count.responded for count in counts),
            resolved=sum(count.resolved for count in counts),
        )
        now = utc_now()
        backlog: dict[str, list[datetime]] = {}
        for vendor, opened in await self.repository.open_vendor_escalations():
            backlog.setdefault(vendor, []).append(opened)
        return SummaryReport(
            from_=start,
            to=end,
            tickets=sum(count.tickets for count in counts),
            by_status=dict(by_status),
            by_priority=dict(by_priority),
            by_technology=dict(by_technology),
            sla_compliance_percent=(round(100 * kept / under_policy, 1) if under_policy else None),
            median_first_response_minutes=_rounded(first_response),
            median_resolution_minutes=_rounded(resolution),
            open_vendor_escalations=sorted(
                (
                    VendorBacklog(
                        vendor=vendor,
                        open_escalations=len(opened),
                        oldest_age_hours=round((now - min(opened)).total_seconds() / 3600, 1),
                    )
                    for vendor, opened in backlog.items()
                ),
                key=lambda row: (-row.oldest_age_hours, row.vendor),
            ),
        )


def _rounded(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes, 1)


# --- the reports as CSV tables (`?format=csv`) ------------------------------------------------

_EXAMPLE_FROM, _EXAMPLE_TO = "2026-10-24T00:00:00.000000Z", "2026-11-23T00:00:00.000000Z"


def _productivity_rows(report: ProductivityReport) -> Iterable[Sequence[Cell]]:
    for dimension, rows in (
        ("technology", report.by_technology),
        ("vendor", report.by_vendor),
        ("support_tier", report.by_support_tier),
    ):
        for row in rows:
            yield (
                report.from_,
                report.to,
                dimension,
                row.key,
                row.name,
                row.hours_lost,
                row.tickets,
            )


PRODUCTIVITY_TABLE = CsvTable[ProductivityReport](
    filename="deskside-productivity.csv",
    columns=("from", "to", "dimension", "key", "name", "hours_lost", "tickets"),
    row="one row per technology, vendor and support tier (`dimension`: `technology`, "
    "`vendor`, `support_tier`), most hours lost first within each; a ticket counts once "
    "in each dimension",
    rows=_productivity_rows,
    example=(
        (_EXAMPLE_FROM, _EXAMPLE_TO, "technology", "dropbox", "Dropbox", 12.5, 4),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "vendor", "Dropbox, Inc.", None, 12.5, 4),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "support_tier", "best_effort", None, 12.5, 4),
    ),
)


def _summary_rows(report: SummaryReport) -> Iterable[Sequence[Cell]]:
    def row(measure: str, key: str | None, value: float | None) -> Sequence[Cell]:
        return (report.from_, report.to, measure, key, value)

    yield row("tickets", None, report.tickets)
    for measure, counts in (
        ("status", report.by_status),
        ("priority", report.by_priority),
        ("technology", report.by_technology),
    ):
        for key, count in sorted(counts.items()):
            yield row(measure, key, count)
    yield row("sla_compliance_percent", None, report.sla_compliance_percent)
    yield row("median_first_response_minutes", None, report.median_first_response_minutes)
    yield row("median_resolution_minutes", None, report.median_resolution_minutes)
    for backlog in report.open_vendor_escalations:
        yield row("vendor_open_escalations", backlog.vendor, backlog.open_escalations)
        yield row("vendor_oldest_escalation_hours", backlog.vendor, backlog.oldest_age_hours)


SUMMARY_TABLE = CsvTable[SummaryReport](
    filename="deskside-ticket-summary.csv",
    columns=("from", "to", "measure", "key", "value"),
    row="one row per measure (a long table, for a pivot): `tickets`; `status`, `priority` "
    "and `technology` with the counted value as `key`; `sla_compliance_percent`, "
    "`median_first_response_minutes`, `median_resolution_minutes` (empty `value` when "
    "nothing was measured); `vendor_open_escalations` and `vendor_oldest_escalation_hours` "
    "with the vendor as `key`",
    rows=_summary_rows,
    example=(
        (_EXAMPLE_FROM, _EXAMPLE_TO, "tickets", None, 42),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "status", "resolved", 30),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "priority", "p2", 11),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "technology", "ipad", 7),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "sla_compliance_percent", None, 93.5),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "median_first_response_minutes", None, 18.0),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "median_resolution_minutes", None, 240.5),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "vendor_open_escalations", "Apple", 2),
        (_EXAMPLE_FROM, _EXAMPLE_TO, "vendor_oldest_escalation_hours", "Apple", 30.5),
    ),
)

SKILLS_TABLE = CsvTable[list[SkillGap]](
    filename="deskside-skill-gaps.csv",
    columns=("technology", "open_tickets", "tickets"),
    row="one row per technology on tickets that no active agent is trained on",
    rows=lambda gaps: ((gap.technology, gap.open_tickets, gap.tickets) for gap in gaps),
    example=(("notion", 3, 9),),
)
