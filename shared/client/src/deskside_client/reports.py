"""`client.reports`: the desk's figures (agents and admins)."""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter

from deskside_client._http import Http, QueryValue
from deskside_contracts.inventory import AdoptionReport
from deskside_contracts.tickets import ProductivityReport, SkillGap, SummaryReport

_SKILL_GAPS = TypeAdapter(list[SkillGap])


class Reports:
    """Each report covers `start` to `end` (default: the last 30 days)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def summary(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> SummaryReport:
        """Counts, SLA compliance, median response and resolution times, vendor backlog."""
        params: dict[str, QueryValue] = {"from": start, "to": end}
        return await self._http.call(
            SummaryReport, "GET", "/v1/reports/tickets/summary", params=params
        )

    async def productivity(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> ProductivityReport:
        """Work hours lost, by technology, vendor and support tier."""
        params: dict[str, QueryValue] = {"from": start, "to": end}
        return await self._http.call(
            ProductivityReport, "GET", "/v1/reports/tickets/productivity", params=params
        )

    async def skills(self) -> list[SkillGap]:
        """Technologies on tickets that no active agent is trained on."""
        response = await self._http.request("GET", "/v1/reports/tickets/skills")
        return _SKILL_GAPS.validate_json(response.content)

    async def adoption(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        department: str | None = None,
    ) -> AdoptionReport:
        """Use per technology and category (how splintered), and device compliance."""
        params: dict[str, QueryValue] = {"from": start, "to": end, "department": department}
        return await self._http.call(AdoptionReport, "GET", "/v1/reports/adoption", params=params)
