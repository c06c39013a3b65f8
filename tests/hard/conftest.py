"""The tickets service on each database backend, as its own tests run it."""

from tests.tickets.conftest import client, settings

__all__ = ["client", "settings"]
