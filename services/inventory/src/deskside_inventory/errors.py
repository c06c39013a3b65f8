"""Domain errors of the inventory service."""

from deskside_kit.problems import Conflict, NotFound


class TechnologyNotFound(NotFound):
    slug = "technology-not-found"
    title = "Technology not found"

    def __init__(self, key: str) -> None:
        super().__init__(f"No technology {key!r} in the catalog.")


class TechnologyExists(Conflict):
    slug = "technology-exists"
    title = "Technology already in the catalog"

    def __init__(self, key: str) -> None:
        super().__init__(f"The catalog already has {key!r}; change it with PATCH instead.")


class DeviceNotFound(NotFound):
    slug = "device-not-found"
    title = "Device not found"

    def __init__(self, device_id: str) -> None:
        super().__init__(f"No device {device_id!r} that you can see.")


class AccountNotFound(NotFound):
    slug = "account-not-found"
    title = "Account not found"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"No account {account_id!r} that you can see.")


class InvalidDecision(Conflict):
    slug = "invalid-decision"
    title = "Not possible in the account's current status"

    def __init__(self, decision: str, status: str) -> None:
        super().__init__(f"Cannot {decision} an account that is {status}.", current_status=status)
