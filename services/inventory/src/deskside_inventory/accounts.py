"""The service layer of consumer-service accounts (BYOS): declared use and IT's decision.

The catalog's ground rules decide at once where they can: a prohibited service
is rejected with the reason and what to use instead; a supported service
holding only public or internal data is approved. Anything else waits for an
agent.
"""

from __future__ import annotations

from typing import Any

from deskside_contracts.inventory import (
    AccountCreate,
    AccountDecision,
    AccountRead,
    AccountStatus,
    DataClassification,
    DeviceOwner,
    SupportTier,
    TechnologyKind,
)
from deskside_contracts.paging import Page
from deskside_inventory.errors import AccountNotFound, InvalidDecision
from deskside_inventory.models import Account, Technology
from deskside_inventory.repository import (
    AccountFilters,
    AccountRepository,
    TechnologyRepository,
    remember_department,
)
from deskside_kit.auth import Principal
from deskside_kit.database import utc_now
from deskside_kit.outbox import record_event
from deskside_kit.paging import PageRequest, build_page
from deskside_kit.problems import Forbidden, Unprocessable
from deskside_kit.versions import require_version

SOURCE = "inventory"
POLICY = "policy"
_LOW_RISK = frozenset({DataClassification.PUBLIC.value, DataClassification.INTERNAL.value})
# Each decision, the statuses it may start from, and where it leads.
_DECISIONS = {
    "approve": ({AccountStatus.REQUESTED}, AccountStatus.APPROVED),
    "reject": ({AccountStatus.REQUESTED}, AccountStatus.REJECTED),
    "revoke": ({AccountStatus.APPROVED}, AccountStatus.REVOKED),
}
_EVENTS = {
    AccountStatus.REQUESTED: "account.requested",
    AccountStatus.APPROVED: "account.approved",
    AccountStatus.REJECTED: "account.rejected",
}


def account_to_read(account: Account) -> AccountRead:
    return AccountRead(
        id=account.id,
        owner=DeviceOwner(id=account.owner_id, email=account.owner_email, name=account.owner_name),
        technology=account.technology,
        identifier=account.identifier,
        purpose=account.purpose,
        data_classification=DataClassification(account.data_classification),
        status=AccountStatus(account.status),
        decided_by=account.decided_by,
        decision_note=account.decision_note,
        recommended_alternative=account.recommended_alternative,
        version=account.version,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


class AccountService:
    def __init__(self, accounts: AccountRepository, technologies: TechnologyRepository) -> None:
        self.accounts = accounts
        self.technologies = technologies

    async def declare(self, principal: Principal, data: AccountCreate) -> AccountRead:
        if data.owner is not None and not principal.is_staff:
            raise Forbidden("Only agents declare an account for someone else.")
        service = await self.technologies.find(data.technology)
        if service is None or service.kind != TechnologyKind.SERVICE.value:
            raise Unprocessable(f"technology: {data.technology!r} is not a service in the catalog.")
        owner = data.owner
        account = Account(
            owner_id=owner.id if owner else principal.sub,
            owner_email=owner.email if owner else principal.email,
            owner_name=owner.name if owner else principal.name,
            technology=data.technology,
            identifier=data.identifier,
            purpose=data.purpose,
            data_classification=data.data_classification.value,
        )
        _apply_policy(account, service)
        await self.accounts.add(account)
        department = owner.department if owner else principal.department
        if department:
            await remember_department(self.accounts.session, account.owner_id, department)
        read = account_to_read(account)
        self._emit(
            _EVENTS[AccountStatus(account.status)], account, account=read.model_dump(mode="json")
        )
        return read

    async def get(self, principal: Principal, account_id: str) -> AccountRead:
        return account_to_read(await self._visible(principal, account_id))

    async def list_accounts(
        self, principal: Principal, page: PageRequest, filters: AccountFilters
    ) -> Page[AccountRead]:
        if not principal.is_staff:
            filters = AccountFilters(**{**filters.__dict__, "owner_id": principal.sub})
        rows = await self.accounts.list_page(page, filters)
        return build_page(rows, page, sort_key=lambda a: [a.id], to_item=account_to_read)

    async def decide(
        self,
        principal: Principal,
        account_id: str,
        decision: str,
        data: AccountDecision,
        if_match: str | None,
    ) -> AccountRead:
        account = await self._visible(principal, account_id, for_update=True)
        require_version(if_match, account.version)
        if not principal.is_staff:
            raise Forbidden(f"Only agents {decision} accounts.")
        allowed_from, target = _DECISIONS[decision]
        if AccountStatus(account.status) not in allowed_from:
            raise InvalidDecision(decision, account.status)
        account.status = target.value
        account.decided_by = principal.sub
        account.decision_note = data.note
        account.version += 1
        account.updated_at = utc_now()
        read = account_to_read(account)
        event = _EVENTS.get(target)
        if event is not None:
            self._emit(event, account, account=read.model_dump(mode="json"))
        return read

    async def _visible(
        self, principal: Principal, account_id: str, *, for_update: bool = False
    ) -> Account:
        account = await self.accounts.find(account_id, for_update=for_update)
        if account is None or not (principal.is_staff or account.owner_id == principal.sub):
            raise AccountNotFound(account_id)
        return account

    def _emit(self, event_type: str, row: Account, **data: Any) -> None:
        record_event(
            self.accounts.session, source=SOURCE, type=event_type, subject=row.id, data=data
        )


def _apply_policy(account: Account, service: Technology) -> None:
    if service.support_tier == SupportTier.PROHIBITED.value:
        account.status = AccountStatus.REJECTED.value
        account.decided_by = POLICY
        account.recommended_alternative = service.recommended_alternative
        instead = (
            f" Use {service.recommended_alternative} instead."
            if service.recommended_alternative
            else ""
        )
        account.decision_note = f"{service.name} is prohibited for work.{instead}"
    elif (
        service.support_tier == SupportTier.SUPPORTED.value
        and account.data_classification in _LOW_RISK
    ):
        account.status = AccountStatus.APPROVED.value
        account.decided_by = POLICY
        account.decision_note = (
            f"{service.name} is supported for {account.data_classification} data."
        )
