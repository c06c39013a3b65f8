"""`--chart out.png`: one picture per report, drawn with matplotlib's Agg canvas.

Figures are made directly (no pyplot), so no GUI backend is ever chosen and
nothing global is left behind. matplotlib is imported only when a chart is
asked for: it takes a moment to load.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from deskside_cli.errors import CliError
from deskside_cli.reports import SlaReport, adoption_by_tier, tickets
from deskside_contracts.inventory import AdoptionReport
from deskside_contracts.tickets import ProductivityReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# More bars than this stop being readable; the rest are summed into one.
MOST_TECHNOLOGIES = 20
DPI = 120


def productivity_chart(report: ProductivityReport, path: Path) -> None:
    """Hours lost per technology, largest first."""
    items = sorted(report.by_technology, key=lambda item: item.hours_lost, reverse=True)
    labels = [item.name or item.key for item in items[:MOST_TECHNOLOGIES]]
    hours = [item.hours_lost for item in items[:MOST_TECHNOLOGIES]]
    if len(items) > MOST_TECHNOLOGIES:
        labels.append(f"{len(items) - MOST_TECHNOLOGIES} others")
        hours.append(sum(item.hours_lost for item in items[MOST_TECHNOLOGIES:]))
    figure, axes = _figure(height=max(3.0, 0.35 * len(labels) + 1.5))
    positions = list(range(len(labels)))
    bars = axes.barh(positions, hours, color="#c0504d")
    axes.bar_label(bars, fmt="%.1f h", padding=3)
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    # Room for the labels; an axis from 0 even when nothing was lost.
    axes.set_xlim(0, max([*hours, 0.0]) * 1.15 or 1.0)
    axes.set_xlabel("work hours lost")
    axes.set_title(f"Hours lost per technology, {_dates(report.from_, report.to)}")
    if not items:
        _no_data(axes)
    _save(figure, path)


def sla_chart(report: SlaReport, path: Path) -> None:
    """Weekly SLA compliance; weeks without tickets are gaps, not zeros."""
    weeks = report.weeks
    figure, axes = _figure(height=4.0)
    positions = list(range(len(weeks)))
    compliance = [
        float("nan") if week.sla_compliance_percent is None else week.sla_compliance_percent
        for week in weeks
    ]
    axes.plot(positions, compliance, marker="o", color="#4f81bd")
    # One tick per week, with its ticket count: a week of two tickets weighs little.
    labels = [f"{week.from_:%b %d}\n{tickets(week.tickets)}" for week in weeks]
    step = max(1, len(weeks) // 12)
    axes.set_xticks(positions[::step], labels[::step])
    axes.set_xlim(-0.5, max(len(weeks) - 0.5, 0.5))
    axes.set_ylim(0, 105)
    axes.set_ylabel("% of tickets within SLA")
    axes.set_xlabel("week starting")
    summary = report.summary
    axes.set_title(f"SLA compliance per week, {_dates(summary.from_, summary.to)}")
    axes.grid(axis="y", alpha=0.3)
    if not any(week.sla_compliance_percent is not None for week in weeks):
        _no_data(axes)
    _save(figure, path)


def adoption_chart(report: AdoptionReport, path: Path) -> None:
    """Devices, declared accounts and undeclared use of each support tier's technologies."""
    tiers = adoption_by_tier(report)
    labels = [use.tier.value.replace("_", " ") for use in tiers]
    positions = list(range(len(tiers)))
    figure, axes = _figure(height=4.0)
    devices = [use.devices for use in tiers]
    accounts = [use.declared_accounts for use in tiers]
    undeclared = [use.discovered_undeclared for use in tiers]
    axes.bar(positions, devices, label="devices", color="#4f81bd")
    axes.bar(positions, accounts, bottom=devices, label="declared accounts", color="#9bbb59")
    stacked = [d + a for d, a in zip(devices, accounts, strict=True)]
    axes.bar(positions, undeclared, bottom=stacked, label="undeclared use", color="#c0504d")
    axes.set_xticks(positions, labels)
    axes.set_ylabel("count")
    who = f" ({report.department})" if report.department else ""
    axes.set_title(f"Adoption by support tier{who}")
    axes.legend()
    if not any(stacked) and not any(undeclared):
        _no_data(axes)
    _save(figure, path)


def _figure(height: float) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def _no_data(axes: Axes) -> None:
    axes.text(
        0.5, 0.5, "no data in this range", transform=axes.transAxes, ha="center", color="gray"
    )


def _dates(start: datetime | None, end: datetime | None) -> str:
    def day(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d") if value is not None else "…"

    return f"{day(start)} to {day(end)}"


def _save(figure: Figure, path: Path) -> None:
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise CliError(f"Cannot write the chart to {path}: {exc.strerror or exc}.") from None
