"""Random sequences of lifecycle actions, checked against a model of the ticket.

Issue: random sequences of actions never leave a ticket in an impossible state,
never lose a comment, and never show a requester an internal note.

A Hypothesis state machine opens two tickets per example, one raised by a
requester herself and one by an agent for a caller. On one of them it then, in
random order, assigns, starts, waits, resolves, closes and reopens, posts public
replies and internal notes, and tries what must be refused: a requester's
internal note or agent-only action (403), a change from the wrong status (409),
a stale or malformed `If-Match` (412, before anything else is looked at), a
stranger's request (404). Each answer's status code is compared with what the
model predicts; after every step the invariants check over the API:

- no impossible state: status, version, assignee and group are the model's;
  `waiting_on` is set exactly while waiting; `closed_at` exactly while closed;
  `resolved_at` exactly while resolved, or closed after a resolution (a reopen
  clears both); `first_response_at` once an agent has replied in public; the
  history's status changes form one unbroken chain ending in the status; the
  other ticket, the bystander, has not changed at all;
- no comment lost: the agent's conversation is every comment posted, in order;
- no internal note shown to the requester: the requester's conversation is the
  public comments only, and the requester's history never names a note's id
  (while the agent's does, so that check cannot pass by accident).

The machine runs on a worker thread; each HTTP call is handed back to the
test's event loop, the loop the app's database engine belongs to.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from deskside_contracts.tickets import TicketStatus, WaitingOn
from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from tests.support.apps import serving
from tests.support.tokens import bearer
from tests.tickets.conftest import ADMIN, AGENT, ALICE, BOB

T = TypeVar("T")

NEW = TicketStatus.NEW
IN_PROGRESS = TicketStatus.IN_PROGRESS
WAITING_ON_REQUESTER = TicketStatus.WAITING_ON_REQUESTER
WAITING_ON_VENDOR = TicketStatus.WAITING_ON_VENDOR
RESOLVED = TicketStatus.RESOLVED
CLOSED = TicketStatus.CLOSED

# The lifecycle as the model knows it, written out independently of
# `deskside_tickets.lifecycle` so that a change there has to agree with it.
OPEN = frozenset({NEW, IN_PROGRESS, WAITING_ON_REQUESTER, WAITING_ON_VENDOR})
MAY_START_FROM: dict[str, frozenset[TicketStatus]] = {
    "assign": OPEN,
    "start": frozenset({NEW, WAITING_ON_REQUESTER, WAITING_ON_VENDOR}),
    "wait": OPEN,
    "resolve": OPEN,
    "close": OPEN | {RESOLVED},
    "reopen": frozenset({RESOLVED, CLOSED}),
}
WAIT_TARGET = {WaitingOn.REQUESTER: WAITING_ON_REQUESTER, WaitingOn.VENDOR: WAITING_ON_VENDOR}
AGENT_ONLY = ("assign", "start", "wait", "resolve")
REFUSED_BODIES: dict[str, dict[str, Any] | None] = {
    "assign": {"assignee_id": "carol"},
    "start": None,
    "wait": {"on": "vendor"},
    "resolve": {"resolution": "Fixed it myself."},
    "close": None,
    "reopen": {"reason": "Too late."},
}

STAFF: dict[str, dict[str, str]] = {"agnes": AGENT, "root": ADMIN}
CAROL = bearer("carol", "requester", email="carol@example.com", name="Carol Caller")
CALL_TIMEOUT = 30.0

staff = st.sampled_from(sorted(STAFF))
refusals = st.one_of(
    st.tuples(st.just("requester"), st.sampled_from(AGENT_ONLY)),
    st.tuples(
        st.just("stranger"),
        st.sampled_from([*REFUSED_BODIES, "comment", "read", "comments", "history"]),
    ),
)
# Any printable text, from any script: it must come back byte for byte.
words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20
)


class Comment(NamedTuple):
    id: str
    body: str
    internal: bool


@dataclass(frozen=True)
class Views:
    """One ticket as the API shows it to the desk and to its requester, after a step.

    The ticket the steps act on is read in `full`; of the bystander the ticket
    itself is enough: any change to it would have bumped its version.
    """

    ticket: dict[str, Any]
    full: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    requester_comments: list[dict[str, Any]] = field(default_factory=list)
    requester_history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Expected:
    """What one ticket must look like, kept up to date with every accepted change."""

    id: str
    reference: str
    requester: dict[str, str]
    version: int
    assignee_id: str | None
    group_id: str | None
    status: TicketStatus = NEW
    waiting_on: WaitingOn | None = None
    resolved: bool = False  # `resolved_at` is set: resolved since the last reopen
    first_response: bool = False
    comments: list[Comment] = field(default_factory=list)
    note_markers: list[str] = field(default_factory=list)  # a word of each internal note

    def change(self, status: TicketStatus | None = None) -> None:
        self.version += 1
        if status is not None:
            self.status = status
            if status not in WAIT_TARGET.values():
                self.waiting_on = None


class TicketLifecycle(RuleBasedStateMachine):
    """Bound to a running app by `bound_to`; run by `run_state_machine_as_test`."""

    client: ClassVar[httpx.AsyncClient]
    loop: ClassVar[asyncio.AbstractEventLoop]

    def __init__(self) -> None:
        super().__init__()
        self.tickets: list[Expected] = []
        self.serial = itertools.count(1)
        # What the invariants check, read once per step (see `_views`).
        self.seen: list[Views] | None = None

    @classmethod
    def bound_to(
        cls, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop
    ) -> type[TicketLifecycle]:
        return type("BoundTicketLifecycle", (cls,), {"client": client, "loop": loop})

    def _ticket(self) -> Expected:
        """The ticket the steps act on; whatever was read before this step is out of date."""
        self.seen = None
        return self.tickets[0]

    # --- talking to the app from the machine's thread -------------------------------

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_TIMEOUT)

    def _views(self) -> list[Views]:
        """Every ticket as the desk and its requester see it now, read concurrently."""
        if self.seen is None:
            self.seen = self._await(self._read_all())
        return self.seen

    async def _read_all(self) -> list[Views]:
        return list(
            await asyncio.gather(
                *(self._read(ticket, full=ticket is self.tickets[0]) for ticket in self.tickets)
            )
        )

    async def _read(self, ticket: Expected, *, full: bool) -> Views:
        path = f"/v1/tickets/{ticket.reference}"
        response = await self.client.get(path, headers=AGENT)
        assert response.status_code == 200, response.text
        read = response.json()
        assert response.headers["etag"] == f'"{read["version"]}"'
        if not full:
            return Views(read)
        comments, history, requester_comments, requester_history = await asyncio.gather(
            self._all(f"{path}/comments", AGENT),
            self._all(f"{path}/history", AGENT),
            self._all(f"{path}/comments", ticket.requester),
            self._all(f"{path}/history", ticket.requester),
        )
        return Views(read, True, comments, history, requester_comments, requester_history)

    async def _all(self, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
        """Every item of a paged list, following `next_cursor`."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 200}
        while True:
            response = await self.client.get(path, params=params, headers=headers)
            assert response.status_code == 200, (path, response.text)
            page = response.json()
            items += page["items"]
            if page["next_cursor"] is None:
                return items
            params["cursor"] = page["next_cursor"]

    def _post(
        self,
        ticket: Expected,
        action: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
        *,
        if_match: str | None = None,
    ) -> httpx.Response:
        if if_match is not None:
            headers = {**headers, "If-Match": if_match}
        return self._await(
            self.client.post(f"/v1/tickets/{ticket.reference}/{action}", json=body, headers=headers)
        )

    def _act(
        self,
        ticket: Expected,
        action: str,
        headers: dict[str, str],
        body: dict[str, Any] | None,
        expected: int,
        *,
        send_version: bool,
    ) -> httpx.Response:
        """Post a lifecycle action, with the current version as `If-Match` or none."""
        if_match = f'"{ticket.version}"' if send_version else None
        response = self._post(ticket, action, headers, body, if_match=if_match)
        assert response.status_code == expected, (action, ticket.status, response.text)
        if expected >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        if expected == 409:
            assert response.json()["current_status"] == ticket.status.value
        return response

    def _accepted(self, ticket: Expected, response: httpx.Response) -> None:
        """The change went through: its answer must already show the model's ticket."""
        read = response.json()
        assert (read["status"], read["version"]) == (ticket.status.value, ticket.version)
        assert response.headers["etag"] == f'"{ticket.version}"'

    # --- setup ----------------------------------------------------------------------

    @initialize(raised_by_agent=st.booleans())
    def open_tickets(self, raised_by_agent: bool) -> None:
        """The ticket the steps act on, and a bystander that must stay as it is.

        One is raised by the requester herself, the other by an agent for a caller.
        The database outlives an example: the machine reasons only about these two.
        """
        for by_agent in (raised_by_agent, not raised_by_agent):
            if by_agent:
                caller = {"id": "carol", "email": "carol@example.com", "name": "Carol Caller"}
                headers, requester, body = AGENT, CAROL, {"channel": "phone", "requester": caller}
            else:
                headers, requester, body = ALICE, ALICE, {}
            body |= {"title": "Laptop will not boot", "description": "Black screen."}
            response = self._await(self.client.post("/v1/tickets", json=body, headers=headers))
            assert response.status_code == 201, response.text
            read = response.json()
            assert read["status"] == NEW.value
            self.tickets.append(
                Expected(
                    id=read["id"],
                    reference=read["reference"],
                    requester=requester,
                    version=read["version"],
                    assignee_id=read["assignee_id"],
                    group_id=read["group_id"],
                )
            )
        self.seen = None

    # --- the desk's actions ---------------------------------------------------------

    @rule(
        agent=staff,
        assignee=st.sampled_from(["agnes", "sam"]),
        group=st.sampled_from([None, "grp_desk", "grp_field"]),
        send_version=st.booleans(),
    )
    def assign(self, agent: str, assignee: str, group: str | None, send_version: bool) -> None:
        ticket = self._ticket()
        body = {"assignee_id": assignee} | ({"group_id": group} if group else {})
        allowed = ticket.status in MAY_START_FROM["assign"]
        response = self._act(
            ticket, "assign", STAFF[agent], body, 200 if allowed else 409, send_version=send_version
        )
        if not allowed:
            return
        changed = ticket.assignee_id != assignee or (group is not None and ticket.group_id != group)
        ticket.assignee_id = assignee
        ticket.group_id = group or ticket.group_id
        if changed:  # assigning whoever already has it changes nothing
            ticket.change()
        self._accepted(ticket, response)

    @rule(agent=staff, send_version=st.booleans())
    def start(self, agent: str, send_version: bool) -> None:
        ticket = self._ticket()
        allowed = ticket.status in MAY_START_FROM["start"]
        response = self._act(
            ticket, "start", STAFF[agent], None, 200 if allowed else 409, send_version=send_version
        )
        if allowed:
            ticket.change(IN_PROGRESS)
            self._accepted(ticket, response)

    @rule(agent=staff, on=st.sampled_from(WaitingOn), send_version=st.booleans())
    def wait(self, agent: str, on: WaitingOn, send_version: bool) -> None:
        ticket = self._ticket()
        target = WAIT_TARGET[on]
        # Waiting on whom it already waits on is no change, and refused as one.
        allowed = ticket.status in MAY_START_FROM["wait"] and ticket.status != target
        body = {"on": on.value, "reason": "Asked for the event log."}
        expected = 200 if allowed else 409
        response = self._act(
            ticket, "wait", STAFF[agent], body, expected, send_version=send_version
        )
        if allowed:
            ticket.change(target)
            ticket.waiting_on = on
            self._accepted(ticket, response)
            assert response.json()["waiting_on"] == on.value

    @rule(agent=staff, send_version=st.booleans())
    def resolve(self, agent: str, send_version: bool) -> None:
        ticket = self._ticket()
        allowed = ticket.status in MAY_START_FROM["resolve"]
        body = {"resolution": "Reseated the memory."}
        expected = 200 if allowed else 409
        response = self._act(
            ticket, "resolve", STAFF[agent], body, expected, send_version=send_version
        )
        if allowed:
            ticket.change(RESOLVED)
            ticket.resolved = True
            self._accepted(ticket, response)

    # --- the desk's or the requester's -----------------------------------------------

    @rule(
        by_requester=st.booleans(),
        agent=staff,
        reason=st.none() | words,
        send_version=st.booleans(),
    )
    def close(self, by_requester: bool, agent: str, reason: str | None, send_version: bool) -> None:
        ticket = self._ticket()
        allowed = ticket.status in MAY_START_FROM["close"]
        if by_requester:
            # A requester only confirms a resolution; closing it again is a conflict.
            headers = ticket.requester
            expected = {RESOLVED: 200, CLOSED: 409}.get(ticket.status, 403)
        else:
            headers = STAFF[agent]
            expected = 200 if allowed else 409
        body = None if reason is None else {"reason": reason}
        response = self._act(ticket, "close", headers, body, expected, send_version=send_version)
        if expected == 200:
            ticket.change(CLOSED)
            self._accepted(ticket, response)

    @rule(by_requester=st.booleans(), agent=staff, send_version=st.booleans())
    def reopen(self, by_requester: bool, agent: str, send_version: bool) -> None:
        ticket = self._ticket()
        headers = ticket.requester if by_requester else STAFF[agent]
        allowed = ticket.status in MAY_START_FROM["reopen"]
        body = {"reason": "It is black again."}
        expected = 200 if allowed else 409
        response = self._act(ticket, "reopen", headers, body, expected, send_version=send_version)
        if allowed:
            ticket.change(IN_PROGRESS)
            ticket.resolved = False
            self._accepted(ticket, response)

    @precondition(lambda self: self.tickets[0].status is RESOLVED)
    @rule(confirm=st.booleans(), send_version=st.booleans())
    def requester_answers_the_resolution(self, confirm: bool, send_version: bool) -> None:
        """What a resolution asks for, made likely: the requester confirms it or reopens."""
        if confirm:
            self.close(by_requester=True, agent="agnes", reason=None, send_version=send_version)
        else:
            self.reopen(by_requester=True, agent="agnes", send_version=send_version)

    # --- the conversation -----------------------------------------------------------

    @rule(author=st.sampled_from(["requester", *sorted(STAFF)]), text=words)
    def reply(self, author: str, text: str) -> None:
        self._comment(self._ticket(), author, internal=False, text=text)

    @rule(author=st.sampled_from(["requester", *sorted(STAFF)]), text=words)
    def note(self, author: str, text: str) -> None:
        self._comment(self._ticket(), author, internal=True, text=text)

    def _comment(self, ticket: Expected, author: str, *, internal: bool, text: str) -> None:
        is_staff = author in STAFF
        headers = STAFF[author] if is_staff else ticket.requester
        kind = "note" if internal else "reply"
        # A word no other comment has, even in earlier examples, to search for.
        marker = f"m{next(self.serial)}x{ticket.id.removeprefix('tkt_')}"
        # Ending in a non-space so that nothing is stripped from it.
        body = f"{kind} {marker}: {text} ."
        response = self._await(
            self.client.post(
                f"/v1/tickets/{ticket.reference}/comments",
                json={"body": body, "internal": internal},
                headers=headers,
            )
        )
        if internal and not is_staff:
            expected = 403  # requesters write no internal notes, whatever the status
        elif ticket.status is CLOSED:
            expected = 409
        else:
            expected = 201
        assert response.status_code == expected, (author, internal, ticket.status, response.text)
        if expected != 201:
            return
        read = response.json()
        assert (read["ticket_id"], read["body"], read["internal"]) == (ticket.id, body, internal)
        ticket.comments.append(Comment(read["id"], body, internal))
        ticket.change()
        if is_staff and not internal:
            ticket.first_response = True
        # The requester's search finds the ticket by its public replies, never by
        # a note's words; a reply re-indexes the ticket, so then every note is tried.
        searches = [(marker, not internal)]
        if internal:
            ticket.note_markers.append(marker)
        else:
            searches += [(note, False) for note in ticket.note_markers]
        for word, findable in searches:
            response = self._await(
                self.client.get("/v1/tickets", params={"q": word}, headers=ticket.requester)
            )
            assert response.status_code == 200, response.text
            found = [item["id"] for item in response.json()["items"]]
            assert found == ([ticket.id] if findable else []), (word, findable)

    # --- what must change nothing ---------------------------------------------------

    @rule(
        action=st.sampled_from(["assign", "start", "wait", "resolve", "close", "reopen"]),
        by_requester=st.booleans(),
        agent=staff,
        tag=st.sampled_from(["older", "newer", "garbage", "weak-older"]),
    )
    def stale_if_match(self, action: str, by_requester: bool, agent: str, tag: str) -> None:
        ticket = self._ticket()
        if_match = {
            "older": f'"{ticket.version - 1}"',
            "newer": f'"{ticket.version + 1}"',
            "garbage": '"v-unknown"',
            "weak-older": f'W/"{ticket.version - 1}"',
        }[tag]
        body = REFUSED_BODIES[action]
        headers = ticket.requester if by_requester else STAFF[agent]
        # The version is checked first: whatever else would be said, it is 412.
        response = self._post(ticket, action, headers, body, if_match=if_match)
        assert response.status_code == 412, (action, if_match, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["current_version"] == ticket.version

    @rule(attempt=refusals, send_version=st.booleans())
    def not_theirs_to_do(self, attempt: tuple[str, str], send_version: bool) -> None:
        """A requester doing the desk's work is refused (403); a stranger is told nothing (404)."""
        ticket = self._ticket()
        who, action = attempt
        if action in REFUSED_BODIES:
            headers, expected = (ticket.requester, 403) if who == "requester" else (BOB, 404)
            body = REFUSED_BODIES[action]
            self._act(ticket, action, headers, body, expected, send_version=send_version)
            return
        path = f"/v1/tickets/{ticket.reference}"
        if action == "comment":
            call = self.client.post(f"{path}/comments", json={"body": "Me too."}, headers=BOB)
        else:
            call = self.client.get(path if action == "read" else f"{path}/{action}", headers=BOB)
        response = self._await(call)
        assert response.status_code == 404, (action, response.text)

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def no_impossible_state(self) -> None:
        for ticket, seen in zip(self.tickets, self._views(), strict=True):
            read = seen.ticket
            assert read["status"] == ticket.status.value
            assert read["version"] == ticket.version
            assert (read["assignee_id"], read["group_id"]) == (ticket.assignee_id, ticket.group_id)
            waiting_on = ticket.waiting_on.value if ticket.waiting_on else None
            assert read["waiting_on"] == waiting_on
            assert (read["closed_at"] is not None) == (ticket.status is CLOSED)
            # Set by resolve, kept by the close that confirms it, cleared by reopen;
            # an agent closing an open ticket never resolved it.
            assert (read["resolved_at"] is not None) == ticket.resolved
            if read["resolved_at"] and read["closed_at"]:
                resolved_at = datetime.fromisoformat(read["resolved_at"])
                assert resolved_at <= datetime.fromisoformat(read["closed_at"])
            assert (read["first_response_at"] is not None) == ticket.first_response

    @invariant()
    def history_tells_how_the_status_came_about(self) -> None:
        for ticket, seen in zip(self.tickets, self._views(), strict=True):
            if not seen.full:
                continue
            # Every status change follows on from the one before and ends where the ticket is.
            status = NEW.value
            for change in seen.history:
                if change["action"] == "status_changed":
                    assert change["old"] == status, seen.history
                    status = change["new"]
            assert status == ticket.status.value

    @invariant()
    def no_comment_is_lost(self) -> None:
        for ticket, seen in zip(self.tickets, self._views(), strict=True):
            if not seen.full:
                continue
            assert [_comment(c) for c in seen.comments] == ticket.comments
            assert {c["ticket_id"] for c in seen.comments} <= {ticket.id}

    @invariant()
    def requesters_never_see_internal_notes(self) -> None:
        for ticket, seen in zip(self.tickets, self._views(), strict=True):
            if not seen.full:
                continue
            public = [c for c in ticket.comments if not c.internal]
            notes = [c for c in ticket.comments if c.internal]
            assert [_comment(c) for c in seen.requester_comments] == public
            shown = {c["body"] for c in seen.requester_comments}
            assert not shown & {note.body for note in notes}

            named = _named_in(seen.requester_history)
            assert {c.id for c in public} <= named  # public replies are in their history
            assert not named & {note.id for note in notes}
            # The desk's history does name the notes: the check above has teeth.
            assert {note.id for note in notes} <= _named_in(seen.history)


def _comment(read: dict[str, Any]) -> Comment:
    return Comment(read["id"], read["body"], read["internal"])


def _named_in(history: list[dict[str, Any]]) -> set[str]:
    """Every value a history names, old or new."""
    return {value for change in history for value in (change["old"], change["new"]) if value}


@pytest.fixture
def hypothesis_home(tmp_path: Path) -> Iterator[None]:
    """Hypothesis's caches (unicode tables, constants) in a temporary directory, not the repo."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    set_hypothesis_home_dir(None)


@pytest.mark.usefixtures("hypothesis_home")
async def test_random_lifecycles_keep_every_ticket_consistent(settings: TicketsSettings) -> None:
    loop = asyncio.get_running_loop()
    async with serving(create_app(settings)) as client:
        machine = TicketLifecycle.bound_to(client, loop)
        # Hypothesis is synchronous: it runs on a worker thread while this loop
        # serves the requests its rules hand back to it.
        await asyncio.to_thread(
            run_state_machine_as_test,
            machine,
            settings=hypothesis.settings(
                max_examples=15,
                stateful_step_count=20,
                deadline=None,
                derandomize=True,  # the same sequences on every run: CI stays deterministic
                database=None,  # no example database: nothing written to .hypothesis/
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
