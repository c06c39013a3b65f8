"""The service layer of agents and groups, and the skills report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deskside_contracts.tickets import (
    AgentPut,
    AgentRead,
    GroupCreate,
    GroupRead,
    GroupUpdate,
    SkillGap,
)
from deskside_kit.database import after_commit, utc_now
from deskside_kit.problems import Conflict, Unprocessable
from deskside_kit.snapshot import Snapshot
from deskside_kit.versions import require_version
from deskside_tickets.errors import (
    AgentNotFound,
    GroupNotFound,
)
from deskside_tickets.models import (
    Agent,
    Group,
)
from deskside_tickets.repository import TicketRepository


class PeopleService:
    """Agents, their tiers, groups and skills: admins keep them (the routes check)."""

    def __init__(
        self, repository: TicketRepository, routing_snapshot: Snapshot[Any] | None = None
    ) -> None:
        self.repository = repository
        # Tickets' copy of which group takes each tier: a group change here drops it.
        self.routing_snapshot = routing_snapshot

    async def list_agents(self) -> list[AgentRead]:
        return await agents_to_read(self.repository, await self.repository.agents())

    async def get_agent(self, agent_id: str) -> AgentRead:
        agent = await self.repository.agent(agent_id)
        if agent is None:
            raise AgentNotFound(agent_id)
        return (await agents_to_read(self.repository, [agent]))[0]

    async def put_agent(
        self, agent_id: str, data: AgentPut, if_match: str | None
    ) -> tuple[AgentRead, bool]:
        """Create or replace an agent's record; says whether it was created."""
        groups = sorted(set(data.groups))
        known = {group.id for group in await self.repository.groups(groups)}
        if unknown := [group for group in groups if group not in known]:
            raise Unprocessable(f"groups: no group {', '.join(unknown)}")
        agent = await self.repository.agent(agent_id, for_update=True)
        created = agent is None
        if agent is None:
            agent = Agent(id=agent_id, name=data.name)
        else:
            require_version(if_match, agent.version)
            agent.version += 1
            agent.updated_at = utc_now()
        agent.name, agent.email, agent.tier = data.name, data.email, data.tier
        agent.skills = sorted(set(data.skills))
        agent.active = data.active
        await self.repository.add(agent)
        await self.repository.set_memberships(agent.id, groups)
        return (await agents_to_read(self.repository, [agent]))[0], created

    async def list_groups(self) -> list[GroupRead]:
        return [GroupRead.model_validate(group) for group in await self.repository.groups()]

    async def get_group(self, group_id: str) -> GroupRead:
        return GroupRead.model_validate(await self._group(group_id))

    async def create_group(self, data: GroupCreate) -> GroupRead:
        group = Group(**data.model_dump())
        async with self.repository.unique(_name_taken(group.name)):
            await self.repository.add(group)
        self._routing_changed()
        return GroupRead.model_validate(group)

    async def update_group(
        self, group_id: str, data: GroupUpdate, if_match: str | None
    ) -> GroupRead:
        group = await self._group(group_id, for_update=True)
        require_version(if_match, group.version)
        async with self.repository.unique(_name_taken(data.name or group.name)):
            for name, value in data.model_dump(exclude_unset=True).items():
                # The mailbox may be removed with null; the other fields are required.
                if value is not None or name == "email":
                    setattr(group, name, value)
            group.version += 1
            group.updated_at = utc_now()
        self._routing_changed()
        return GroupRead.model_validate(group)

    async def delete_group(self, group_id: str) -> None:
        group = await self._group(group_id, for_update=True)
        if await self.repository.group_in_use(group_id):
            raise Conflict("The group has members or tickets; move them first.")
        await self.repository.session.delete(group)
        self._routing_changed()

    async def skill_gaps(self) -> list[SkillGap]:
        """Technologies people bring to the desk that no active agent is trained on."""
        trained = {
            skill
            for agent in await self.repository.agents()
            if agent.active
            for skill in agent.skills
        }
        return [
            SkillGap(technology=key, tickets=total, open_tickets=open_count)
            for key, total, open_count in await self.repository.technology_use()
            if key not in trained
        ]

    def _routing_changed(self) -> None:
        # Dropped now and again once the change commits: a create that re-read the
        # groups in between would otherwise keep the old ones for the snapshot's time.
        if self.routing_snapshot is not None:
            self.routing_snapshot.invalidate()
            after_commit(self.repository.session, self.routing_snapshot.invalidate)

    async def _group(self, group_id: str, *, for_update: bool = False) -> Group:
        group = await self.repository.group(group_id, for_update=for_update)
        if group is None:
            raise GroupNotFound(group_id)
        return group


def _name_taken(name: str) -> Conflict:
    return Conflict(f"There is already a group named {name!r}.")


async def agents_to_read(repository: TicketRepository, agents: Sequence[Agent]) -> list[AgentRead]:
    groups = await repository.memberships([agent.id for agent in agents])
    return [
        AgentRead(
            id=agent.id,
            name=agent.name,
            email=agent.email,
            tier=agent.tier,
            groups=groups.get(agent.id, []),
            skills=agent.skills,
            active=agent.active,
            version=agent.version,
            created_at=agent.created_at,
            updated_at=agent.updated_at,
        )
        for agent in agents
    ]
