"""The service layer of devices (BYOD): registration, privacy and compliance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from deskside_contracts.inventory import (
    Compliance,
    ComplianceReason,
    ComplianceState,
    DeviceCreate,
    DeviceOwner,
    DeviceRead,
    DeviceUpdate,
    Ownership,
    TechnologyKind,
)
from deskside_contracts.paging import Page
from deskside_inventory import compliance
from deskside_inventory.errors import DeviceNotFound
from deskside_inventory.models import Device
from deskside_inventory.repository import (
    DeviceFilters,
    DeviceRepository,
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


def device_to_read(device: Device) -> DeviceRead:
    return DeviceRead(
        id=device.id,
        owner=DeviceOwner(id=device.owner_id, email=device.owner_email, name=device.owner_name),
        ownership=Ownership(device.ownership),
        technology=device.technology,
        model=device.model,
        name=device.name,
        os_version=device.os_version,
        encrypted=device.encrypted,
        passcode_set=device.passcode_set,
        serial_number=device.serial_number,
        imei=device.imei,
        compliance=Compliance(
            state=ComplianceState(device.compliance),
            reasons=[ComplianceReason(reason) for reason in device.compliance_reasons],
        ),
        enrolled_at=device.enrolled_at,
        last_check_in_at=device.last_check_in_at,
        version=device.version,
        created_at=device.created_at,
        updated_at=device.updated_at,
    )


class DeviceService:
    def __init__(
        self,
        devices: DeviceRepository,
        technologies: TechnologyRepository,
        stale_after: timedelta,
    ) -> None:
        self.devices = devices
        self.technologies = technologies
        self.stale_after = stale_after

    async def register(self, principal: Principal, data: DeviceCreate) -> DeviceRead:
        if data.owner is not None and not principal.is_staff:
            raise Forbidden("Only agents register a device for someone else.")
        _refuse_hardware_ids(data.ownership.value, data.serial_number, data.imei)
        await self._platform(data.technology)
        owner = data.owner
        device = Device(
            owner_id=owner.id if owner else principal.sub,
            owner_email=owner.email if owner else principal.email,
            owner_name=owner.name if owner else principal.name,
            **data.model_dump(mode="json", exclude={"owner"}),
        )
        await self.assess(device, announce=False)
        await self.devices.add(device)
        department = owner.department if owner else principal.department
        if department:
            await remember_department(self.devices.session, device.owner_id, department)
        read = device_to_read(device)
        self._emit("device.registered", device, device=read.model_dump(mode="json"))
        return read

    async def get(self, principal: Principal, device_id: str) -> DeviceRead:
        return device_to_read(await self._visible(principal, device_id))

    async def list_devices(
        self, principal: Principal, page: PageRequest, filters: DeviceFilters
    ) -> Page[DeviceRead]:
        if not principal.is_staff:
            # Requesters see their own devices, whatever they ask for.
            filters = DeviceFilters(**{**filters.__dict__, "owner_id": principal.sub})
        rows = await self.devices.list_page(page, filters)
        return build_page(rows, page, sort_key=lambda d: [d.id], to_item=device_to_read)

    async def update(
        self, principal: Principal, device_id: str, data: DeviceUpdate, if_match: str | None
    ) -> DeviceRead:
        device = await self._visible(principal, device_id, for_update=True)
        require_version(if_match, device.version)
        changes = data.model_dump(mode="json", exclude_unset=True)
        _refuse_hardware_ids(device.ownership, changes.get("serial_number"), changes.get("imei"))
        changed = False
        for name, value in changes.items():
            if getattr(device, name) != value:
                setattr(device, name, value)
                changed = True
        if changed:
            device.version += 1
            device.updated_at = utc_now()
            await self.assess(device)
        return device_to_read(device)

    async def recheck_stale(self, now: datetime, limit: int = 200) -> int:
        """Mark devices that stopped checking in; returns how many changed."""
        changed = 0
        for device in await self.devices.stale(now - self.stale_after, limit):
            if await self.assess(device, now=now):
                changed += 1
        return changed

    async def assess(
        self, device: Device, *, announce: bool = True, now: datetime | None = None
    ) -> bool:
        """Recompute compliance; announce a change. Returns whether it changed."""
        platform = await self.technologies.find(device.technology)
        state, reasons = compliance.assess(device, platform, now or utc_now(), self.stale_after)
        old = (device.compliance, list(device.compliance_reasons))
        new = (state.value, [reason.value for reason in reasons])
        if old == new:
            return False
        device.compliance, device.compliance_reasons = new
        if announce:
            self._emit(
                "device.compliance_changed",
                device,
                old={"state": old[0], "reasons": old[1]},
                new={"state": new[0], "reasons": new[1]},
                device=device_to_read(device).model_dump(mode="json"),
            )
        return True

    async def _platform(self, key: str) -> None:
        technology = await self.technologies.find(key)
        if technology is None or technology.kind != TechnologyKind.DEVICE_PLATFORM.value:
            raise Unprocessable(f"technology: {key!r} is not a device platform in the catalog.")

    async def _visible(
        self, principal: Principal, device_id: str, *, for_update: bool = False
    ) -> Device:
        device = await self.devices.find(device_id, for_update=for_update)
        # Someone else's device answers exactly like a missing one.
        if device is None or not (principal.is_staff or device.owner_id == principal.sub):
            raise DeviceNotFound(device_id)
        return device

    def _emit(self, event_type: str, row: Device, **data: Any) -> None:
        record_event(
            self.devices.session, source=SOURCE, type=event_type, subject=row.id, data=data
        )


def _refuse_hardware_ids(ownership: str, serial_number: str | None, imei: str | None) -> None:
    if ownership == Ownership.PERSONAL.value and (serial_number or imei):
        named = " and ".join(
            name for name, value in (("serial_number", serial_number), ("imei", imei)) if value
        )
        raise Unprocessable(
            f"{named}: personal devices keep no serial number or IMEI; leave them out.",
            errors=[
                {
                    "field": f"body.{name}",
                    "message": "not stored for personal devices",
                    "code": "personal_device_identifier",
                }
                for name in ("serial_number", "imei")
                if (serial_number if name == "serial_number" else imei)
            ],
        )
