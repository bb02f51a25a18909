"""Deployment history: each deploy of an app name is a numbered version, kept in the store
with when, who (the credential's name), its tag and its code's hash. A rollback redeploys
a recorded version from what the store kept of it: its functions' specs, which name their
images and code bundles."""

from __future__ import annotations

import hashlib
import time

from ..proto import ketch_pb2 as pb
from .db import Database, migrate
from .errors import ServiceError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    deployed_at REAL NOT NULL,
    deployed_by TEXT NOT NULL,
    tag TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    rollback_of INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, name, version)
);
"""
MAX_TAG_CHARS = 200
HISTORY_LIMIT = 1000  # versions listed at most (newest first)


class DeploymentTable:
    """The versions' rows."""

    def __init__(self, db: Database):
        self.db = db
        migrate(db, "deployments", [_SCHEMA])

    def add(self, workspace: str, name: str, app_id: str, who: str, tag: str,
            source_hash: str, rollback_of: int) -> int:
        """Records the next version of `name`; → its number."""
        with self.db.transaction():
            (last,) = self.db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM deployments WHERE workspace = ? AND "
                "name = ?", (workspace, name)).fetchone()
            self.db.execute("INSERT INTO deployments (workspace, name, version, app_id, "
                            "deployed_at, deployed_by, tag, source_hash, rollback_of) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (workspace, name, last + 1, app_id, time.time(), who, tag,
                             source_hash, rollback_of))
        return last + 1

    def versions(self, workspace: str, name: str, limit: int) -> list[tuple]:
        """→ [(version, app_id, deployed_at, deployed_by, tag, source_hash, rollback_of)],
        newest first."""
        return self.db.execute(
            "SELECT version, app_id, deployed_at, deployed_by, tag, source_hash, rollback_of "
            "FROM deployments WHERE workspace = ? AND name = ? ORDER BY version DESC LIMIT ?",
            (workspace, name, limit)).fetchall()


class Deployments:
    def __init__(self, store, table: DeploymentTable, functions):
        self.store = store
        self.table = table
        self.functions = functions

    def publish(self, workspace: str, app_id: str, tag: str, who: str,
                rollback_of: int = 0) -> pb.AppPublished:
        if len(tag) > MAX_TAG_CHARS:
            raise ValueError(f"deploy tag of {len(tag)} characters: give at most "
                             f"{MAX_TAG_CHARS}")
        app = self.functions.registry.app(workspace, app_id)
        self.functions.publish_app(workspace, app_id)
        specs = [f.spec for f in app.functions.values()]
        version = self.table.add(workspace, app.name, app_id, who, tag, _source_hash(specs),
                                 rollback_of)
        return pb.AppPublished(app_id=app_id, version=version)

    def history(self, workspace: str, name: str) -> list[pb.Deployment]:
        current = self.store.deployed_app(name, workspace)
        rows = self.table.versions(workspace, name, HISTORY_LIMIT)
        if not rows:
            raise LookupError(f"app {name!r} was never deployed; `ketch app list --all` "
                              "shows the apps")
        return [pb.Deployment(version=v, app_id=a, deployed_at=t, deployed_by=who, tag=tag,
                              source_hash=h, rollback_of=rb,
                              current=current is not None and current.app_id == a)
                for v, a, t, who, tag, h, rb in rows]

    def rollback(self, workspace: str, name: str, version: int, who: str, peer
                 ) -> pb.AppPublished:
        """Deploys recorded `version` again as a new version (0: the one before the
        current)."""
        history = self.history(workspace, name)
        if not version:
            current = next((d for d in history if d.current), None)
            older = [d for d in history if current is None or d.version < current.version]
            if not older:
                raise ValueError(f"app {name!r} has no version before the current one to "
                                 "roll back to; `ketch app history` lists them")
            version = older[0].version
        target = next((d for d in history if d.version == version), None)
        if target is None:
            raise LookupError(f"app {name!r} has no version {version}; `ketch app history "
                              f"{name}` lists them")
        rows = [r for r in self.store.functions_of(target.app_id) if not r.parent_id]
        if not rows:
            raise ServiceError(f"version {version} of {name!r} recorded no functions",
                               code="invalid")
        app = self.functions.create_app(workspace, name, False, False, peer)
        try:
            for row in rows:
                # Checked as at deploy: an image or code bundle removed since is named.
                self.functions.create_function(workspace, app.id,
                                               pb.FunctionSpec.FromString(row.spec))
        except Exception:
            self.functions.stop_app(app.id)
            raise
        return self.publish(workspace, app.id, target.tag, who, rollback_of=version)


def _source_hash(specs) -> str:
    """One short hash of what the version runs: its code bundles and pickled functions."""
    h = hashlib.sha256()
    for spec in sorted(specs, key=lambda s: s.name):
        h.update(spec.code_bundle.encode() + b"\0" + hashlib.sha256(spec.pickled).digest())
    return h.hexdigest()[:12]
