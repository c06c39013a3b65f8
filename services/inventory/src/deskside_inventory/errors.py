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
