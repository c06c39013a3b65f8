"""All SQL of the inventory service. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_
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


class UsageRepository:
    """Everything the adoption report counts, optionally limited to a time range and department."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def devices(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> Sequence[Device]:
        statement = select(Device)
        if start is not None:
            statement = statement.where(col(Device.updated_at) >= start)
        if end is not None:
            statement = statement.where(col(Device.created_at) < end)
        if department is not None:
            statement = statement.where(_in_department(Device.owner_id, department))
        return (await self.session.exec(statement)).all()

    async def live_accounts(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> Sequence[Account]:
        statement = select(Account).where(col(Account.status).in_(("requested", "approved")))
        if start is not None:
            statement = statement.where(col(Account.updated_at) >= start)
        if end is not None:
            statement = statement.where(col(Account.created_at) < end)
        if department is not None:
            statement = statement.where(_in_department(Account.owner_id, department))
        return (await self.session.exec(statement)).all()

    async def discovered(
        self, start: datetime | None, end: datetime | None, department: str | None = None
    ) -> Sequence[DiscoveredUse]:
        statement = select(DiscoveredUse)
        if start is not None:
            statement = statement.where(col(DiscoveredUse.last_seen_at) >= start)
        if end is not None:
            statement = statement.where(col(DiscoveredUse.first_seen_at) < end)
        if department is not None:
            statement = statement.where(_in_department(DiscoveredUse.owner_id, department))
        return (await self.session.exec(statement)).all()


def _in_department(owner_id: Any, department: str) -> Any:
    members = select(PersonDepartment.person_id).where(PersonDepartment.department == department)
    return col(owner_id).in_(members)
