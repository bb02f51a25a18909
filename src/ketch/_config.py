"""Where ketch keeps things and how a client finds its server.

Every setting has an environment variable (`KETCH_…`), then `~/.config/ketch/config.json`,
then a default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:7419"
DEFAULT_GATEWAY_ADDRESS = "127.0.0.1:8000"
DEFAULT_HTTP_ADDRESS = "127.0.0.1:7420"


def data_dir() -> Path:
    """The server's data directory: store, blobs, logs, token."""
    env = os.environ.get("KETCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(base).expanduser() / "ketch"


def config_dir() -> Path:
    env = os.environ.get("KETCH_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "ketch"


def _config_file() -> dict:
    path = config_dir() / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SystemExit(f"ketch: cannot read {path}: {exc}. Fix or delete the file.") from None


def server_address() -> str:
    return os.environ.get("KETCH_SERVER_ADDR") or _config_file().get("server") or DEFAULT_ADDRESS


def gateway_address() -> str:
    """Where the server's web endpoint gateway listens."""
    return (os.environ.get("KETCH_GATEWAY_ADDR") or _config_file().get("gateway")
            or DEFAULT_GATEWAY_ADDRESS)


def http_address() -> str:
    """Where the server's HTTP side (/metrics, the dashboard) listens."""
    return (os.environ.get("KETCH_HTTP_ADDR") or _config_file().get("http")
            or DEFAULT_HTTP_ADDRESS)


def is_local_address(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1", "") or host.startswith("127.")


def workspace() -> str:
    """The workspace to act in ("": the token's own). Only the admin token may name one
    other than its own."""
    return os.environ.get("KETCH_WORKSPACE") or _config_file().get("workspace") or ""


def token_file() -> Path:
    return data_dir() / "token"


def client_token(address: str) -> str | None:
    """The token a client presents: KETCH_TOKEN, the config file, or the local server's."""
    token = os.environ.get("KETCH_TOKEN") or _config_file().get("token")
    if token:
        return token
    if is_local_address(address):
        try:
            return token_file().read_text().strip()
        except OSError:
            return None
    return None
