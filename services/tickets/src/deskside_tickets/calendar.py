"""Business calendars: how much of a span of time counts towards an SLA clock.

An SLA policy counts only working time: the calendar's working weekdays, between its daily
opening and closing time, in its own time zone, except on its holidays. Everything here is
pure (standard library only) so the SLA rules can be tested without a database or a clock.

How working time is defined, once, so every method agrees:

- Each local date of the calendar's zone that is a working weekday and not a holiday has one
  window, ``[day_start, day_end)`` on that date, converted to UTC. Working time is the union of
  those windows; opening is inclusive and closing exclusive.
- On a DST change the window keeps its wall-clock times, so its real length is an hour shorter
  or longer. That is intended: the desk is staffed by the wall clock.
- A wall-clock time that does not exist (skipped in spring) or exists twice (repeated in autumn)
  is resolved by zoneinfo's default, ``fold=0``: the offset in force *before* the transition.
  A nonexistent time therefore lands an hour later than written, an ambiguous one on its first
  occurrence. A window made inverted or empty by this (e.g. 02:30-03:00 on a spring-forward
  day in Europe/Berlin) simply has no working time that day.
- All arithmetic is done on UTC datetimes: Python subtracts and adds two datetimes that share
  a tzinfo by wall clock, which would be wrong by an hour across a DST change.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Adding business time gives up after this many consecutive calendar days without any working
# time (ten years and a bit), so a calendar whose working days are all holidays fails loudly
# instead of looping forever.
MAX_IDLE_DAYS = 3660

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
# A span longer than this many days is summed from a table of windows with running totals
# instead of day by day: an SLA view of a year-old open ticket walked 365 days, 0.4 ms each,
# 20 ms for a page of them.
LONG_SPAN_DAYS = 14
# The table is built this much wider than asked, so neighbouring spans reuse it.
_TABLE_MARGIN = timedelta(days=62)


def _require_aware(name: str, moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is refused because its instant is unknown."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """When an SLA clock runs: working days and hours in one time zone, minus holidays."""

    timezone: str = "UTC"
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday=0 ... Sunday=6
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    holidays: frozenset[date] = frozenset()  # dates in the calendar's own zone
    always_open: bool = False  # 24x7: every minute counts, the other fields are ignored
    # Built on the first long span, widened as later ones need; not part of the value.
    _table: _WindowTable | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # Accept any iterable (e.g. a set or list from configuration) but store frozensets, so
        # the calendar stays hashable and immutable.
        object.__setattr__(self, "working_days", frozenset(self.working_days))
        object.__setattr__(self, "holidays", frozenset(self.holidays))

        # The other fields are validated even for a 24x7 calendar: a bad value is still a
        # configuration mistake worth reporting, only their use is skipped.
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"timezone: unknown IANA time zone {self.timezone!r}") from exc
        bad_days = sorted(
            repr(day) for day in self.working_days if not isinstance(day, int) or not 0 <= day <= 6
        )
        if bad_days:
            raise ValueError(
                "working_days: weekdays must be 0 (Monday) to 6 (Sunday), "
                f"got {', '.join(bad_days)}"
            )
        if not self.working_days and not self.always_open:
            raise ValueError("working_days: must not be empty unless always_open is set")
        for name, value in (("day_start", self.day_start), ("day_end", self.day_end)):
            if value.tzinfo is not None:
                raise ValueError(f"{name}: must be a naive time; the calendar's timezone applies")
        if self.day_end <= self.day_start:
            raise ValueError(
                f"day_end ({self.day_end.isoformat()}) must be after "
                f"day_start ({self.day_start.isoformat()}); overnight shifts are not supported"
            )
        # A datetime is a date subclass but never equals one, so it would silently never match.
        if any(isinstance(day, datetime) or not isinstance(day, date) for day in self.holidays):
            raise ValueError("holidays: must contain datetime.date values (not datetimes)")

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in ``[start, end)``; 0 when ``end <= start``."""
        start_utc = _require_aware("start", start)
        end_utc = _require_aware("end", end)
        if end_utc <= start_utc:
            return 0.0
        if self.always_open:
            return (end_utc - start_utc).total_seconds()
        first, last = self._local_date(start_utc), self._local_date(end_utc)
        if (last - first).days > LONG_SPAN_DAYS and _TABLE_RANGE[0] < first <= last < (
            _TABLE_RANGE[1]
        ):
            return self._table_for(first, last).seconds_between(start_utc, end_utc)
        total = _ZERO
        for opens, closes in self._windows(first, last):
            if opens >= end_utc:
                break
            overlap = min(closes, end_utc) - max(opens, start_utc)
            if overlap > _ZERO:
                total += overlap
        return total.total_seconds()

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant (in UTC) at which ``seconds`` of working time have passed.

        Zero seconds give ``start`` itself, even outside working hours: nothing has to elapse.
        ``seconds`` is rounded to the microsecond, the resolution of ``datetime``.
        """
        start_utc = _require_aware("start", start)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        try:
            remaining = timedelta(seconds=seconds)
            if remaining == _ZERO:
                return start_utc
            if self.always_open:
                return start_utc + remaining
            for opens, closes in self._windows(self._local_date(start_utc), None):
                if closes <= start_utc:
                    continue
                begin = max(opens, start_utc)
                available = closes - begin
                # `<=`, not `<`: landing exactly on closing time is earlier than the next opening.
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        except OverflowError as exc:
            raise ValueError(
                f"adding {seconds!r} business seconds goes beyond the supported date range"
            ) from exc
        # The open-ended window search only ends by itself at date.max.
        raise ValueError(
            f"adding {seconds!r} business seconds goes beyond the supported date range"
        )

    def is_working_time(self, moment: datetime) -> bool:
        """Whether the SLA clock runs at ``moment`` (opening inclusive, closing exclusive)."""
        moment_utc = _require_aware("moment", moment)
        if self.always_open:
            return True
        local = self._local_date(moment_utc)
        for opens, closes in self._windows(local, local):
            if opens > moment_utc:
                break
            if moment_utc < closes:
                return True
        return False

    def _table_for(self, first: date, last: date) -> _WindowTable:
        table = self._table
        if table is not None and table.first <= first and last <= table.last:
            return table
        # In day ordinals, plain ints, so growing near the ends of date's range cannot overflow.
        margin = _TABLE_MARGIN.days
        low, high = first.toordinal() - margin, last.toordinal() + margin
        if table is not None:
            known_low, known_high = table.first.toordinal(), table.last.toordinal()
            length = known_high - known_low
            # A span just past the table grows it by at least its own length on that side,
            # so spans reaching ever further back (a page of tickets, newest first) rebuild
            # it a few times, not once per ticket. A span far from it gets a table of its own.
            if low >= known_low - length and high <= known_high + length:
                low = min(low, known_low - length) if first < table.first else known_low
                high = max(high, known_high + length) if last > table.last else known_high
        table = _WindowTable.build(
            self,
            date.fromordinal(max(low, _TABLE_BOUNDS[0].toordinal())),
            date.fromordinal(min(high, _TABLE_BOUNDS[1].toordinal())),
        )
        object.__setattr__(self, "_table", table)
        return table

    def _local_date(self, moment_utc: datetime) -> date:
        return moment_utc.astimezone(ZoneInfo(self.timezone)).date()

    def _windows(self, first: date, last: date | None) -> Iterator[tuple[datetime, datetime]]:
        """Non-empty working windows in UTC, in order, for local dates around ``first..last``.

        One extra day on each side: near a DST change at midnight (or a zone that skipped a
        whole date) an instant's local date can differ from the date whose window holds it.
        With ``last=None`` the search is open-ended and stops with ValueError after
        MAX_IDLE_DAYS days in a row without working time.
        """
        zone = ZoneInfo(self.timezone)  # cached by zoneinfo, so cheap to look up per call
        day = first - _ONE_DAY if first > date.min else first
        stop = (last + _ONE_DAY if last < date.max else last) if last is not None else date.max
        previous_close: datetime | None = None
        idle_days = 0
        while True:
            if day.weekday() in self.working_days and day not in self.holidays:
                # fold=0 (the default) resolves skipped and repeated wall-clock times; see the
                # module docstring.
                opens = datetime.combine(day, self.day_start, tzinfo=zone).astimezone(UTC)
                closes = datetime.combine(day, self.day_end, tzinfo=zone).astimezone(UTC)
                # Windows of consecutive dates can only overlap in zones that skipped a date;
                # clipping keeps the union while never counting an instant twice.
                if previous_close is not None and opens < previous_close:
                    opens = previous_close
                if closes > opens:
                    yield opens, closes
                    previous_close = closes
                    idle_days = 0
            idle_days += 1
            if last is None and idle_days > MAX_IDLE_DAYS:
                raise ValueError(
                    f"no working time in {MAX_IDLE_DAYS} consecutive days after {first}: "
                    "are all working days holidays?"
                )
            if day >= stop:
                return
            day += _ONE_DAY


# Dates a table may cover, clear of the ends of date's range for `_windows`' extra day and
# the conversion to UTC; and the spans that may use one, a margin further in.
_TABLE_BOUNDS = (date.min + _TABLE_MARGIN, date.max - _TABLE_MARGIN)
_TABLE_RANGE = (date.min + 2 * _TABLE_MARGIN, date.max - 2 * _TABLE_MARGIN)


@dataclass(frozen=True)
class _WindowTable:
    """The working windows of the local dates ``first..last``, in order, with running totals.

    Holds every window `_windows(first, last)` yields, so it agrees with the day-by-day sum
    for any span whose local dates lie within ``first..last``.
    """

    first: date
    last: date
    opens: list[datetime]
    closes: list[datetime]
    before: list[timedelta]  # working time in the windows before each one (one more entry)

    @classmethod
    def build(cls, calendar: BusinessCalendar, first: date, last: date) -> _WindowTable:
        opens: list[datetime] = []
        closes: list[datetime] = []
        before = [_ZERO]
        for window_opens, window_closes in calendar._windows(first, last):
            opens.append(window_opens)
            closes.append(window_closes)
            before.append(before[-1] + (window_closes - window_opens))
        return cls(first, last, opens, closes, before)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        begin = bisect_right(self.closes, start)  # the first window still open after start
        stop = bisect_left(self.opens, end)  # the windows before it open before end
        if begin >= stop:
            return 0.0
        total = self.before[stop] - self.before[begin]
        # The first and last windows count only from start and until end.
        total -= max(_ZERO, start - self.opens[begin])
        total -= max(_ZERO, self.closes[stop - 1] - end)
        return total.total_seconds()
