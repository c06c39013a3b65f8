"""HTTP handlers of the inventory service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from deskside_contracts.common import UtcDateTime
from deskside_contracts.inventory import (
    AccountCreate,
    AccountDecision,
    AccountRead,
    AccountStatus,
    AdoptionReport,
    CheckinResult,
    CheckinSnapshot,
    ComplianceState,
    DeviceCreate,
    DeviceRead,
    DeviceUpdate,
    Ownership,
    SupportTier,
    TechnologyCreate,
    TechnologyKind,
    TechnologyRead,
    TechnologyUpdate,
)
from deskside_contracts.paging import Page
from deskside_inventory.checkins import CheckinService
from deskside_inventory.deps import Accounts, Admin, Adoption, Catalog, Devices, DeviceUser, Staff
from deskside_inventory.errors import (
    AccountNotFound,
    DeviceNotFound,
    InvalidDecision,
    TechnologyExists,
    TechnologyNotFound,
)
from deskside_inventory.reports import ADOPTION_TABLE
from deskside_inventory.repository import AccountFilters, DeviceFilters, TechnologyFilters
from deskside_kit.auth import CurrentPrincipal
from deskside_kit.idempotency import IdempotencyDep
from deskside_kit.paging import PageParams
from deskside_kit.problems import (
    Forbidden,
    NotAuthenticated,
    Unprocessable,
    problem_responses,
)
from deskside_kit.tabular import ReportFormat
from deskside_kit.tags import Tag
from deskside_kit.versions import IfMatch, StaleVersion, etag
from deskside_kit.webhooks import VerifiedWebhook, WebhookVerifier

router = APIRouter(prefix="/v1/technologies", tags=[Tag.CATALOG])

TechnologyKey = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Catalog key, e.g. `ipad`.")
]


@router.get("", summary="The technology catalog, by key", operation_id="listTechnologies")
async def list_technologies(
    _principal: CurrentPrincipal,
    catalog: Catalog,
    page: PageParams,
    kind: TechnologyKind | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    tier: SupportTier | None = None,
    recommended: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of a name or vendor.")] = None,
) -> Page[TechnologyRead]:
    filters = TechnologyFilters(
        kind=kind.value if kind else None,
        category=category,
        tier=tier.value if tier else None,
        recommended=recommended,
        q=q.strip() or None if q else None,
    )
    return await catalog.list_technologies(page, filters)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TechnologyRead,
    responses=problem_responses(Forbidden, TechnologyExists, Unprocessable),
    summary="Add a technology to the catalog (admins)",
    operation_id="createTechnology",
)
async def create_technology(
    data: TechnologyCreate,
    _admin: Admin,
    catalog: Catalog,
    idempotency: IdempotencyDep,
    response: Response,
) -> TechnologyRead | Response:
    replay = await idempotency.claim(data)
    if replay is not None:
        return replay
    technology = await catalog.create_technology(data)
    response.headers["Location"] = f"/v1/technologies/{technology.key}"
    response.headers["ETag"] = etag(technology.version)
    await idempotency.remember(status.HTTP_201_CREATED, technology, dict(response.headers))
    return technology


@router.get(
    "/{key}",
    responses=problem_responses(TechnologyNotFound),
    summary="One technology with its ground rules",
    operation_id="getTechnology",
)
async def get_technology(
    key: TechnologyKey, _principal: CurrentPrincipal, catalog: Catalog, response: Response
) -> TechnologyRead:
    technology = await catalog.get_technology(key)
    response.headers["ETag"] = etag(technology.version)
    return technology


@router.patch(
    "/{key}",
    responses=problem_responses(Forbidden, TechnologyNotFound, StaleVersion, Unprocessable),
    summary="Change a technology (admins); a tier change is announced",
    operation_id="updateTechnology",
)
async def update_technology(
    key: TechnologyKey,
    data: TechnologyUpdate,
    _admin: Admin,
    catalog: Catalog,
    response: Response,
    if_match: IfMatch = None,
) -> TechnologyRead:
    technology = await catalog.update_technology(key, data, if_match)
    response.headers["ETag"] = etag(technology.version)
    return technology


devices_router = APIRouter(prefix="/v1/devices", tags=[Tag.DEVICES])
DeviceId = Annotated[str, Path(max_length=40)]


@devices_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceRead,
    responses=problem_responses(Forbidden, Unprocessable),
    summary="Register a device: your own, or (agents) someone else's",
    operation_id="registerDevice",
)
async def register_device(
    data: DeviceCreate,
    principal: DeviceUser,
    devices: Devices,
    idempotency: IdempotencyDep,
    response: Response,
) -> DeviceRead | Response:
    replay = await idempotency.claim(data)
    if replay is not None:
        return replay
    device = await devices.register(principal, data)
    response.headers["Location"] = f"/v1/devices/{device.id}"
    response.headers["ETag"] = etag(device.version)
    await idempotency.remember(status.HTTP_201_CREATED, device, dict(response.headers))
    return device


@devices_router.get(
    "", summary="Devices: your own, or (agents) everyone's", operation_id="listDevices"
)
async def list_devices(
    principal: DeviceUser,
    devices: Devices,
    page: PageParams,
    owner: Annotated[str | None, Query(max_length=255)] = None,
    technology: Annotated[str | None, Query(max_length=64)] = None,
    ownership: Ownership | None = None,
    compliance: ComplianceState | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of a name or model.")] = None,
) -> Page[DeviceRead]:
    filters = DeviceFilters(
        owner_id=owner,
        technology=technology,
        ownership=ownership.value if ownership else None,
        compliance=compliance.value if compliance else None,
        q=q.strip() or None if q else None,
    )
    return await devices.list_devices(principal, page, filters)


@devices_router.get(
    "/{device_id}",
    responses=problem_responses(DeviceNotFound),
    summary="Everything stored about a device",
    operation_id="getDevice",
)
async def get_device(
    device_id: DeviceId, principal: DeviceUser, devices: Devices, response: Response
) -> DeviceRead:
    device = await devices.get(principal, device_id)
    response.headers["ETag"] = etag(device.version)
    return device


@devices_router.patch(
    "/{device_id}",
    responses=problem_responses(DeviceNotFound, StaleVersion, Unprocessable),
    summary="Change a device's details; compliance is recomputed",
    operation_id="updateDevice",
)
async def update_device(
    device_id: DeviceId,
    data: DeviceUpdate,
    principal: DeviceUser,
    devices: Devices,
    response: Response,
    if_match: IfMatch = None,
) -> DeviceRead:
    device = await devices.update(principal, device_id, data, if_match)
    response.headers["ETag"] = etag(device.version)
    return device


accounts_router = APIRouter(prefix="/v1/accounts", tags=[Tag.ACCOUNTS])
AccountId = Annotated[str, Path(max_length=40)]


@accounts_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountRead,
    responses=problem_responses(Forbidden, Unprocessable),
    summary="Declare a consumer-service account used for work; the ground rules decide "
    "at once where they can",
    operation_id="declareAccount",
)
async def declare_account(
    data: AccountCreate,
    principal: DeviceUser,
    accounts: Accounts,
    idempotency: IdempotencyDep,
    response: Response,
) -> AccountRead | Response:
    replay = await idempotency.claim(data)
    if replay is not None:
        return replay
    account = await accounts.declare(principal, data)
    response.headers["Location"] = f"/v1/accounts/{account.id}"
    response.headers["ETag"] = etag(account.version)
    await idempotency.remember(status.HTTP_201_CREATED, account, dict(response.headers))
    return account


@accounts_router.get(
    "", summary="Declared accounts: your own, or (agents) everyone's", operation_id="listAccounts"
)
async def list_accounts(
    principal: DeviceUser,
    accounts: Accounts,
    page: PageParams,
    owner: Annotated[str | None, Query(max_length=255)] = None,
    technology: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[AccountStatus | None, Query(alias="status")] = None,
) -> Page[AccountRead]:
    filters = AccountFilters(
        owner_id=owner, technology=technology, status=status_.value if status_ else None
    )
    return await accounts.list_accounts(principal, page, filters)


@accounts_router.get(
    "/{account_id}",
    responses=problem_responses(AccountNotFound),
    summary="A declared account",
    operation_id="getAccount",
)
async def get_account(
    account_id: AccountId, principal: DeviceUser, accounts: Accounts, response: Response
) -> AccountRead:
    account = await accounts.get(principal, account_id)
    response.headers["ETag"] = etag(account.version)
    return account


def _decision(decision: str, summary: str) -> None:
    @accounts_router.post(
        f"/{{account_id}}/{decision}",
        responses=problem_responses(Forbidden, AccountNotFound, InvalidDecision, StaleVersion),
        summary=summary,
        name=f"{decision}_account",
        operation_id=f"{decision}Account",
    )
    async def decide(
        account_id: AccountId,
        principal: DeviceUser,
        accounts: Accounts,
        response: Response,
        data: AccountDecision | None = None,
        if_match: IfMatch = None,
    ) -> AccountRead:
        account = await accounts.decide(
            principal, account_id, decision, data or AccountDecision(), if_match
        )
        response.headers["ETag"] = etag(account.version)
        return account


_decision("approve", "Approve a requested account (agents)")
_decision("reject", "Reject a requested account, with a note (agents)")
_decision("revoke", "Revoke an approved account (agents)")


inbound_router = APIRouter(prefix="/v1/inbound/checkins", tags=[Tag.INBOUND])


async def _verified_webhook(request: Request) -> VerifiedWebhook:
    # Resolved before the body is validated: an unsigned request learns nothing
    # about what a valid one looks like.
    verifier: WebhookVerifier = request.app.state.checkin_verifier
    return verifier.verify(await request.body(), request.headers)


@inbound_router.post(
    "",
    responses=problem_responses(NotAuthenticated, Unprocessable),
    summary="A device snapshot from device management, signed the Standard Webhooks way",
    operation_id="receiveDeviceCheckin",
)
async def receive_checkin(
    snapshot: CheckinSnapshot,
    webhook: Annotated[VerifiedWebhook, Depends(_verified_webhook)],
    devices: Devices,
) -> CheckinResult:
    return await CheckinService(devices).receive(webhook, snapshot)


reports_router = APIRouter(prefix="/v1/reports/adoption", tags=[Tag.REPORTS])


@reports_router.get(
    "",
    response_model=AdoptionReport,
    responses={**ADOPTION_TABLE.openapi(), **problem_responses(Forbidden, Unprocessable)},
    summary="What the company runs on: per technology, per category (splintering), compliance",
    operation_id="getAdoptionReport",
)
async def adoption_report(
    _staff: Staff,
    adoption: Adoption,
    from_: Annotated[
        UtcDateTime | None, Query(alias="from", description="Use seen on or after this moment.")
    ] = None,
    to: Annotated[UtcDateTime | None, Query(description="Use begun before this moment.")] = None,
    department: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Only people of this department: the `department` claim of their "
            "token when they registered a device or declared an account.",
        ),
    ] = None,
    format_: ReportFormat = "json",
) -> AdoptionReport | Response:
    if from_ is not None and to is not None and from_ >= to:
        raise Unprocessable("query.from: must be before `to`.")
    report = await adoption.adoption(from_, to, department)
    return ADOPTION_TABLE.response(report) if format_ == "csv" else report
