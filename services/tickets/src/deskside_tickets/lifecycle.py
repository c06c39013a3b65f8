"""The pure rules of a ticket's life: its priority and which status change is allowed."""

from __future__ import annotations

from deskside_contracts.tickets import Level, Priority, TicketStatus

# The ITIL priority matrix, extended to four levels: rows are impact, columns urgency.
_MATRIX: dict[Level, dict[Level, Priority]] = {
    Level.CRITICAL: {
        Level.CRITICAL: Priority.P1,
        Level.HIGH: Priority.P1,
        Level.MEDIUM: Priority.P2,
        Level.LOW: Priority.P3,
    },
    Level.HIGH: {
        Level.CRITICAL: Priority.P1,
        Level.HIGH: Priority.P2,
        Level.MEDIUM: Priority.P2,
        Level.LOW: Priority.P3,
    },
    Level.MEDIUM: {
        Level.CRITICAL: Priority.P2,
        Level.HIGH: Priority.P2,
        Level.MEDIUM: Priority.P3,
        Level.LOW: Priority.P4,
    },
    Level.LOW: {
        Level.CRITICAL: Priority.P3,
        Level.HIGH: Priority.P3,
        Level.MEDIUM: Priority.P4,
        Level.LOW: Priority.P4,
    },
}


def priority_for(impact: Level, urgency: Level) -> Priority:
    return _MATRIX[impact][urgency]


OPEN = frozenset(
    {
        TicketStatus.NEW,
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING_ON_REQUESTER,
        TicketStatus.WAITING_ON_VENDOR,
    }
)
WAITING = frozenset({TicketStatus.WAITING_ON_REQUESTER, TicketStatus.WAITING_ON_VENDOR})

# Each action and the statuses it may start from. The action's target is fixed
# (see `target_of`); `assign` and `comment` leave the status alone.
ALLOWED_FROM: dict[str, frozenset[TicketStatus]] = {
    "assign": OPEN,
    "start": frozenset({TicketStatus.NEW, *WAITING}),
    "wait": OPEN,
    "resolve": OPEN,
    "close": frozenset({*OPEN, TicketStatus.RESOLVED}),
    "reopen": frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED}),
}


def may(action: str, status: TicketStatus) -> bool:
    return status in ALLOWED_FROM[action]
