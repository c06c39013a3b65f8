"""The service layer of the ticket reports."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from deskside_contracts.tickets import (
    HoursLost,
    ProductivityReport,
    SummaryReport,
    VendorBacklog,
)
from deskside_kit.database import utc_now
from deskside_tickets import sla
from deskside_tickets.models import (
    Ticket,
)
from deskside_tickets.repository import TicketRepository
from deskside_tickets.sla import Policy


class ReportService:
    """Numbers for the desk's leads: where work time goes, and how the desk keeps up."""

    def __init__(self, repository: TicketRepository) -> None:
        self.repository = repository

    async def productivity(self, start: datetime, end: datetime) -> ProductivityReport:
        policies = {row.id: Policy.from_row(row) for row in await self.repository.policies()}
        now = utc_now()
        lost: list[tuple[Ticket, float]] = []
        for ticket in await self.repository.created_between(start, end):
            policy = policies.get(ticket.sla_policy_id or "")
            minutes = sla.minutes_lost(ticket, policy, now)
            if minutes is not None:
                lost.append((ticket, minutes / 60))

        def by(
            key: Callable[[Ticket], str | None], name: Callable[[Ticket], str | None]
        ) -> list[HoursLost]:
            totals: dict[str, list[Any]] = {}
            for ticket, hours in lost:
                group = key(ticket) or "unknown"
                entry = totals.setdefault(group, [name(ticket), 0.0, 0])
                entry[1] += hours
                entry[2] += 1
            rows = [
                HoursLost(key=group, name=label, hours_lost=round(hours, 2), tickets=count)
                for group, (label, hours, count) in totals.items()
            ]
            return sorted(rows, key=lambda row: (-row.hours_lost, row.key))

        return ProductivityReport(
            from_=start,
            to=end,
            tickets=len(lost),
            hours_lost=round(sum(hours for _, hours in lost), 2),
            by_technology=by(lambda t: t.technology_key, lambda t: t.technology_name),
            by_vendor=by(lambda t: t.technology_vendor, lambda t: None),
            by_support_tier=by(lambda t: t.technology_tier, lambda t: None),
        )

    async def summary(self, start: datetime, end: datetime) -> SummaryReport:
        tickets = await self.repository.created_between(start, end)
        under_policy = [t for t in tickets if t.sla_policy_id is not None]
        kept = [
            t
            for t in under_policy
            if not (t.sla_first_response_breached or t.sla_resolution_breached)
        ]
        first_responses = [
            (t.first_response_at - t.created_at).total_seconds() / 60
            for t in tickets
            if t.first_response_at is not None
        ]
        resolutions = [
            (t.resolved_at - t.created_at).total_seconds() / 60
            for t in tickets
            if t.resolved_at is not None
        ]
        now = utc_now()
        backlog: dict[str, list[datetime]] = {}
        for vendor, opened in await self.repository.open_vendor_escalations():
            backlog.setdefault(vendor, []).append(opened)
        return SummaryReport(
            from_=start,
            to=end,
            tickets=len(tickets),
            by_status=dict(Counter(t.status for t in tickets)),
            by_priority=dict(Counter(t.priority for t in tickets)),
            by_technology=dict(Counter(t.technology_key or "none" for t in tickets)),
            sla_compliance_percent=(
                round(100 * len(kept) / len(under_policy), 1) if under_policy else None
            ),
            median_first_response_minutes=_median(first_responses),
            median_resolution_minutes=_median(resolutions),
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


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None
