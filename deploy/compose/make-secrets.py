"""Make the compose stack's secrets on its first start; keep them on every later one.

Writes into the folder given (the `secrets` volume) one file per setting, named
after the variable it sets (`DESKSIDE_JWT_SECRET`), which Deskside reads
through `DESKSIDE_SECRETS_DIR`; plus one database password per service, which
the PostgreSQL init script gives each service's role. Standard library only: it
runs in any Deskside image before anything else is up.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

SERVICES = ("tickets", "inventory", "notify")
# The Deskside images run as this user; PostgreSQL's image as another, so the
# files are readable by all: the volume is mounted in this stack's containers only.
DESKSIDE_UID = 10001


def keep_or_make(path: Path, make: str) -> str:
    if not path.exists():
        temporary = path.with_suffix(".new")
        temporary.write_text(make)
        temporary.chmod(0o444)
        temporary.replace(path)
        print(f"made {path.name}")
    return path.read_text()


def main() -> None:
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    host = os.environ.get("DESKSIDE_DATABASE_HOST", "postgres")
    port = os.environ.get("DESKSIDE_DATABASE_PORT", "5432")
    keep_or_make(directory / "DESKSIDE_JWT_SECRET", secrets.token_urlsafe(48))
    keep_or_make(directory / "DESKSIDE_SERVICE_TOKEN", secrets.token_urlsafe(48))
    keep_or_make(directory / "postgres-password", secrets.token_urlsafe(32))
    for service in SERVICES:
        password = keep_or_make(directory / f"{service}-db-password", secrets.token_urlsafe(32))
        # Rewritten each start, so a changed host or port takes effect.
        url = directory / f"DESKSIDE_{service.upper()}_DATABASE_URL"
        url.unlink(missing_ok=True)
        keep_or_make(url, f"postgresql+asyncpg://{service}:{password}@{host}:{port}/{service}")
    for path in directory.iterdir():
        os.chown(path, DESKSIDE_UID, DESKSIDE_UID)


if __name__ == "__main__":
    main()
