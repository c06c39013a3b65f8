"""Domain errors of the inventory service."""

from deskside_kit.problems import NotFound


class TechnologyNotFound(NotFound):
    slug = "technology-not-found"
    title = "Technology not found"

    def __init__(self, key: str) -> None:
        super().__init__(f"No technology {key!r} in the catalog.")
