"""Which workspaces each image belongs to, and the names they publish them under.

Layers are content-addressed and shared: a workspace that builds a recipe another already
built gets the cached layers. But a workspace lists, uses and removes only the images it
built itself, and an image's files go only when no workspace claims it any more. A name
(Image.publish) is the workspace's own: another workspace's same name is another image.
"""

from __future__ import annotations

from ..db import Database, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS image_owners (
    workspace TEXT NOT NULL,
    image_id TEXT NOT NULL,
    PRIMARY KEY (workspace, image_id)
) WITHOUT ROWID;
"""
_NAMES = """
CREATE TABLE IF NOT EXISTS image_names (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    image_id TEXT NOT NULL,
    PRIMARY KEY (workspace, name)
) WITHOUT ROWID;
"""


class ImageOwners:
    def __init__(self, db: Database):
        self.db = db
        # A data directory of before workspaces: its images were the default workspace's.
        self.new = not db.has_table("image_owners")
        migrate(db, "image_owners", [_SCHEMA, _NAMES])

    def claim(self, workspace: str, image_id: str):
        self.db.execute("INSERT INTO image_owners (workspace, image_id) VALUES (?, ?) "
                        "ON CONFLICT DO NOTHING",
                        (workspace, image_id))

    def owned(self, workspace: str) -> set[str]:
        return {row[0] for row in self.db.execute(
            "SELECT image_id FROM image_owners WHERE workspace = ?", (workspace,))}

    def owns(self, workspace: str, image_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM image_owners WHERE workspace = ? AND "
                               "image_id = ?", (workspace, image_id)).fetchone() is not None

    def name(self, workspace: str, name: str, image_id: str):
        self.db.execute("INSERT INTO image_names (workspace, name, image_id) VALUES (?, ?, ?) "
                        "ON CONFLICT (workspace, name) DO UPDATE SET image_id = "
                        "excluded.image_id", (workspace, name, image_id))

    def named(self, workspace: str, name: str) -> str | None:
        row = self.db.execute("SELECT image_id FROM image_names WHERE workspace = ? AND "
                              "name = ?", (workspace, name)).fetchone()
        return row[0] if row else None

    def names(self, workspace: str) -> dict[str, list[str]]:
        """The workspace's image names, by image id."""
        out: dict[str, list[str]] = {}
        for name, image_id in self.db.execute("SELECT name, image_id FROM image_names "
                                              "WHERE workspace = ? ORDER BY name",
                                              (workspace,)):
            out.setdefault(image_id, []).append(name)
        return out

    def release(self, workspace: str, image_id: str) -> bool:
        """Drops the workspace's claim (and its names for the image); → whether any
        workspace still claims the image."""
        self.db.execute("DELETE FROM image_owners WHERE workspace = ? AND image_id = ?",
                        (workspace, image_id))
        self.db.execute("DELETE FROM image_names WHERE workspace = ? AND image_id = ?",
                        (workspace, image_id))
        return self.db.execute("SELECT 1 FROM image_owners WHERE image_id = ?",
                               (image_id,)).fetchone() is not None
