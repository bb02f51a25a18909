"""A real ketch server process for the tests, on a free port with its own data dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
pytest_plugins = ["store_fixtures"]   # PostgreSQL, for the store tests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"the ketch server on port {port} did not start")


class ServerProcess:
    """A `python -m ketch.server` child process with its own data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, runtime: str = "process",
                 extra_env: dict | None = None):
        self.data_dir = data_dir
        self.runtime = runtime
        self.extra_env = extra_env or {}
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.gateway_port = free_port()
        self.http_port = free_port()   # /metrics and the dashboard
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict:
        return {**os.environ, "KETCH_DATA_DIR": str(self.data_dir),
                "KETCH_SERVER_ADDR": self.address, "KETCH_NO_AUTOSTART": "1",
                "KETCH_CONFIG_DIR": str(self.data_dir / "config"),
                "KETCH_GATEWAY_ADDR": f"127.0.0.1:{self.gateway_port}",
                "KETCH_HTTP_ADDR": f"127.0.0.1:{self.http_port}", **self.extra_env}

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ketch.server", "--address",
                                      self.address, "--runtime", self.runtime],
                                     env=self.env, stdout=log, stderr=log)
        wait_for_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def http_url(self) -> str:
        """The HTTP side's base URL (/metrics, the dashboard), once it listens: it starts
        just after the server answers on its own port."""
        wait_for_port(self.http_port)
        return f"http://127.0.0.1:{self.http_port}"

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")

    def python(self, code: str, timeout: float = 60, extra_env: dict | None = None
               ) -> subprocess.CompletedProcess:
        """Runs a Python snippet in a fresh process that talks to this server."""
        return subprocess.run([sys.executable, "-c", code], env={**self.env, **(extra_env or {}),
                              "PYTHONPATH": str(TESTS)}, capture_output=True, text=True,
                              timeout=timeout, cwd=TESTS)

    def ketch(self, *args: str, timeout: float = 60, extra_env: dict | None = None,
              cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Runs the `ketch` CLI against this server."""
        return subprocess.run([sys.executable, "-m", "ketch.cli", *args],
                              env={**self.env, **(extra_env or {}), "COLUMNS": "200"},
                              capture_output=True, text=True, timeout=timeout,
                              cwd=cwd or TESTS)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server; this test process's SDK talks to it."""
    srv = ServerProcess(tmp_path_factory.mktemp("ketch-server")).start()
    for key, value in srv.env.items():
        if key.startswith("KETCH_"):
            os.environ[key] = value
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def basic_app(server):
    """tests/apps/basic.py running as an ephemeral app for the whole session."""
    from apps import basic

    with basic.app.run():
        yield basic


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, for restarts and CLI runs."""
    srv = ServerProcess(tmp_path / "server").start()
    yield srv
    srv.stop()


# Under pytest-xdist (scripts/test.sh runs two workers) each test file runs on one worker,
# so its module fixtures start once, and the files that share the session's Ray cluster
# run on the same worker, so only one worker starts it. (A scheduler of our own: xdist's
# `loadgroup` marks do not group tests under pytest 9.)
CLUSTER_FILES = {"test_cluster.py", "test_cluster_xfer.py", "test_clustered.py",
                 "test_cluster_sandbox.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "cluster" if Path(path).name in CLUSTER_FILES else path

    return ByFile(config, log)


# The session's Ray cluster (issue 11): started only by the tests that ask for it.
from cluster_fixtures import cluster_server, ray_cluster  # noqa: E402,F401
