"""A throw-away PostgreSQL cluster for the lab-ledger tests: Debian's binaries, real roles.

``initdb`` in a temp directory as the ``postgres`` user (initdb refuses root), its own port
and socket directory, the server started as a child process and stopped by its PID (fast
shutdown, SIGINT). The superuser connects only over the socket (trust); every other role
over TCP with a SCRAM password, so the privacy tests exercise real authentication.

Without the binaries (``/usr/lib/postgresql/*/bin``) the tests are skipped, or fail when
``LABADVISOR_REQUIRE_POSTGRES=1`` (``make test`` sets it and installs Debian's postgresql).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from local_servers import free_port

REQUIRE_ENV = "LABADVISOR_REQUIRE_POSTGRES"
START_TIMEOUT_S = 30.0


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and postgres."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    found = [p for p in found if (p / "postgres").exists()]
    return found[-1] if found else None


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: PostgreSQL is required)")
    pytest.skip(reason)


@dataclass
class PostgresCluster:
    """One running (or stopped) cluster; roles and databases made through :meth:`sql`."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None  # "postgres" when the tests run as root
    process: subprocess.Popen[bytes] | None = None
    _databases: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    def _user_kwargs(self) -> dict[str, Any]:
        if self.run_as is None:
            return {}
        entry = pwd.getpwnam(self.run_as)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def initdb(self) -> None:
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            check=True, capture_output=True, **self._user_kwargs(),
        )  # fmt: skip
        # Only the superuser over the socket; everyone else with a password over TCP.
        (self.data / "pg_hba.conf").write_text(
            "local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.sockets), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=100", "-c", "shared_buffers=64MB"],
            stdout=subprocess.DEVNULL, stderr=open(self.root / "server.log", "ab"),  # noqa: SIM115
            **self._user_kwargs(),
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"postgres exited at start:\n{log}")
            with contextlib.suppress(Exception), self.connect() as connection:
                connection.execute("SELECT 1")
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not accept connections in time")

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT: clients disconnected, no recovery needed)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def connect(self, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.sockets), port=self.port, user="postgres", dbname=database,
            autocommit=True, connect_timeout=2,
        )  # fmt: skip

    def sql(self, *statements: str, database: str = "postgres") -> None:
        with self.connect(database) as connection:
            for statement in statements:
                connection.execute(statement)

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def role(self, name: str, password: str) -> None:
        self.sql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') "
            f"THEN CREATE ROLE {name} LOGIN; END IF; END $$",
            f"ALTER ROLE {name} PASSWORD '{password}'",
        )

    def new_lab(self, users: list[str]) -> LabDatabase:
        """A fresh database owned by a non-superuser admin role, with login roles for
        ``users``; only they and the admin may connect."""
        name = f"lab{next(self._databases)}"
        admin_password = "adm-" + secrets.token_hex(6)
        self.role("lab_admin", admin_password)
        self.sql(
            f"CREATE DATABASE {name} OWNER lab_admin",
            f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC",
            f"GRANT CONNECT ON DATABASE {name} TO lab_admin",
        )
        passwords = {}
        for user in users:
            passwords[user] = "pw-" + secrets.token_hex(6)
            self.role(user, passwords[user])
            self.sql(f"GRANT CONNECT ON DATABASE {name} TO {user}")
        return LabDatabase(self, name, admin_password, passwords)


@dataclass
class LabDatabase:
    cluster: PostgresCluster
    name: str
    admin_password: str
    passwords: dict[str, str]

    @property
    def admin_url(self) -> str:
        return self.cluster.url("lab_admin", self.admin_password, self.name)

    def url(self, user: str) -> str:
        return self.cluster.url(user, self.passwords[user], self.name)

    def count(self, table: str) -> int:
        with self.cluster.connect(self.name) as connection:
            return int(connection.execute(f"SELECT count(*) FROM labadvisor.{table}").fetchone()[0])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.cluster.connect(self.name) as connection:
            return list(connection.execute(sql).fetchall())


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = postgres_bin()
    if bindir is None:
        _missing("PostgreSQL is not installed (Debian package postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg 3 is not installed (pip install 'psycopg[binary]')")
    assert bindir is not None
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root and there is no postgres user to run initdb as")
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="labadvisor-pg-"))
    (root / "sockets").mkdir()
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        for path in (root, root / "sockets"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(bindir, root, free_port(), run_as)
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lab_db(postgres_cluster: PostgresCluster) -> LabDatabase:
    """A fresh lab database with roles alice and bob; the schema not yet created."""
    return postgres_cluster.new_lab(["alice", "bob"])
