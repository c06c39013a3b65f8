"""SLA clocks: how much business time a ticket has used of its targets.

Each ticket under a policy has two clocks, first response and resolution,
counted in the policy's business hours from the ticket's creation. The clocks
pause while the ticket waits in a status the policy names (on the requester,
on the vendor) and stop once it is resolved; a reopened ticket's clock runs
on from where it stopped. The first-response clock stops for good at the
first public reply or interaction by an agent.

The ticket stores what cannot be recomputed (paused time, the moment a pause
began, the first-response time used, which events were sent) and, for the
scanner, the next instant a threshold will be crossed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time

from deskside_contracts.tickets import (
    BusinessHours,
    Priority,
    SlaPolicyCreate,
    SlaPolicyRead,
    SlaTarget,
    TicketSla,
    TicketStatus,
)
from deskside_tickets.calendar import BusinessCalendar
from deskside_tickets.models import SlaPolicy, Ticket

WARNING_AT = 0.75
_STOPPED = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})
_WAITING = {"requester": "waiting_on_requester", "vendor": "waiting_on_vendor"}
ALWAYS = BusinessCalendar(always_open=True)


@dataclass(frozen=True)
class Policy:
    """An SLA policy, ready to compute with."""

    id: str
    calendar: BusinessCalendar
    targets: dict[str, SlaTarget]
    paused_statuses: frozenset[str]

    @classmethod
    def from_row(cls, row: SlaPolicy) -> Policy:
        read = policy_to_read(row)
        return cls(
            id=row.id,
            calendar=calendar_of(read.business_hours),
            targets={priority.value: target for priority, target in read.targets.items()},
            paused_statuses=frozenset(_WAITING[on.value] for on in read.pause_on),
        )

    def target_seconds(self, priority: str) -> tuple[float, float]:
        target = self.targets[priority]
        return target.first_response_minutes * 60.0, target.resolution_minutes * 60.0

    def stops_clock(self, status: str) -> bool:
        return status in self.paused_statuses or status in _STOPPED


def calendar_of(hours: BusinessHours) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=hours.timezone,
        working_days=frozenset(hours.working_days),
        day_start=time.fromisoformat(hours.day_start),
        day_end=time.fromisoformat(hours.day_end),
        holidays=frozenset(hours.holidays),
        always_open=hours.always_open,
    )


def policy_to_read(row: SlaPolicy) -> SlaPolicyRead:
    return SlaPolicyRead.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "is_default": row.is_default,
            "targets": row.targets,
            "business_hours": row.business_hours,
            "pause_on": row.pause_on,
            "version": row.version,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def status_changed(ticket: Ticket, policy: Policy, old: str, new: str, now: datetime) -> None:
    """Pause or resume the clocks for a status change from `old` to `new`."""
    was_stopped, stops = policy.stops_clock(old), policy.stops_clock(new)
    if not was_stopped and stops:
        ticket.sla_paused_since = now
    elif was_stopped and not stops and ticket.sla_paused_since is not None:
        ticket.sla_paused_seconds += policy.calendar.business_seconds_between(
            ticket.sla_paused_since, now
        )
        ticket.sla_paused_since = None


def first_response_given(ticket: Ticket, policy: Policy, at: datetime) -> None:
    ticket.sla_first_response_seconds = _used(ticket, policy, at)


def _used(ticket: Ticket, policy: Policy, now: datetime) -> float:
    """Business seconds the clocks have run, up to `now` (or the start of the current pause)."""
    until = ticket.sla_paused_since or now
    running = policy.calendar.business_seconds_between(ticket.created_at, until)
    return max(0.0, running - ticket.sla_paused_seconds)


@dataclass(frozen=True)
class Clocks:
    first_response_used: float
    resolution_used: float
    first_response_target: float
    resolution_target: float
    first_response_running: bool
    resolution_running: bool


def clocks(ticket: Ticket, policy: Policy, now: datetime) -> Clocks:
    first_target, resolution_target = policy.target_seconds(ticket.priority)
    used = _used(ticket, policy, now)
    paused = ticket.sla_paused_since is not None
    first_met = ticket.sla_first_response_seconds is not None
    return Clocks(
        first_response_used=(
            ticket.sla_first_response_seconds
            if ticket.sla_first_response_seconds is not None
            else used
        ),
        resolution_used=used,
        first_response_target=first_target,
        resolution_target=resolution_target,
        first_response_running=not first_met and not paused,
        resolution_running=not paused,
    )


def crossed_thresholds(ticket: Ticket, policy: Policy, now: datetime) -> list[tuple[str, str]]:
    """Thresholds crossed and not yet announced, as (event type, clock); marks them announced.

    Called by the scanner and after every change, so each warning and breach is
    announced exactly once per ticket, whichever notices it first.
    """
    current = clocks(ticket, policy, now)
    crossed: list[tuple[str, str]] = []
    for clock, used, target in (
        ("first_response", current.first_response_used, current.first_response_target),
        ("resolution", current.resolution_used, current.resolution_target),
    ):
        if used >= target * WARNING_AT and not getattr(ticket, f"sla_{clock}_warned"):
            setattr(ticket, f"sla_{clock}_warned", True)
            if used < target:
                crossed.append(("ticket.sla_warning", clock))
        if used >= target and not getattr(ticket, f"sla_{clock}_breached"):
            setattr(ticket, f"sla_{clock}_breached", True)
            crossed.append(("ticket.sla_breached", clock))
    return crossed


def schedule(ticket: Ticket, policy: Policy) -> None:
    """Store the due dates and the next instant the scanner must look at the ticket."""
    current = clocks(ticket, policy, ticket.sla_paused_since or ticket.updated_at)
    calendar = policy.calendar
    offset = ticket.sla_paused_seconds

    def at(seconds: float) -> datetime:
        return calendar.add_business_seconds(ticket.created_at, seconds + offset)

    ticket.sla_first_response_due_at = (
        at(current.first_response_target) if current.first_response_running else None
    )
    ticket.sla_resolution_due_at = (
        at(current.resolution_target) if current.resolution_running else None
    )
    upcoming: list[datetime] = []
    for clock, running, target in (
        ("first_response", current.first_response_running, current.first_response_target),
        ("resolution", current.resolution_running, current.resolution_target),
    ):
        if not running:
            continue
        if not getattr(ticket, f"sla_{clock}_warned"):
            upcoming.append(at(target * WARNING_AT))
        elif not getattr(ticket, f"sla_{clock}_breached"):
            upcoming.append(at(target))
    ticket.sla_next_check_at = min(upcoming) if upcoming else None


def view(ticket: Ticket, policy: Policy, now: datetime) -> TicketSla:
    current = clocks(ticket, policy, now)
    first_left = current.first_response_target - current.first_response_used
    resolution_left = current.resolution_target - current.resolution_used
    return TicketSla(
        policy_id=policy.id,
        first_response_due_at=ticket.sla_first_response_due_at,
        resolution_due_at=ticket.sla_resolution_due_at,
        first_response_breached=first_left <= 0,
        resolution_breached=resolution_left <= 0,
        paused=ticket.sla_paused_since is not None and ticket.status not in _STOPPED,
        paused_minutes=int(_paused_so_far(ticket, policy, now) // 60),
        first_response_remaining_minutes=(
            math.floor(first_left / 60) if ticket.sla_first_response_seconds is None else None
        ),
        resolution_remaining_minutes=(
            math.floor(resolution_left / 60) if ticket.status not in _STOPPED else None
        ),
    )


def _paused_so_far(ticket: Ticket, policy: Policy, now: datetime) -> float:
    current = 0.0
    if ticket.sla_paused_since is not None and ticket.status not in _STOPPED:
        current = policy.calendar.business_seconds_between(ticket.sla_paused_since, now)
    return ticket.sla_paused_seconds + current


def minutes_lost(ticket: Ticket, policy: Policy | None, now: datetime) -> int | None:
    """Business minutes a person who could not work has lost, until resolution."""
    if not ticket.work_stopped:
        return None
    if ticket.minutes_lost is not None:
        return ticket.minutes_lost
    return business_minutes(
        policy, ticket.created_at, ticket.resolved_at or ticket.closed_at or now
    )


def business_minutes(policy: Policy | None, start: datetime, end: datetime) -> int:
    """Whole minutes of the policy's working time in ``[start, end)`` (all time without one)."""
    calendar = policy.calendar if policy is not None else ALWAYS
    return int(calendar.business_seconds_between(start, end) // 60)


def settle_minutes_lost(ticket: Ticket, policy: Policy | None) -> None:
    """Fix the minutes lost when the ticket is resolved or closed; clear them if it reopens.

    The figure stops growing at resolution, so it is kept rather than recomputed:
    reports sum it in SQL, and a later change of the policy's calendar does not
    rewrite history.
    """
    ticket.minutes_lost = None
    settled_at = ticket.resolved_at or ticket.closed_at
    if settled_at is not None:
        ticket.minutes_lost = minutes_lost(ticket, policy, settled_at)


# A sensible start (business hours, Monday to Friday, 9 to 17 UTC) that admins
# adjust or replace; without any policy tickets would have no clocks at all.
DEFAULT_POLICY = SlaPolicyCreate(
    name="Standard",
    is_default=True,
    targets={
        Priority.P1: SlaTarget(first_response_minutes=30, resolution_minutes=4 * 60),
        Priority.P2: SlaTarget(first_response_minutes=60, resolution_minutes=8 * 60),
        Priority.P3: SlaTarget(first_response_minutes=4 * 60, resolution_minutes=3 * 8 * 60),
        Priority.P4: SlaTarget(first_response_minutes=8 * 60, resolution_minutes=5 * 8 * 60),
    },
)
