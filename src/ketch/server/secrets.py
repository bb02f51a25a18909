"""Secrets: named sets of environment variables, injected into the containers of the
functions that ask for them.

Values are stored encrypted (AES-256-GCM) in the database; the key is a separate file,
`secrets.key` in the data directory, readable by the server's user only (mode 0600), so a
copy of the database alone reveals nothing. Each ciphertext is bound to its secret's id.
Values are never logged, listed or sent to anyone but a starting container.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .objects import ObjectsService, check_name
from .objects_store import ObjectRow

KEY_FILE = "secrets.key"
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_SECRET_BYTES = 1024 * 1024


def load_or_create_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key
    if len(key) != 32:
        raise RuntimeError(f"{path} is not a ketch secrets key (32 bytes); restore it from a "
                           "backup, or move it away to start over (stored secrets are then lost)")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return key


class SecretService:
    def __init__(self, objects: ObjectsService, data_dir: Path):
        self.objects = objects
        self.store = objects.store
        key = load_or_create_key(data_dir)
        self.aead = AESGCM(key)
        # A key of its own for content digests, derived so the AES key is used for AES only.
        self.digest_key = hmac.new(key, b"ketch anonymous secret digest", hashlib.sha256).digest()

    def _seal(self, object_id: str, env: dict[str, str]) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.aead.encrypt(nonce, json.dumps(env).encode(), object_id.encode())

    def _open(self, object_id: str, blob: bytes) -> dict[str, str]:
        return json.loads(self.aead.decrypt(blob[:12], blob[12:], object_id.encode()))

    def save(self, workspace: str, name: str | None, env: dict[str, str], overwrite: bool
             ) -> ObjectRow:
        if name is not None:
            check_name("secret", name)
        for key, value in env.items():
            if not _ENV_NAME_RE.match(key):
                raise ValueError(f"secret key {key!r} is not a valid environment variable name "
                                 "(letters, digits and '_', not starting with a digit)")
        if sum(len(k) + len(v) for k, v in env.items()) > MAX_SECRET_BYTES:
            raise ValueError("a secret holds at most 1 MiB of keys and values")
        if name is None:
            # The same inline secret (from_dict, say) sent by every `app.run()` is kept once
            # per workspace: the workspace is part of what is hashed.
            digest = hmac.new(self.digest_key, json.dumps([workspace, env], sort_keys=True)
                              .encode(), hashlib.sha256).hexdigest()
            known = self.store.secret_by_digest(digest)
            if known is not None:
                return self.store.by_id(known)
            row = self.objects.create(workspace, "secret", None)
            self.store.secret_set(row.object_id, self._seal(row.object_id, env), sorted(env),
                                  digest)
            return self.store.by_id(row.object_id)
        row = self.store.by_name(workspace, "secret", name)
        if row is not None and not overwrite:
            raise ValueError(f"a Secret named {name!r} already exists; pass --force "
                             "(overwrite) to replace its values")
        if row is None:
            row = self.objects.create(workspace, "secret", name)
        self.store.secret_set(row.object_id, self._seal(row.object_id, env), sorted(env))
        return self.store.by_id(row.object_id)

    def keys(self, object_id: str) -> list[str]:
        """The secret's variable names (never its values)."""
        found = self.store.secret(object_id)
        return found[1] if found else []

    def check_required(self, row: ObjectRow, required: list[str]) -> list[str]:
        """The secret's key names, after checking that each required one is there."""
        keys = self.keys(row.object_id)
        missing = [k for k in required if k not in keys]
        if missing:
            raise LookupError(f"the Secret {row.name!r} lacks the required key(s) "
                              f"{', '.join(missing)}; add them with `ketch secret create "
                              f"{row.name} {missing[0]}=... --force` (it replaces all values)")
        return keys

    def env_for(self, secret_ids) -> dict[str, str]:
        """The variables of these secrets, later ones winning. Raises LookupError naming a
        secret that was deleted since the function was deployed."""
        env: dict[str, str] = {}
        for object_id in secret_ids:
            found = self.store.secret(object_id)
            if found is None:
                raise LookupError(f"the secret {object_id} it uses was deleted; recreate it and "
                                  "deploy the app again")
            env.update(self._open(object_id, found[0]))
        return env

    def check_exist(self, secret_ids, workspace: str) -> None:
        """Each secret exists in the workspace (another's ids are not found)."""
        for object_id in secret_ids:
            row = self.store.by_id(object_id)
            if row is None or row.workspace != workspace or self.store.secret(object_id) is None:
                raise LookupError(f"no secret {object_id}: it was deleted; look it up again "
                                  "with Secret.from_name")
