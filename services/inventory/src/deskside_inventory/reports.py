"""The adoption report: what the company runs on, and how splintered it is."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from deskside_contracts.inventory import (
    AdoptionReport,
    CategoryAdoption,
    ComplianceSummary,
    SupportTier,
    TechnologyAdoption,
)
from deskside_inventory.repository import TechnologyRepository, UsageRepository


class AdoptionService:
    def __init__(self, technologies: TechnologyRepository, usage: UsageRepository) -> None:
        self.technologies = technologies
        self.usage = usage

    async def adoption(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> AdoptionReport:
        catalog = {t.key: t for t in await self.technologies.all()}
        devices = await self.usage.devices(start, end, department)
        accounts = await self.usage.live_accounts(start, end, department)
        discovered = await self.usage.discovered(start, end, department)

        people: dict[str, set[str]] = defaultdict(set)
        device_counts: Counter[str] = Counter()
        for device in devices:
            device_counts[device.technology] += 1
            people[device.technology].add(device.owner_id)
        account_counts: Counter[str] = Counter()
        declared: set[tuple[str, str]] = set()
        for account in accounts:
            account_counts[account.technology] += 1
            people[account.technology].add(account.owner_id)
            declared.add((account.owner_id, account.technology))
        undeclared: dict[str, set[str]] = defaultdict(set)
        for use in discovered:
            people[use.technology].add(use.owner_id)
            if (use.owner_id, use.technology) not in declared:
                undeclared[use.technology].add(use.owner_id)

        technologies = [
            TechnologyAdoption(
                technology=key,
                name=catalog[key].name,
                category=catalog[key].category,
                support_tier=SupportTier(catalog[key].support_tier),
                recommended=catalog[key].recommended,
                devices=device_counts[key],
                declared_accounts=account_counts[key],
                discovered_undeclared=len(undeclared[key]),
                people=len(people[key]),
            )
            for key in sorted(people)
            if key in catalog
        ]
        return AdoptionReport(
            from_=start,
            to=end,
            department=department,
            technologies=technologies,
            categories=_categories(technologies, people),
            compliance=ComplianceSummary(
                by_state=dict(Counter(device.compliance for device in devices)),
                by_reason=dict(
                    Counter(reason for device in devices for reason in device.compliance_reasons)
                ),
            ),
        )


def _categories(
    technologies: list[TechnologyAdoption], people: dict[str, set[str]]
) -> list[CategoryAdoption]:
    by_category: dict[str, list[TechnologyAdoption]] = defaultdict(list)
    for technology in technologies:
        by_category[technology.category].append(technology)
    rows = []
    for category, members in sorted(by_category.items()):
        everyone = set().union(*(people[t.technology] for t in members))
        on_recommended = set().union(*(people[t.technology] for t in members if t.recommended))
        # Shares of person-uses: someone on two tools counts for each, which is
        # what splintering costs the desk.
        uses = sum(t.people for t in members)
        concentration = sum((t.people / uses) ** 2 for t in members) if uses else 0.0
        rows.append(
            CategoryAdoption(
                category=category,
                technologies_in_use=len(members),
                people=len(everyone),
                recommended_share=round(len(on_recommended) / len(everyone), 3)
                if everyone
                else 0.0,
                effective_technologies=round(1 / concentration, 2) if concentration else 0.0,
            )
        )
    return rows
