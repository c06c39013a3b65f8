"""The service layer of SLA policies."""

from __future__ import annotations

from typing import Any

from deskside_contracts.tickets import (
    BusinessHours,
    Priority,
    SlaPolicyCreate,
    SlaPolicyRead,
    SlaPolicyUpdate,
    SlaTarget,
)
from deskside_kit.database import after_commit, utc_now
from deskside_kit.problems import Conflict, Unprocessable
from deskside_kit.snapshot import Snapshot
from deskside_kit.versions import require_version
from deskside_tickets import sla
from deskside_tickets.errors import (
    SlaPolicyNotFound,
)
from deskside_tickets.models import (
    SlaPolicy,
)
from deskside_tickets.repository import TicketRepository


class SlaPolicyService:
    """SLA policies: admins manage them (the routes check); the desk reads them."""

    def __init__(self, repository: TicketRepository, snapshot: Snapshot[Any] | None = None) -> None:
        self.repository = repository
        # The policies requests of this process share: a change here is seen at once.
        self.snapshot = snapshot

    async def ensure_default(self) -> None:
        """Make the built-in default policy when there is no policy at all."""
        if not await self.repository.policies():
            await self.repository.add(_new_policy_row(sla.DEFAULT_POLICY))

    async def list_policies(self) -> list[SlaPolicyRead]:
        return [sla.policy_to_read(row) for row in await self.repository.policies()]

    async def get_policy(self, policy_id: str) -> SlaPolicyRead:
        return sla.policy_to_read(await self._policy(policy_id))

    async def create_policy(self, data: SlaPolicyCreate) -> SlaPolicyRead:
        self._changed()
        _check_calendar(data.business_hours)
        row = _new_policy_row(data)
        async with self.repository.unique(_name_taken(row.name)):
            await self.repository.add(row)
        if row.is_default:
            await self.repository.clear_default_policy(except_id=row.id)
        return sla.policy_to_read(row)

    async def update_policy(
        self, policy_id: str, data: SlaPolicyUpdate, if_match: str | None
    ) -> SlaPolicyRead:
        self._changed()
        row = await self._policy(policy_id, for_update=True)
        require_version(if_match, row.version)
        async with self.repository.unique(_name_taken(data.name or row.name)):
            if data.name is not None:
                row.name = data.name
            if data.targets is not None:
                missing = sorted(p.value for p in Priority if p not in data.targets)
                if missing:
                    raise Unprocessable(f"targets: missing for {', '.join(missing)}")
                row.targets = _targets_json(data.targets)
            if data.business_hours is not None:
                _check_calendar(data.business_hours)
                row.business_hours = data.business_hours.model_dump(mode="json")
            if data.pause_on is not None:
                row.pause_on = [on.value for on in data.pause_on]
            if data.is_default is not None:
                if not data.is_default and row.is_default:
                    raise Conflict(
                        "Make another policy the default instead: one is always default."
                    )
                row.is_default = data.is_default
            row.version += 1
            row.updated_at = utc_now()
        if row.is_default:
            await self.repository.clear_default_policy(except_id=row.id)
        return sla.policy_to_read(row)

    async def delete_policy(self, policy_id: str) -> None:
        self._changed()
        row = await self._policy(policy_id, for_update=True)
        if row.is_default:
            raise Conflict("The default policy cannot be deleted; make another the default first.")
        if await self.repository.policy_in_use(policy_id):
            raise Conflict("Tickets are measured against this policy; it cannot be deleted.")
        await self.repository.session.delete(row)

    def _changed(self) -> None:
        # Dropped now and again once the change commits: a request that re-read the
        # policies in between would otherwise keep the old ones for the snapshot's time.
        if self.snapshot is not None:
            self.snapshot.invalidate()
            after_commit(self.repository.session, self.snapshot.invalidate)

    async def _policy(self, policy_id: str, *, for_update: bool = False) -> SlaPolicy:
        row = await self.repository.policy(policy_id, for_update=for_update)
        if row is None:
            raise SlaPolicyNotFound(policy_id)
        return row


def _name_taken(name: str) -> Conflict:
    return Conflict(f"There is already a policy named {name!r}.")


def _new_policy_row(data: SlaPolicyCreate) -> SlaPolicy:
    return SlaPolicy(
        name=data.name,
        is_default=data.is_default,
        targets=_targets_json(data.targets),
        business_hours=data.business_hours.model_dump(mode="json"),
        pause_on=[on.value for on in data.pause_on],
    )


def _targets_json(targets: dict[Priority, SlaTarget]) -> dict[str, Any]:
    return {priority.value: target.model_dump() for priority, target in targets.items()}


def _check_calendar(hours: BusinessHours) -> None:
    try:
        sla.calendar_of(hours)
    except ValueError as exc:
        raise Unprocessable(f"business_hours: {exc}") from None
