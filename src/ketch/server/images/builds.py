"""The recent image builds, for the dashboard: what was built (or found cached), for which
workspace, how long it took, and why a failed one failed. In memory and bounded: the
server log keeps the lasting record."""

from __future__ import annotations

import collections
from dataclasses import dataclass

MAX_BUILDS = 500    # across workspaces; the oldest go first


@dataclass(frozen=True)
class BuildRecord:
    workspace: str
    started_at: float       # unix time
    seconds: float
    image_id: str = ""      # "" when it failed
    title: str = ""         # its last step
    n_steps: int = 0
    n_cached: int = 0
    error: str = ""         # why it failed ("" when it did not)


class BuildHistory:
    def __init__(self, limit: int = MAX_BUILDS):
        self._records: collections.deque[BuildRecord] = collections.deque(maxlen=limit)

    def record(self, build: BuildRecord):
        self._records.append(build)

    def of(self, workspace: str) -> list[BuildRecord]:
        """The workspace's builds, newest first."""
        return [b for b in reversed(self._records) if b.workspace == workspace]
