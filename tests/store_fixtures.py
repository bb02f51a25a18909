"""A real PostgreSQL server for the tests: one per test session, started on first use
(initdb into a temporary directory, as the `postgres` user when the tests run as root, on
its own port and socket directory, password authentication), a fresh database per test
module, and for the store tests each test its own schema in it.

Needs Debian's `postgresql` package (.ci/apt-packages.txt installs it)."""

from __future__ import annotations

import glob
import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import free_port

USER = "ketch"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("the PostgreSQL tests need PostgreSQL's server programs: "
                           "apt-get install postgresql (or run scripts/test.sh)")
    return Path(initdb).parent


class PostgresServer:
    def __init__(self):
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="ketch-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self._names = itertools.count()
        # PostgreSQL refuses to run as root: then it runs as the package's `postgres` user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")

    def _run(self, *args: str):
        done = subprocess.run(self.as_user + [str(self.bin / args[0]), *args[1:]],
                              capture_output=True, text=True, cwd=self.root, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> "PostgresServer":
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_user:
            shutil.chown(pwfile, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str):
        # Durability is not what these tests check: a test server need not fsync.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-m", "fast", "-w", "-t", "30", action)

    def restart(self):
        """Stops and starts it again: its clients' connections break."""
        self._pg_ctl("restart")

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        return (f"postgresql://{USER}:{password or self.password}@127.0.0.1:{self.port}/"
                f"{database}")

    def create_database(self) -> str:
        """A new, empty database: → its URL."""
        import psycopg

        name = f"t{next(self._names)}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_url(postgres) -> str:
    """A fresh database of the test module's own."""
    return postgres.create_database()
