"""Device compliance: computed from what is known, never typed in.

A device is noncompliant when any rule fails, unknown when nothing fails but
something needed is not known (its OS version, whether it is encrypted or has
a passcode), and compliant otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from deskside_contracts.inventory import ComplianceReason, ComplianceState, SupportTier
from deskside_inventory.models import Device, Technology


def version_key(version: str) -> tuple[int, ...]:
    """`"17.4"` -> (17, 4, 0, 0): numeric, so 10 sorts above 9."""
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def assess(
    device: Device, platform: Technology | None, now: datetime, stale_after: timedelta
) -> tuple[ComplianceState, list[ComplianceReason]]:
    reasons: list[ComplianceReason] = []
    if platform is not None and platform.support_tier == SupportTier.PROHIBITED.value:
        reasons.append(ComplianceReason.PLATFORM_PROHIBITED)
    if (
        platform is not None
        and platform.min_os_version
        and device.os_version
        and version_key(device.os_version) < version_key(platform.min_os_version)
    ):
        reasons.append(ComplianceReason.OS_BELOW_MINIMUM)
    if device.encrypted is False:
        reasons.append(ComplianceReason.NOT_ENCRYPTED)
    if device.passcode_set is False:
        reasons.append(ComplianceReason.NO_PASSCODE)
    if now - (device.last_check_in_at or device.enrolled_at) > stale_after:
        reasons.append(ComplianceReason.NO_RECENT_CHECK_IN)
    if reasons:
        return ComplianceState.NONCOMPLIANT, reasons
    unknown = device.os_version is None or device.encrypted is None or device.passcode_set is None
    return (ComplianceState.UNKNOWN if unknown else ComplianceState.COMPLIANT), []
