"""Finding tickets: full-text search, filters, sorting and keyset pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from deskside_kit.database import utc_now
from deskside_tickets import repository
from deskside_tickets.models import Ticket
from tests.support.apps import app_sessions
from tests.tickets.conftest import AGENT, ALICE, BOB, open_ticket


async def found(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get("/v1/tickets", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [ticket["title"] for ticket in response.json()["items"]]


def _ago(hours: int) -> str:
    return (utc_now() - timedelta(hours=hours)).isoformat()


async def _opened_ago(
    client: httpx.AsyncClient, hours: int, *, title: str, requester: dict[str, str] = ALICE
) -> None:
    ticket = await open_ticket(client, requester, title=title)
    async with app_sessions(client).write_transaction() as session:
        await session.exec(
            update(Ticket)
            .where(col(Ticket.id) == ticket["id"])
            .values(created_at=utc_now() - timedelta(hours=hours))
        )


class TestSearch:
    async def test_words_are_found_in_title_description_and_public_replies(
        self, client: httpx.AsyncClient
    ) -> None:
        await open_ticket(client, ALICE, title="Dropbox stopped syncing", description="on iPad")
        await open_ticket(client, ALICE, title="Outlook password prompt", description="Mac")
        other = await open_ticket(client, ALICE, title="Printer", description="paper jam")
        await client.post(
            f"/v1/tickets/{other['id']}/comments",
            json={"body": "Try the Epson driver"},
            headers=AGENT,
        )
        await client.post(
            f"/v1/tickets/{other['id']}/comments",
            json={"body": "Kerberos ticket expired", "internal": True},
            headers=AGENT,
        )

        assert await found(client, AGENT, q="sync") == ["Dropbox stopped syncing"]
        assert await found(client, AGENT, q="ipad dropbox") == ["Dropbox stopped syncing"]
        assert await found(client, AGENT, q="epson") == ["Printer"]
        # Internal notes are not searchable, not even by agents' list queries of them.
        assert await found(client, AGENT, q="kerberos") == []
        assert await found(client, AGENT, q="ipad outlook") == []

    @pytest.mark.parametrize("query", ['"', "AND OR NOT", "dropbox*", "NEAR(a b)", "-x", "'"])
    async def test_query_syntax_is_never_an_error(
        self, client: httpx.AsyncClient, query: str
    ) -> None:
        await open_ticket(client, ALICE, title="Dropbox")
        response = await client.get("/v1/tickets", params={"q": query}, headers=AGENT)
        assert response.status_code == 200

    # PostgreSQL looks at the last week first and at older tickets only when the week
    # cannot fill the page: by the words' index when few tickets have the words, else
    # newest first (`SEARCH_FEW_MATCHES`). Every page must read the same either way.
    # (SQLite has one way only: its runs of the two are the same.)
    @pytest.mark.parametrize("few_matches", [1000, 1], ids=["few-words-index", "walk-back"])
    async def test_pages_run_on_from_the_last_week_into_older_tickets(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, few_matches: int
    ) -> None:
        monkeypatch.setattr(repository, "SEARCH_FEW_MATCHES", few_matches)
        # These pages cross the week's line, one of them half way.
        ages = {"new": 0, "hours": 1, "six days": 144, "nine days": 216, "a month": 720}
        for title, hours in ages.items():
            await _opened_ago(client, hours, title=f"Dropbox folder, {title}")
        await open_ticket(client, ALICE, title="Printer jam, three weeks", description="-")
        assert timedelta(hours=144) < repository.SEARCH_RECENT_FIRST < timedelta(hours=216)

        titles: list[str] = []
        cursor = None
        while True:
            params = {"q": "dropbox folder", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/tickets", params=params, headers=AGENT)).json()
            titles += [ticket["title"] for ticket in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert titles == [f"Dropbox folder, {title}" for title in ages]

    @pytest.mark.parametrize("few_matches", [1000, 1], ids=["few-words-index", "walk-back"])
    async def test_older_tickets_found_keep_to_the_filters(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, few_matches: int
    ) -> None:
        monkeypatch.setattr(repository, "SEARCH_FEW_MATCHES", few_matches)
        await _opened_ago(client, 300, title="Kindle sync, Alice's, newest", requester=ALICE)
        await _opened_ago(client, 400, title="Kindle sync, Bob's", requester=BOB)
        await _opened_ago(client, 500, title="Kindle sync, Alice's", requester=ALICE)
        await _opened_ago(client, 600, title="Kindle sync, Alice's, oldest", requester=ALICE)
        await _opened_ago(client, 700, title="Printer, Alice's", requester=ALICE)

        assert await found(client, ALICE, q="kindle") == [
            "Kindle sync, Alice's, newest",
            "Kindle sync, Alice's",
            "Kindle sync, Alice's, oldest",
        ]
        assert await found(client, AGENT, q="kindle", requester="bob") == ["Kindle sync, Bob's"]
        assert await found(client, AGENT, q="kindle", limit=1, created_before=_ago(450)) == [
            "Kindle sync, Alice's"
        ]
        assert await found(client, AGENT, q="zzqxv") == []

    async def test_requesters_search_only_their_own(self, client: httpx.AsyncClient) -> None:
        await open_ticket(client, ALICE, title="VPN down")
        await open_ticket(client, BOB, title="VPN slow")
        assert await found(client, ALICE, q="vpn") == ["VPN down"]


class TestFilters:
    async def test_status_priority_and_technology(self, client: httpx.AsyncClient) -> None:
        started = await open_ticket(client, ALICE, title="a", technology="ipad")
        await client.post(f"/v1/tickets/{started['id']}/start", headers=AGENT)
        await open_ticket(client, ALICE, title="b", impact="critical", urgency="critical")
        await open_ticket(client, BOB, title="c", technology="ipad")

        assert await found(client, AGENT, status="in_progress") == ["a"]
        assert sorted(await found(client, AGENT, status=["new", "in_progress"])) == ["a", "b", "c"]
        assert await found(client, AGENT, priority="p1") == ["b"]
        assert sorted(await found(client, AGENT, technology="ipad")) == ["a", "c"]
        assert await found(client, AGENT, requester="bob") == ["c"]

    async def test_assignee_and_dates(self, client: httpx.AsyncClient) -> None:
        first = await open_ticket(client, ALICE, title="first")
        await client.post(
            f"/v1/tickets/{first['id']}/assign", json={"assignee_id": "agnes"}, headers=AGENT
        )
        second = await open_ticket(client, ALICE, title="second")

        assert await found(client, AGENT, assignee="agnes") == ["first"]
        assert await found(client, AGENT, created_after=second["created_at"]) == ["second"]
        assert await found(client, AGENT, created_before=second["created_at"]) == ["first"]

    async def test_a_bad_filter_value_names_the_parameter(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/tickets?status=open&sort=title", headers=AGENT)
        assert response.status_code == 422
        fields = {error["field"] for error in response.json()["errors"]}
        assert fields == {"query.status.0", "query.sort"}


class TestSortingAndPaging:
    @pytest.mark.parametrize("sort", ["created_at", "-created_at", "priority", "-updated_at"])
    async def test_pages_cover_every_ticket_once_in_order(
        self, client: httpx.AsyncClient, sort: str
    ) -> None:
        levels = ["low", "critical", "medium", "high", "low", "medium", "critical"]
        for index, level in enumerate(levels):
            await open_ticket(client, ALICE, title=f"t{index}", impact=level, urgency=level)
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/tickets", params=params, headers=AGENT)).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(levels)
        assert len({ticket["id"] for ticket in seen}) == len(levels)
        field = sort.lstrip("-")
        keys = [(ticket[field], ticket["id"]) for ticket in seen]
        assert keys == sorted(keys, reverse=sort.startswith("-"))
