"""Business calendars: working time counted and added across weekends, holidays and DST."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from deskside_tickets import calendar as calendar_module
from deskside_tickets.calendar import MAX_IDLE_DAYS, BusinessCalendar

HOUR = 3600.0
MICROSECOND = timedelta(microseconds=1)
BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = frozenset(range(7))

# The default calendar: Monday to Friday, 09:00-17:00, UTC.
OFFICE = BusinessCalendar()


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# 2 March 2026 is a Monday.
MON = date(2026, 3, 2)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=UTC)


def plus_days(day: date, days: int) -> date:
    return day + timedelta(days=days)


class TestCountingByHand:
    def test_within_one_day(self) -> None:
        assert OFFICE.business_seconds_between(at(MON, 10), at(MON, 12)) == 2 * HOUR

    def test_friday_afternoon_to_monday_morning_skips_the_weekend(self) -> None:
        friday, next_monday = plus_days(MON, 4), plus_days(MON, 7)
        assert OFFICE.business_seconds_between(at(friday, 16), at(next_monday, 10)) == 2 * HOUR

    def test_time_before_opening_and_after_closing_does_not_count(self) -> None:
        assert OFFICE.business_seconds_between(at(MON, 6), at(MON, 22)) == 8 * HOUR
        assert OFFICE.business_seconds_between(at(MON, 6), at(MON, 9, 30)) == 0.5 * HOUR
        assert OFFICE.business_seconds_between(at(MON, 16, 45), at(MON, 23)) == 0.25 * HOUR

    def test_weekend_only_span_is_zero(self) -> None:
        saturday, sunday = plus_days(MON, 5), plus_days(MON, 6)
        assert OFFICE.business_seconds_between(at(saturday, 0), at(sunday, 23, 59)) == 0.0

    def test_empty_or_reversed_span_is_zero(self) -> None:
        assert OFFICE.business_seconds_between(at(MON, 12), at(MON, 12)) == 0.0
        assert OFFICE.business_seconds_between(at(MON, 12), at(MON, 10)) == 0.0

    def test_a_holiday_in_the_middle_does_not_count(self) -> None:
        tuesday, wednesday = plus_days(MON, 1), plus_days(MON, 2)
        with_holiday = BusinessCalendar(holidays=frozenset({tuesday}))
        assert OFFICE.business_seconds_between(at(MON, 10), at(wednesday, 12)) == 18 * HOUR
        assert with_holiday.business_seconds_between(at(MON, 10), at(wednesday, 12)) == 10 * HOUR

    def test_microseconds_are_exact(self) -> None:
        start = at(MON, 9) + timedelta(microseconds=1)
        end = at(MON, 16, 59, 59) + timedelta(microseconds=999_999)
        assert OFFICE.business_seconds_between(start, end) == 8 * HOUR - 2e-6

    def test_a_whole_year(self) -> None:
        # 2026 has 261 weekdays (52 full weeks plus Thursday 1 January).
        assert OFFICE.business_seconds_between(utc(2026, 1, 1), utc(2027, 1, 1)) == 261 * 8 * HOUR

    def test_arguments_may_be_in_any_zone(self) -> None:
        start = datetime(2026, 3, 2, 11, 0, tzinfo=BERLIN)  # 10:00 UTC
        assert OFFICE.business_seconds_between(start, at(MON, 12)) == 2 * HOUR


class TestAddingByHand:
    def test_friday_half_past_four_plus_an_hour_is_monday_half_past_nine(self) -> None:
        friday = plus_days(MON, 4)
        due = OFFICE.add_business_seconds(at(friday, 16, 30), HOUR)
        assert due == at(plus_days(MON, 7), 9, 30)
        assert due.tzinfo is UTC

    def test_saturday_plus_one_second_is_monday_just_after_opening(self) -> None:
        saturday = plus_days(MON, 5)
        assert OFFICE.add_business_seconds(at(saturday, 12), 1) == at(plus_days(MON, 7), 9, 0, 1)

    def test_within_the_day(self) -> None:
        assert OFFICE.add_business_seconds(at(MON, 10), 2 * HOUR) == at(MON, 12)

    def test_ending_exactly_at_closing_time_is_not_pushed_to_the_next_opening(self) -> None:
        assert OFFICE.add_business_seconds(at(MON, 16), HOUR) == at(MON, 17)
        assert OFFICE.add_business_seconds(at(MON, 9), 8 * HOUR) == at(MON, 17)

    def test_skips_holidays(self) -> None:
        calendar = BusinessCalendar(holidays=frozenset({plus_days(MON, 1)}))
        assert calendar.add_business_seconds(at(MON, 16), 2 * HOUR) == at(plus_days(MON, 2), 10)

    def test_zero_seconds_is_the_start_even_outside_hours(self) -> None:
        sunday_night = datetime(2026, 3, 8, 23, 0, tzinfo=BERLIN)
        due = OFFICE.add_business_seconds(sunday_night, 0)
        assert due == sunday_night
        assert due.tzinfo is UTC

    def test_fractional_seconds_keep_microseconds(self) -> None:
        assert OFFICE.add_business_seconds(at(MON, 9), 1.5) == at(MON, 9, 0, 1) + timedelta(
            microseconds=500_000
        )

    def test_ten_thousand_business_hours(self) -> None:
        # 10,000 h = 1,250 eight-hour days = exactly 250 five-day weeks.
        due = OFFICE.add_business_seconds(at(MON, 9), 10_000 * HOUR)
        assert due == at(plus_days(MON, 250 * 7 - 3), 17)  # the Friday of week 250
        assert OFFICE.business_seconds_between(at(MON, 9), due) == 10_000 * HOUR


class TestWorkingTime:
    def test_opening_is_inclusive_and_closing_exclusive(self) -> None:
        assert not OFFICE.is_working_time(at(MON, 9) - MICROSECOND)
        assert OFFICE.is_working_time(at(MON, 9))
        assert OFFICE.is_working_time(at(MON, 17) - MICROSECOND)
        assert not OFFICE.is_working_time(at(MON, 17))

    def test_weekends_and_holidays_are_not_working_time(self) -> None:
        assert not OFFICE.is_working_time(at(plus_days(MON, 5), 12))
        assert not BusinessCalendar(holidays=frozenset({MON})).is_working_time(at(MON, 12))


class TestAlwaysOpen:
    CALENDAR = BusinessCalendar(timezone="Europe/Berlin", always_open=True)

    def test_equals_wall_clock_elapsed_time(self) -> None:
        saturday = plus_days(MON, 5)
        assert (
            self.CALENDAR.business_seconds_between(at(saturday, 3), at(MON + timedelta(8), 4))
            == (3 * 24 + 1) * HOUR
        )
        assert self.CALENDAR.add_business_seconds(at(saturday, 3), 90) == at(saturday, 3, 1, 30)
        assert self.CALENDAR.is_working_time(at(saturday, 3))

    def test_counts_real_time_across_dst_even_for_datetimes_sharing_a_zone(self) -> None:
        # Python subtracts two datetimes with the same tzinfo by wall clock (24 h here); the
        # real elapsed time on the spring-forward day is 23 h.
        start = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)
        end = datetime(2026, 3, 30, 0, 0, tzinfo=BERLIN)
        assert self.CALENDAR.business_seconds_between(start, end) == 23 * HOUR
        assert self.CALENDAR.add_business_seconds(start, 23 * HOUR) == end

    def test_needs_no_working_days(self) -> None:
        calendar = BusinessCalendar(working_days=frozenset(), always_open=True)
        assert calendar.business_seconds_between(utc(2026, 1, 1), utc(2026, 1, 2)) == 24 * HOUR


class TestDaylightSavingTime:
    """Europe/Berlin: 29 March 2026 has 23 hours, 25 October 2026 has 25."""

    @pytest.mark.parametrize(
        ("day", "expected_hours"),
        [
            (date(2026, 3, 28), 4),
            (date(2026, 3, 29), 3),  # 01:00 CET-05:00 CEST = 00:00-03:00 UTC
            (date(2026, 10, 25), 5),  # 01:00 CEST-05:00 CET = 23:00-04:00 UTC
            (date(2026, 10, 26), 4),
        ],
    )
    def test_night_window_spanning_the_change(self, day: date, expected_hours: int) -> None:
        calendar = BusinessCalendar("Europe/Berlin", EVERY_DAY, time(1, 0), time(5, 0))
        opens = datetime.combine(day, time(1, 0), tzinfo=BERLIN)
        assert (
            calendar.business_seconds_between(opens - timedelta(hours=3), opens + timedelta(1))
            == expected_hours * HOUR
        )

    @pytest.mark.parametrize(
        ("day", "opens_utc", "closes_utc"),
        [
            (date(2026, 3, 29), utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 21, 59)),
            (date(2026, 10, 25), utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 22, 59)),
        ],
    )
    def test_all_day_window_is_an_hour_shorter_or_longer(
        self, day: date, opens_utc: datetime, closes_utc: datetime
    ) -> None:
        calendar = BusinessCalendar("Europe/Berlin", EVERY_DAY, time(0, 0), time(23, 59))
        # From inside the one-minute break before it to inside the break after it.
        half_minute = timedelta(seconds=30)
        whole_day = calendar.business_seconds_between(
            opens_utc - half_minute, closes_utc + half_minute
        )
        assert whole_day == (closes_utc - opens_utc).total_seconds()
        assert whole_day == (24 * 60 - 1) * 60 + (HOUR if day.month == 10 else -HOUR)
        assert calendar.is_working_time(opens_utc)
        assert not calendar.is_working_time(opens_utc - MICROSECOND)
        assert not calendar.is_working_time(closes_utc)
        assert calendar.add_business_seconds(opens_utc, whole_day) == closes_utc

    def test_opening_in_the_skipped_hour_uses_the_offset_before_the_change(self) -> None:
        # 02:30 does not exist on 29 March; fold=0 reads it as 02:30 CET = 01:30 UTC.
        calendar = BusinessCalendar("Europe/Berlin", EVERY_DAY, time(2, 30), time(6, 0))
        assert calendar.add_business_seconds(utc(2026, 3, 29, 0), 1) == utc(2026, 3, 29, 1, 30, 1)
        assert calendar.business_seconds_between(utc(2026, 3, 29), utc(2026, 3, 30)) == 2.5 * HOUR

    def test_window_inside_the_skipped_hour_is_empty_that_day(self) -> None:
        calendar = BusinessCalendar("Europe/Berlin", EVERY_DAY, time(2, 30), time(3, 0))
        assert calendar.business_seconds_between(utc(2026, 3, 29), utc(2026, 3, 30)) == 0.0
        assert calendar.business_seconds_between(utc(2026, 3, 28), utc(2026, 3, 29)) == 0.5 * HOUR
        assert not calendar.is_working_time(utc(2026, 3, 29, 1, 30))
        # The next working time is the following night, 02:30 CEST = 00:30 UTC.
        assert calendar.add_business_seconds(utc(2026, 3, 29), 1) == utc(2026, 3, 30, 0, 30, 1)

    def test_ambiguous_opening_uses_its_first_occurrence(self) -> None:
        # 02:30 happens twice on 25 October; fold=0 picks 02:30 CEST = 00:30 UTC.
        calendar = BusinessCalendar("Europe/Berlin", EVERY_DAY, time(2, 30), time(4, 0))
        assert calendar.is_working_time(utc(2026, 10, 25, 0, 30))
        assert not calendar.is_working_time(utc(2026, 10, 25, 0, 29, 59))
        assert calendar.business_seconds_between(utc(2026, 10, 25), utc(2026, 10, 26)) == 2.5 * HOUR


class TestTimeZones:
    CALENDAR = BusinessCalendar(timezone="America/New_York")

    def test_nine_in_new_york_is_fourteen_utc_in_winter(self) -> None:
        monday = date(2026, 1, 12)
        assert not self.CALENDAR.is_working_time(at(monday, 13, 59, 59))
        assert self.CALENDAR.is_working_time(at(monday, 14))
        assert self.CALENDAR.add_business_seconds(at(monday, 0), 1) == at(monday, 14, 0, 1)
        assert self.CALENDAR.business_seconds_between(at(monday, 0), at(monday, 23)) == 8 * HOUR

    def test_nine_in_new_york_is_thirteen_utc_in_summer(self) -> None:
        monday = date(2026, 7, 13)
        assert self.CALENDAR.is_working_time(at(monday, 13))
        assert not self.CALENDAR.is_working_time(at(monday, 21))

    def test_local_date_decides_the_weekday(self) -> None:
        evenings = BusinessCalendar("America/New_York", day_start=time(18), day_end=time(23))
        # Saturday 01:00 UTC is still Friday 20:00 in New York: a working day there.
        assert evenings.is_working_time(utc(2026, 1, 17, 1, 0))
        # Monday 01:00 UTC is still Sunday 20:00 in New York: weekend there.
        assert not evenings.is_working_time(utc(2026, 1, 19, 1, 0))
        tokyo = BusinessCalendar(timezone="Asia/Tokyo")
        # Sunday 23:30 UTC is Monday 08:30 in Tokyo: half an hour before opening.
        assert tokyo.add_business_seconds(utc(2026, 1, 11, 23, 30), 1) == utc(2026, 1, 12, 0, 0, 1)


class TestValidation:
    def test_unknown_zone(self) -> None:
        with pytest.raises(ValueError, match="timezone"):
            BusinessCalendar(timezone="Mars/Olympus_Mons")
        with pytest.raises(ValueError, match="timezone"):
            BusinessCalendar(timezone="../etc/passwd")

    @pytest.mark.parametrize(("start", "end"), [(time(17), time(9)), (time(9), time(9))])
    def test_day_must_end_after_it_starts(self, start: time, end: time) -> None:
        with pytest.raises(ValueError, match="day_end"):
            BusinessCalendar(day_start=start, day_end=end)

    @pytest.mark.parametrize("days", [frozenset({7}), frozenset({-1, 2})])
    def test_weekdays_must_be_zero_to_six(self, days: frozenset[int]) -> None:
        with pytest.raises(ValueError, match="working_days"):
            BusinessCalendar(working_days=days)

    def test_working_days_must_not_be_empty(self) -> None:
        with pytest.raises(ValueError, match="working_days"):
            BusinessCalendar(working_days=frozenset())

    def test_hours_must_be_naive(self) -> None:
        with pytest.raises(ValueError, match="day_start"):
            BusinessCalendar(day_start=time(9, tzinfo=UTC))

    def test_holidays_must_be_dates_not_datetimes(self) -> None:
        with pytest.raises(ValueError, match="holidays"):
            BusinessCalendar(holidays=frozenset({utc(2026, 12, 25)}))

    def test_configuration_sets_are_stored_as_frozensets(self) -> None:
        calendar = BusinessCalendar(working_days={0, 1}, holidays=[MON])  # type: ignore[arg-type]
        assert calendar.working_days == frozenset({0, 1})
        assert calendar.holidays == frozenset({MON})
        assert hash(calendar) == hash(
            BusinessCalendar(working_days=frozenset({0, 1}), holidays=frozenset({MON}))
        )

    def test_naive_datetimes_are_refused(self) -> None:
        naive = datetime(2026, 3, 2, 10, 0)
        with pytest.raises(ValueError, match="start"):
            OFFICE.business_seconds_between(naive, at(MON, 12))
        with pytest.raises(ValueError, match="end"):
            OFFICE.business_seconds_between(at(MON, 12), naive)
        with pytest.raises(ValueError, match="start"):
            OFFICE.add_business_seconds(naive, 0)
        with pytest.raises(ValueError, match="moment"):
            OFFICE.is_working_time(naive)

    @pytest.mark.parametrize("seconds", [-1.0, -1e-6, float("nan"), float("inf")])
    def test_seconds_must_be_finite_and_not_negative(self, seconds: float) -> None:
        with pytest.raises(ValueError, match="seconds"):
            OFFICE.add_business_seconds(at(MON, 10), seconds)

    def test_calendar_without_any_working_time_for_years_fails_instead_of_looping(self) -> None:
        # Mondays only, and every Monday from 2026 to the end of 2037 is a holiday.
        first_monday = date(2026, 1, 5)
        mondays = frozenset(first_monday + timedelta(weeks=n) for n in range(12 * 53))
        assert max(mondays) - first_monday > timedelta(days=MAX_IDLE_DAYS)
        calendar = BusinessCalendar(working_days=frozenset({0}), holidays=mondays)
        with pytest.raises(ValueError, match="no working time"):
            calendar.add_business_seconds(utc(2026, 1, 1), 1)
        # Counting is bounded by its end, so it simply finds nothing.
        assert calendar.business_seconds_between(utc(2026, 1, 1), utc(2036, 1, 1)) == 0.0

    def test_a_long_but_finite_holiday_run_is_not_mistaken_for_no_working_time(self) -> None:
        first_monday = date(2026, 1, 5)
        mondays = frozenset(first_monday + timedelta(weeks=n) for n in range(5 * 52))
        calendar = BusinessCalendar(working_days=frozenset({0}), holidays=mondays)
        first_working_monday = first_monday + timedelta(weeks=5 * 52)
        assert calendar.add_business_seconds(utc(2026, 1, 1), 1) == at(
            first_working_monday, 9, 0, 1
        )


# --- Randomized properties ---------------------------------------------------------------------

# Calendars chosen to hit DST changes (Europe in March/October, US in March/November), a
# southern-hemisphere zone, a window that the spring change empties, holidays and 24x7.
RANDOM_CALENDARS = [
    BusinessCalendar(
        "Europe/Berlin",
        holidays=frozenset({date(2026, 4, 3), date(2026, 4, 6), date(2026, 10, 26)}),
    ),
    BusinessCalendar("America/New_York", frozenset(range(6)), time(8, 30), time(17, 15)),
    BusinessCalendar("Europe/Berlin", EVERY_DAY, time(1, 0), time(5, 0)),
    BusinessCalendar("Europe/Berlin", EVERY_DAY, time(2, 30), time(3, 0)),
    BusinessCalendar("Australia/Sydney", frozenset({6, 0, 1, 2, 3}), time(7), time(23, 30)),
    BusinessCalendar("Europe/Berlin", always_open=True),
]
# Days around which random instants are drawn: the DST changes of those zones in 2026.
ANCHORS = [utc(2026, 3, 8), utc(2026, 3, 29), utc(2026, 4, 5), utc(2026, 10, 4), utc(2026, 10, 25)]


CASES = 250  # per calendar and property: 1,500 cases per property, in well under a second


def random_instants(rng: random.Random, count: int) -> list[datetime]:
    """Sorted instants near DST changes, some on round hours so boundaries get hit exactly.

    Mostly within a couple of weeks around one change; one case in ten spans months.
    """
    anchor = rng.choice(ANCHORS)
    instants = []
    for _ in range(count):
        if rng.random() < 0.1:
            anchor = rng.choice(ANCHORS)
        if rng.random() < 0.3:
            offset = timedelta(hours=rng.randint(-8 * 24, 8 * 24))
        else:
            offset = timedelta(microseconds=rng.randint(-8 * 86_400_000_000, 8 * 86_400_000_000))
        instants.append(anchor + offset)
    return sorted(instants)


@pytest.mark.parametrize("calendar", RANDOM_CALENDARS, ids=lambda c: f"{c.timezone}-{c.day_start}")
def test_adding_and_counting_are_inverse(calendar: BusinessCalendar) -> None:
    rng = random.Random(20260329)  # noqa: S311 - reproducible, not secret
    for _ in range(CASES):
        start, end = random_instants(rng, 2)
        counted = calendar.business_seconds_between(start, end)

        due = calendar.add_business_seconds(start, counted)
        assert due <= end
        if end > start and calendar.is_working_time(end - MICROSECOND):
            assert due == end
        assert calendar.business_seconds_between(start, due) == counted

        amount = rng.choice([1.0, HOUR, rng.uniform(0, 40 * HOUR), rng.randint(0, 10**6) / 1e6])
        due = calendar.add_business_seconds(start, amount)
        assert due >= start
        assert abs(calendar.business_seconds_between(start, due) - amount) <= 1e-6
        # Earliest: a microsecond earlier the amount has not yet passed.
        if amount >= 1e-6 and due > start:
            assert calendar.business_seconds_between(start, due - MICROSECOND) < amount


@pytest.mark.parametrize("calendar", RANDOM_CALENDARS, ids=lambda c: f"{c.timezone}-{c.day_start}")
def test_counting_is_additive(calendar: BusinessCalendar) -> None:
    rng = random.Random(1234)  # noqa: S311 - reproducible, not secret
    for _ in range(CASES):
        a, b, c = random_instants(rng, 3)
        whole = calendar.business_seconds_between(a, c)
        parts = calendar.business_seconds_between(a, b) + calendar.business_seconds_between(b, c)
        assert abs(parts - whole) <= 1e-6
        assert 0 <= whole <= (c - a).total_seconds()


@pytest.mark.parametrize(
    "calendar",
    # Calendars whose opening and closing are real wall-clock times every day, so "the local
    # wall clock shows a working day and time" is the same definition as the module's windows.
    [RANDOM_CALENDARS[0], RANDOM_CALENDARS[1], RANDOM_CALENDARS[2], RANDOM_CALENDARS[4]],
    ids=lambda c: f"{c.timezone}-{c.day_start}",
)
def test_counting_matches_a_minute_by_minute_wall_clock_count(calendar: BusinessCalendar) -> None:
    zone = ZoneInfo(calendar.timezone)

    def on_the_clock(moment: datetime) -> bool:
        local = moment.astimezone(zone)
        return (
            local.weekday() in calendar.working_days
            and local.date() not in calendar.holidays
            and calendar.day_start <= local.time() < calendar.day_end
        )

    for anchor in ANCHORS:
        start = anchor - timedelta(days=2)
        minutes = [start + timedelta(minutes=n) for n in range(4 * 24 * 60)]
        expected = sum(60 for minute in minutes if on_the_clock(minute))
        assert calendar.business_seconds_between(start, minutes[-1] + timedelta(minutes=1)) == (
            expected
        )
        for minute in minutes[::97]:
            assert calendar.is_working_time(minute) == on_the_clock(minute)


@pytest.mark.parametrize(
    "calendar",
    [
        *RANDOM_CALENDARS[:5],
        # Samoa skipped 30 December 2011 entirely: windows of neighbouring dates meet.
        BusinessCalendar("Pacific/Apia", EVERY_DAY, time(0, 0), time(23, 0)),
    ],
    ids=lambda c: f"{c.timezone}-{c.day_start}",
)
def test_long_spans_from_the_table_equal_the_day_by_day_sum(
    calendar: BusinessCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long spans are summed from a cached table of windows; the same spans counted day by
    # day, on a fresh calendar, must agree to the microsecond.
    rng = random.Random(7)  # noqa: S311 - reproducible, not secret
    anchors = [*ANCHORS, utc(2011, 12, 29)]
    spans = []
    for _ in range(CASES):
        start = rng.choice(anchors) + timedelta(
            microseconds=rng.randint(-400 * 86_400_000_000, 86_400_000_000)
        )
        length = timedelta(microseconds=rng.randint(0, 500 * 86_400_000_000))
        spans.append((start, start + length))
    assert sum((end - start).days > calendar_module.LONG_SPAN_DAYS for start, end in spans) > 200
    from_table = [calendar.business_seconds_between(start, end) for start, end in spans]
    assert calendar._table is not None

    monkeypatch.setattr(calendar_module, "LONG_SPAN_DAYS", 10**6)
    day_by_day = dataclasses.replace(calendar)
    assert from_table == [day_by_day.business_seconds_between(start, end) for start, end in spans]


def test_the_table_grows_to_what_spans_need_and_no_further() -> None:
    # A page of tickets, newest first: each span starts further back. The table must grow
    # a few times (at least doubling), not once per span, and never far past the spans.
    calendar = BusinessCalendar("Europe/Berlin")
    now = utc(2026, 11, 23, 12)
    tables = []
    for age in range(30, 30 + 50 * 70, 70):
        calendar.business_seconds_between(now - timedelta(days=age), now)
        tables.append(calendar._table)
    assert len({id(table) for table in tables}) <= 8
    final = tables[-1]
    assert final is not None
    oldest = (now - timedelta(days=30 + 49 * 70)).date()
    assert final.first <= oldest - timedelta(days=1)
    assert oldest - final.first < timedelta(days=2 * 49 * 70)
    assert now.date() <= final.last < now.date() + timedelta(days=63)


def test_spans_near_the_ends_of_the_date_range_are_still_counted() -> None:
    calendar = BusinessCalendar(working_days=EVERY_DAY, day_start=time(0), day_end=time(12))
    early = datetime(1, 7, 1, tzinfo=UTC)
    late = datetime(9999, 6, 1, tzinfo=UTC)
    for start, end in [
        (early, early + timedelta(days=100)),
        (early + timedelta(days=200), early + timedelta(days=400)),
        (late - timedelta(days=300), late),
        (late - timedelta(days=100), late + timedelta(days=150)),
    ]:
        expected = (end - start).days * 12 * HOUR
        assert calendar.business_seconds_between(start, end) == expected
