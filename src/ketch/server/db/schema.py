"""Schema versions: each module's tables are brought up to date at start.

A module gives its migrations as a list of steps (SQL text or a function of the database),
the first one creating its tables. `schema_versions` records, per module, how many steps
ran; a start runs only the later ones, each with the version's update in one transaction,
so a start is idempotent and a crash mid-migration leaves the last whole version.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

from .base import Database

Step = Union[str, Callable[[Database], None]]

_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""


def migrate(db: Database, component: str, steps: Sequence[Step]):
    db.script(_VERSIONS)
    with db.transaction():
        db.lock_for_migration()
        row = db.execute("SELECT version FROM schema_versions WHERE component = ?",
                         (component,)).fetchone()
        done = row[0] if row else 0
        if done > len(steps):
            raise RuntimeError(f"the store {db.url} holds version {done} of the {component} "
                               f"tables, newer than this ketch knows ({len(steps)}): "
                               "upgrade ketch, or start it with a store of its own")
        for step in steps[done:]:
            if callable(step):
                step(db)
            else:
                db.script(step)
        if done < len(steps):
            db.execute("INSERT INTO schema_versions VALUES (?, ?) ON CONFLICT (component) "
                       "DO UPDATE SET version = excluded.version", (component, len(steps)))
