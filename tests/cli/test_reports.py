"""Report ranges and the sums the tables and charts show: no server needed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from deskside_cli.errors import CliError
from deskside_cli.reports import adoption_by_tier, resolve_range, weekly_windows
from deskside_contracts.inventory import AdoptionReport, SupportTier

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class TestRanges:
    def test_thirty_days_up_to_now_by_default(self) -> None:
        assert resolve_range(None, None, NOW) == (NOW - timedelta(days=30), NOW)

    def test_from_must_come_first(self) -> None:
        with pytest.raises(CliError, match="--from must be before --to"):
            resolve_range(NOW, NOW, NOW)

    def test_weeks_cover_the_range_and_the_last_one_ends_with_it(self) -> None:
        start = NOW - timedelta(days=30)

        windows = weekly_windows(start, NOW)

        assert len(windows) == 5
        assert windows[0] == (start, start + timedelta(days=7))
        assert windows[-1] == (start + timedelta(days=28), NOW)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def test_adoption_is_summed_per_support_tier_with_every_tier_listed() -> None:
    def row(key: str, tier: str, devices: int, accounts: int, people: int) -> dict[str, object]:
        return {
            "technology": key,
            "name": key,
            "category": "c",
            "support_tier": tier,
            "recommended": False,
            "devices": devices,
            "declared_accounts": accounts,
            "discovered_undeclared": 1,
            "people": people,
        }

    report = AdoptionReport.model_validate(
        {
            "technologies": [
                row("ios", "supported", 3, 0, 3),
                row("android", "supported", 2, 0, 2),
                row("dropbox", "best_effort", 0, 4, 4),
                row("telegram", "prohibited", 0, 0, 0),
            ],
            "categories": [],
            "compliance": {"by_state": {}, "by_reason": {}},
        }
    )

    tiers = {use.tier: use for use in adoption_by_tier(report)}

    assert list(tiers) == list(SupportTier)
    assert (tiers[SupportTier.SUPPORTED].devices, tiers[SupportTier.SUPPORTED].technologies) == (
        5,
        2,
    )
    assert tiers[SupportTier.BEST_EFFORT].declared_accounts == 4
    assert tiers[SupportTier.UNSUPPORTED].technologies == 0
    assert tiers[SupportTier.PROHIBITED].discovered_undeclared == 1
    assert tiers[SupportTier.PROHIBITED].technologies == 0
