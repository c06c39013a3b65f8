"""All SQL of the inventory service. Flushes, never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, case, cast, func, literal_column, or_, union_all
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_inventory.models import (
    Account,
    Device,
    DiscoveredUse,
    InboundWebhook,
    PersonDepartment,
    Technology,
)
from deskside_kit.database import utc_now
from deskside_kit.paging import PageRequest, after_cursor


@dataclass(frozen=True)
class TechnologyFilters:
    kind: str | None = None
    category: str | None = None
    tier: str | None = None
    recommended: bool | None = None
    q: str | None = None


class TechnologyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_page(
        self, page: PageRequest, filters: TechnologyFilters | None = None
    ) -> Sequence[Technology]:
        filters = filters or TechnologyFilters()
        statement = select(Technology)
        if filters.kind is not None:
            statement = statement.where(col(Technology.kind) == filters.kind)
        if filters.category is not None:
            statement = statement.where(col(Technology.category) == filters.category)
        if filters.tier is not None:
            statement = statement.where(col(Technology.support_tier) == filters.tier)
        if filters.recommended is not None:
            statement = statement.where(col(Technology.recommended).is_(filters.recommended))
        if filters.q:
            # The catalog is small: a case-insensitive substring match over
            # names, keys and vendors is what people expect from a search box.
            pattern = "%" + filters.q.lower().replace("\\", "").replace("%", "") + "%"
            statement = statement.where(
                or_(
                    func.lower(col(Technology.name)).like(pattern),
                    func.lower(col(Technology.key)).like(pattern),
                    func.lower(func.coalesce(col(Technology.vendor), "")).like(pattern),
                )
            )
        statement = after_cursor(statement, [col(Technology.key)], page)
        return (await self.session.exec(statement)).all()

    async def find(self, key: str, *, for_update: bool = False) -> Technology | None:
        statement = select(Technology).where(col(Technology.key) == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def people_using(self, key: str) -> list[dict[str, str | None]]:
        """Distinct people using `key`: on a device, a live account, or discovered on a device.

        Each as `{id, email, name}`, so the tier-change event can tell them; the
        email is the one their device or account recorded, when one did.
        """
        device_owners = select(Device.owner_id, Device.owner_email, Device.owner_name).where(
            col(Device.technology) == key
        )
        account_owners = select(Account.owner_id, Account.owner_email, Account.owner_name).where(
            col(Account.technology) == key, col(Account.status).in_(("requested", "approved"))
        )
        discovered = (
            select(DiscoveredUse.owner_id, Device.owner_email, Device.owner_name)
            .join(Device, col(Device.id) == col(DiscoveredUse.device_id))
            .where(col(DiscoveredUse.technology) == key)
        )
        people: dict[str, dict[str, str | None]] = {}
        rows = [
            row
            for statement in (device_owners, account_owners, discovered)
            for row in (await self.session.exec(statement.distinct())).all()
        ]
        for owner_id, email, name in rows:
            known = people.setdefault(owner_id, {"id": owner_id, "email": None, "name": None})
            known["email"] = known["email"] or email
            known["name"] = known["name"] or name
        return sorted(people.values(), key=lambda person: str(person["id"]))

    async def all(self) -> Sequence[Technology]:
        return (await self.session.exec(select(Technology))).all()

    async def keys(self) -> set[str]:
        return set((await self.session.exec(select(Technology.key))).all())

    async def add(self, technology: Technology) -> None:
        self.session.add(technology)
        await self.session.flush()


@dataclass(frozen=True)
class DeviceFilters:
    owner_id: str | None = None
    technology: str | None = None
    ownership: str | None = None
    compliance: str | None = None
    q: str | None = None


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, device_id: str, *, for_update: bool = False) -> Device | None:
        statement = select(Device).where(col(Device.id) == device_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def add(self, device: Device) -> None:
        self.session.add(device)
        await self.session.flush()

    async def list_page(self, page: PageRequest, filters: DeviceFilters) -> Sequence[Device]:
        statement = select(Device)
        if filters.owner_id is not None:
            statement = statement.where(col(Device.owner_id) == filters.owner_id)
        if filters.technology is not None:
            statement = statement.where(col(Device.technology) == filters.technology)
        if filters.ownership is not None:
            statement = statement.where(col(Device.ownership) == filters.ownership)
        if filters.compliance is not None:
            statement = statement.where(col(Device.compliance) == filters.compliance)
        if filters.q:
            pattern = "%" + filters.q.lower().replace("\\", "").replace("%", "") + "%"
            statement = statement.where(
                or_(
                    func.lower(func.coalesce(col(Device.name), "")).like(pattern),
                    func.lower(func.coalesce(col(Device.model), "")).like(pattern),
                )
            )
        statement = after_cursor(statement, [col(Device.id)], page)
        return (await self.session.exec(statement)).all()

    async def stale(self, checked_in_before: datetime, limit: int) -> Sequence[Device]:
        """Devices not heard from since `checked_in_before` and not yet marked for it."""
        last_seen = func.coalesce(col(Device.last_check_in_at), col(Device.enrolled_at))
        marked = cast(col(Device.compliance_reasons), String).like("%no_recent_check_in%")
        statement = (
            select(Device)
            .where(last_seen < checked_in_before, ~marked)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(statement)).all()

    async def find_reported(self, source: str, external_id: str) -> Device | None:
        statement = (
            select(Device)
            .where(col(Device.source) == source, col(Device.external_id) == external_id)
            .with_for_update()
        )
        return (await self.session.exec(statement)).first()

    async def first_time(self, integration: str, webhook_id: str) -> bool:
        """Record a webhook id; False when it was processed before."""
        try:
            async with self.session.begin_nested():
                self.session.add(InboundWebhook(integration=integration, webhook_id=webhook_id))
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def saw_in_use(
        self, owner_id: str, technology: str, device_id: str, at: datetime
    ) -> None:
        use = await self.session.get(DiscoveredUse, (owner_id, technology, device_id))
        if use is None:
            use = DiscoveredUse(
                owner_id=owner_id, technology=technology, device_id=device_id, first_seen_at=at
            )
        use.last_seen_at = at
        self.session.add(use)


@dataclass(frozen=True)
class AccountFilters:
    owner_id: str | None = None
    technology: str | None = None
    status: str | None = None


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, account_id: str, *, for_update: bool = False) -> Account | None:
        statement = select(Account).where(col(Account.id) == account_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def add(self, account: Account) -> None:
        self.session.add(account)
        await self.session.flush()

    async def list_page(self, page: PageRequest, filters: AccountFilters) -> Sequence[Account]:
        statement = select(Account)
        if filters.owner_id is not None:
            statement = statement.where(col(Account.owner_id) == filters.owner_id)
        if filters.technology is not None:
            statement = statement.where(col(Account.technology) == filters.technology)
        if filters.status is not None:
            statement = statement.where(col(Account.status) == filters.status)
        statement = after_cursor(statement, [col(Account.id)], page)
        return (await self.session.exec(statement)).all()


async def remember_department(session: AsyncSession, person_id: str, department: str) -> None:
    """Record (or move) `person_id` to `department`: the newest word wins."""
    known = await session.get(PersonDepartment, person_id)
    if known is None:
        session.add(PersonDepartment(person_id=person_id, department=department))
    elif known.department != department:
        known.department, known.updated_at = department, utc_now()


LIVE_ACCOUNT_STATUSES = ("requested", "approved")


@dataclass(frozen=True)
class TechnologyUse:
    """What the adoption report counts for one technology."""

    devices: int
    declared_accounts: int
    people: int
    discovered_undeclared: int


@dataclass(frozen=True)
class CategoryPeople:
    """Distinct people on a category's technologies, and those on a recommended one."""

    people: int
    on_recommended: int


@dataclass(frozen=True)
class ComplianceCount:
    """How many devices are in `state` for the same list of `reasons`."""

    state: str
    reasons: tuple[str, ...]
    devices: int


class UsageRepository:
    """Everything the adoption report counts, optionally limited to a time range and department.

    A desk has tens of thousands of devices, accounts and discovered uses: SQL
    does the counting and only totals per technology, category and compliance
    state come back.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def use_per_technology(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> dict[str, TechnologyUse]:
        """Every technology in use in the scope, catalogued or not."""
        uses = _uses(start, end, department).subquery("uses")
        # One row per person and technology first: counting those rows counts
        # people once however many devices and accounts they have. A row with a
        # discovered use and no live account in the scope is shadow IT: the
        # anti-join falls out of the same grouping, with no second pass.
        pairs = (
            select_columns(
                uses.c.technology,
                func.sum(uses.c.device).label("devices"),
                func.sum(uses.c.account).label("accounts"),
                func.max(uses.c.discovered).label("discovered"),
            )
            .group_by(uses.c.technology, uses.c.owner_id)
            .subquery("pairs")
        )
        undeclared = case(((pairs.c.discovered == 1) & (pairs.c.accounts == 0), 1), else_=0)
        statement = select_columns(
            pairs.c.technology,
            func.sum(pairs.c.devices),
            func.sum(pairs.c.accounts),
            func.count(),
            func.sum(undeclared),
        ).group_by(pairs.c.technology)
        return {
            str(technology): TechnologyUse(
                devices=int(devices),
                declared_accounts=int(accounts),
                people=int(people),
                discovered_undeclared=int(undeclared_people),
            )
            for technology, devices, accounts, people, undeclared_people in (
                await self._columns(statement)
            ).all()
        }

    async def people_per_category(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> dict[str, CategoryPeople]:
        """Distinct people per catalog category: someone on two of its technologies counts once."""
        uses = _uses(start, end, department).subquery("uses")
        people = (
            select_columns(
                col(Technology.category).label("category"),
                func.max(case((col(Technology.recommended), 1), else_=0)).label("recommended"),
            )
            .join_from(uses, Technology, col(Technology.key) == uses.c.technology)
            .group_by(col(Technology.category), uses.c.owner_id)
            .subquery("people")
        )
        statement = select_columns(
            people.c.category, func.count(), func.sum(people.c.recommended)
        ).group_by(people.c.category)
        return {
            str(category): CategoryPeople(people=int(everyone), on_recommended=int(recommended))
            for category, everyone, recommended in (await self._columns(statement)).all()
        }

    async def compliance(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> list[ComplianceCount]:
        """Devices per compliance state and list of reasons.

        Grouped by the stored JSON list as text rather than unnested with
        `json_each` (SQLite) or `json_array_elements_text` (PostgreSQL): one
        statement for both databases, and the lists are few (the reasons come
        in a fixed order), so splitting them here costs nothing.
        """
        reasons = cast(col(Device.compliance_reasons), String)
        statement = (
            select_columns(col(Device.compliance), reasons, func.count())
            .where(*_devices(start, end, department))
            .group_by(col(Device.compliance), reasons)
        )
        return [
            ComplianceCount(state=str(state), reasons=tuple(json.loads(listed)), devices=int(n))
            for state, listed, n in (await self._columns(statement)).all()
        ]

    async def _columns(self, statement: Any) -> Any:
        # Core rather than SQLModel's `select`, which takes at most four columns.
        return await (await self.session.connection()).execute(statement)


def _uses(start: datetime | None, end: datetime | None, department: str | None) -> Any:
    """A row per device, live account and discovered use in the scope.

    Columns: technology, owner_id, and `device`, `account`, `discovered`, each 1
    on the rows of that source and 0 elsewhere, so that summing one counts them.
    """
    one, zero = literal_column("1", Integer), literal_column("0", Integer)
    return union_all(
        select_columns(
            col(Device.technology),
            col(Device.owner_id),
            one.label("device"),
            zero.label("account"),
            zero.label("discovered"),
        ).where(*_devices(start, end, department)),
        select_columns(col(Account.technology), col(Account.owner_id), zero, one, zero).where(
            *_live_accounts(start, end, department)
        ),
        select_columns(
            col(DiscoveredUse.technology), col(DiscoveredUse.owner_id), zero, zero, one
        ).where(*_discovered(start, end, department)),
    )


def _devices(start: datetime | None, end: datetime | None, department: str | None) -> list[Any]:
    return [
        *_in_range(Device.updated_at, Device.created_at, start, end),
        *_of_department(Device.owner_id, department),
    ]


def _live_accounts(
    start: datetime | None, end: datetime | None, department: str | None
) -> list[Any]:
    return [
        col(Account.status).in_(LIVE_ACCOUNT_STATUSES),
        *_in_range(Account.updated_at, Account.created_at, start, end),
        *_of_department(Account.owner_id, department),
    ]


def _discovered(start: datetime | None, end: datetime | None, department: str | None) -> list[Any]:
    return [
        *_in_range(DiscoveredUse.last_seen_at, DiscoveredUse.first_seen_at, start, end),
        *_of_department(DiscoveredUse.owner_id, department),
    ]


def _in_range(seen: Any, begun: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    """Use seen on or after `start` and begun before `end`."""
    conditions = []
    if start is not None:
        conditions.append(col(seen) >= start)
    if end is not None:
        conditions.append(col(begun) < end)
    return conditions


def _of_department(owner_id: Any, department: str | None) -> list[Any]:
    if department is None:
        return []
    members = select(PersonDepartment.person_id).where(PersonDepartment.department == department)
    return [col(owner_id).in_(members)]
