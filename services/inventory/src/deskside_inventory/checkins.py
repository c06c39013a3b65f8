"""The service layer of check-ins from device management.

A check-in creates or updates the reported device, recomputes its compliance,
and turns apps that match a catalog technology's `app_identifiers` into
discovered use of that technology by the device's owner.
"""

from __future__ import annotations

from deskside_contracts.inventory import CheckinResult, CheckinSnapshot, Compliance, TechnologyKind
from deskside_inventory.devices import DeviceService, device_to_read
from deskside_inventory.models import Device
from deskside_kit.database import utc_now
from deskside_kit.outbox import record_event
from deskside_kit.problems import Unprocessable
from deskside_kit.webhooks import VerifiedWebhook

SOURCE = "inventory"


class CheckinService:
    def __init__(self, devices: DeviceService) -> None:
        self.devices = devices
        self.repository = devices.devices

    async def receive(self, webhook: VerifiedWebhook, snapshot: CheckinSnapshot) -> CheckinResult:
        source = webhook.integration
        if not await self.repository.first_time(source, webhook.webhook_id):
            known = await self.repository.find_reported(source, snapshot.external_id)
            return CheckinResult(device_id=known.id if known else "", duplicate=True)

        catalog = {t.key: t for t in await self.devices.technologies.all()}
        platform = catalog.get(snapshot.platform)
        if platform is None or platform.kind != TechnologyKind.DEVICE_PLATFORM.value:
            raise Unprocessable(
                f"platform: {snapshot.platform!r} is not a device platform in the catalog."
            )
        now = utc_now()
        device = await self.repository.find_reported(source, snapshot.external_id)
        registered = device is None
        if device is None:
            device = Device(
                owner_id=snapshot.owner_id or snapshot.owner_email,
                ownership=snapshot.ownership.value,
                technology=snapshot.platform,
                source=source,
                external_id=snapshot.external_id,
                enrolled_at=now,
            )
        else:
            device.version += 1
        device.owner_email = snapshot.owner_email
        device.ownership = snapshot.ownership.value
        device.technology = snapshot.platform
        device.model = snapshot.model
        device.os_version = snapshot.os_version
        device.encrypted = snapshot.encrypted
        device.passcode_set = snapshot.passcode_set
        device.apps = [app.model_dump(mode="json") for app in snapshot.apps]
        device.last_check_in_at = now
        device.updated_at = now
        await self.devices.assess(device, announce=not registered, now=now)
        await self.repository.add(device)

        reported = {app.identifier for app in snapshot.apps}
        discovered = sorted(
            key
            for key, technology in catalog.items()
            if key != snapshot.platform and reported & set(technology.app_identifiers)
        )
        for key in discovered:
            await self.repository.saw_in_use(device.owner_id, key, device.id, now)

        read = device_to_read(device)
        if registered:
            self._emit("device.registered", device, device=read.model_dump(mode="json"))
        self._emit(
            "device.checked_in",
            device,
            device=read.model_dump(mode="json"),
            discovered=discovered,
            integration=source,
        )
        return CheckinResult(
            device_id=device.id,
            duplicate=False,
            compliance=Compliance.model_validate(read.compliance),
            discovered=discovered,
        )

    def _emit(self, event_type: str, row: Device, **data: object) -> None:
        record_event(
            self.repository.session, source=SOURCE, type=event_type, subject=row.id, data=data
        )
