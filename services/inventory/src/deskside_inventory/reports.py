"""The adoption report: what the company runs on, and how splintered it is."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from deskside_contracts.inventory import (
    AdoptionReport,
    CategoryAdoption,
    ComplianceSummary,
    SupportTier,
    TechnologyAdoption,
)
from deskside_inventory.repository import CategoryPeople, TechnologyRepository, UsageRepository
from deskside_kit.tabular import Cell, CsvTable


class AdoptionService:
    def __init__(self, technologies: TechnologyRepository, usage: UsageRepository) -> None:
        self.technologies = technologies
        self.usage = usage

    async def adoption(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> AdoptionReport:
        catalog = {t.key: t for t in await self.technologies.all()}
        use = await self.usage.use_per_technology(start, end, department)
        technologies = [
            TechnologyAdoption(
                technology=key,
                name=catalog[key].name,
                category=catalog[key].category,
                support_tier=SupportTier(catalog[key].support_tier),
                recommended=catalog[key].recommended,
                devices=use[key].devices,
                declared_accounts=use[key].declared_accounts,
                discovered_undeclared=use[key].discovered_undeclared,
                people=use[key].people,
            )
            for key in sorted(use)
            if key in catalog
        ]
        people = await self.usage.people_per_category(start, end, department)
        by_state: Counter[str] = Counter()
        by_reason: Counter[str] = Counter()
        for count in await self.usage.compliance(start, end, department):
            by_state[count.state] += count.devices
            for reason in count.reasons:
                by_reason[reason] += count.devices
        return AdoptionReport(
            from_=start,
            to=end,
            department=department,
            technologies=technologies,
            categories=_categories(technologies, people),
            compliance=ComplianceSummary(
                by_state=dict(sorted(by_state.items())), by_reason=dict(sorted(by_reason.items()))
            ),
        )


def _categories(
    technologies: list[TechnologyAdoption], people: dict[str, CategoryPeople]
) -> list[CategoryAdoption]:
    by_category: dict[str, list[TechnologyAdoption]] = defaultdict(list)
    for technology in technologies:
        by_category[technology.category].append(technology)
    rows = []
    for category, members in sorted(by_category.items()):
        # Distinct people across the category: someone on two of its tools counts once.
        everyone = people[category].people
        on_recommended = people[category].on_recommended
        # Shares of person-uses: someone on two tools counts for each, which is
        # what splintering costs the desk.
        uses = sum(t.people for t in members)
        concentration = sum((t.people / uses) ** 2 for t in members) if uses else 0.0
        rows.append(
            CategoryAdoption(
                category=category,
                technologies_in_use=len(members),
                people=everyone,
                recommended_share=round(on_recommended / everyone, 3) if everyone else 0.0,
                effective_technologies=round(1 / concentration, 2) if concentration else 0.0,
            )
        )
    return rows


def _adoption_rows(report: AdoptionReport) -> Iterable[Sequence[Cell]]:
    categories = {category.category: category for category in report.categories}
    for use in report.technologies:
        category = categories[use.category]
        yield (
            use.technology,
            use.name,
            use.category,
            use.support_tier,
            use.recommended,
            use.devices,
            use.declared_accounts,
            use.discovered_undeclared,
            use.people,
            category.technologies_in_use,
            category.people,
            category.recommended_share,
            category.effective_technologies,
        )


ADOPTION_TABLE = CsvTable[AdoptionReport](
    filename="deskside-adoption.csv",
    columns=(
        "technology",
        "name",
        "category",
        "support_tier",
        "recommended",
        "devices",
        "declared_accounts",
        "discovered_undeclared",
        "people",
        "category_technologies_in_use",
        "category_people",
        "category_recommended_share",
        "category_effective_technologies",
    ),
    row="one row per technology in use, with its category's figures repeated on each of "
    "the category's rows (`category_…`); device compliance is in the JSON form only",
    rows=_adoption_rows,
    example=(
        (
            "dropbox",
            "Dropbox",
            "file_sharing",
            "best_effort",
            False,
            0,
            12,
            5,
            17,
            3,
            40,
            0.55,
            2.4,
        ),
        ("onedrive", "OneDrive", "file_sharing", "supported", True, 0, 0, 0, 22, 3, 40, 0.55, 2.4),
    ),
)
