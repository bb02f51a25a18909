"""The scheduler: runs scheduled functions of live apps (deployed ones, and ephemeral ones
while their client holds them) at their slots, each as a spawned call.

Each schedule's state (its last and next slot) is in the store, written before the run is
submitted, so a restart never runs a slot twice; a run may be lost instead, if the server
dies between the two. Runs missed while the server was down are not replayed one by one:
the schedule runs once, at once, for all of them, then keeps to its slots.

A deployed function's schedule is keyed by its workspace, app and name, so a redeploy
keeps a cron's place (a slot the old version ran is not run again) while a Period starts
counting again from the redeploy, as on Modal. An ephemeral app's schedules are keyed by
function id and forgotten when it stops.

The clock is a parameter, and `tick()` does one round, so tests drive it by hand.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from .._serialization import serialize
from ..proto import ketch_pb2 as pb
from . import schedule_times
from .db import Database, migrate
from .functions.model import Call, FunctionRecord, Peer
from .functions.service import FunctionsService

log = logging.getLogger("ketch.server.schedules")

# How often live functions are looked over for schedules that appeared or went: a new
# deploy's schedule is seen within this.
SCAN_S = 0.25

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    key TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    anchor REAL NOT NULL,
    last_run REAL,
    next_run REAL NOT NULL
);
"""


@dataclass
class ScheduleState:
    key: str
    function_id: str
    anchor: float            # a Period counts from here (the deploy)
    last_run: float | None   # the last slot that was run
    next_run: float
    last_call: object = None  # the run submitted last (in memory only), as submit gave it


class ScheduleTable:
    """The schedules' rows, in the server's database."""

    def __init__(self, db: Database):
        self.db = db
        migrate(db, "schedules", [_SCHEMA])
        # Ephemeral apps end with the server process that ran them.
        self.db.execute("DELETE FROM schedules WHERE key LIKE 'fn:%'")

    def get(self, key: str) -> ScheduleState | None:
        row = self.db.execute("SELECT key, function_id, anchor, last_run, next_run FROM "
                              "schedules WHERE key = ?", (key,)).fetchone()
        return ScheduleState(*row) if row else None

    def put(self, state: ScheduleState):
        self.db.execute("INSERT INTO schedules (key, function_id, anchor, last_run, next_run) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET function_id "
                        "= excluded.function_id, anchor = excluded.anchor, last_run = "
                        "excluded.last_run, next_run = excluded.next_run",
                        (state.key, state.function_id, state.anchor, state.last_run,
                         state.next_run))

    def delete(self, key: str):
        self.db.execute("DELETE FROM schedules WHERE key = ?", (key,))


Submit = Callable[[FunctionRecord, object], object]


def spawner(functions: FunctionsService) -> Submit:
    """Starts a scheduled run as `.spawn()` does (the same call path, so it is stored,
    retried and seen like any spawned call), with no arguments and source "schedule".
    While the previous run still waits in the queue (its function cannot start, or is
    busy), the slot is skipped rather than piling up runs: it returns the previous one."""
    peer = Peer(None)    # spawned calls send their outputs to the store, not a peer
    no_args = serialize(((), {}))

    def submit(fn: FunctionRecord, previous: Call | None) -> Call:
        if previous is not None and any(item.call is previous for item in fn.queue):
            log.warning("%s: skipped a scheduled run, the previous one has not started",
                        fn.label)
            return previous
        return functions.create_call(fn.app.workspace, peer, "fc-" + secrets.token_hex(8),
                                     fn.id, pb.SPAWN, [pb.Input(idx=0, args=no_args)], False,
                                     source="schedule")

    return submit


def schedule_key(fn: FunctionRecord) -> str:
    if fn.app.state == "deployed":
        return f"app:{fn.app.workspace}:{fn.app.name}:{fn.spec.name}"
    return f"fn:{fn.id}"


class Scheduler:
    def __init__(self, table: ScheduleTable,
                 live_functions: Callable[[], Iterable[FunctionRecord]],
                 submit: Submit,
                 clock: Callable[[], float] = time.time):
        self.table = table
        self.live_functions = live_functions   # every live function, scheduled or not
        self.submit = submit                   # starts one run (a spawned call)
        self.clock = clock
        self._states: dict[str, ScheduleState] = {}   # function id → its state
        self._apps: dict[str, str] = {}                # function id → its app's id
        self._task: asyncio.Task | None = None

    def start(self):
        self._task = asyncio.ensure_future(self._loop())

    def stop(self):
        if self._task is not None:
            self._task.cancel()

    async def _loop(self):
        while True:
            try:
                wait = self.tick()
            except Exception:   # a bad row must not stop every schedule
                log.exception("the scheduler failed a round")
                wait = SCAN_S
            await asyncio.sleep(min(SCAN_S, max(0.0, wait)))

    def next_run_of_app(self, app_id: str) -> float | None:
        """The soonest slot of the app's schedules (None: it has none)."""
        slots = [state.next_run for fid, state in self._states.items()
                 if self._apps.get(fid) == app_id]
        return min(slots) if slots else None

    def tick(self) -> float:
        """Runs what is due now; returns the seconds until the next slot."""
        now = self.clock()
        live = {fn.id: fn for fn in self.live_functions()
                if fn.spec.HasField("schedule") and fn.app.state != "deploying"}
        for function_id in list(self._states):
            if function_id not in live:
                self._apps.pop(function_id, None)
                self._forget(self._states.pop(function_id))
        wait = float("inf")
        for fn in live.values():
            state = self._states.get(fn.id) or self._adopt(fn, now)
            if now >= state.next_run:
                self._run(fn, state, now)
            wait = min(wait, state.next_run - now)
        return wait

    def _adopt(self, fn: FunctionRecord, now: float) -> ScheduleState:
        """The state of a schedule seen for the first time by this process."""
        schedule = fn.spec.schedule
        key = schedule_key(fn)
        stored = self.table.get(key)
        if stored is not None and stored.function_id == fn.id:
            state = stored    # this server restarted: keep its place
        elif stored is not None and not schedule_times.is_period(schedule):
            # Redeployed: the cron keeps to its slots from when the deploy began, but
            # never runs again one that the old version ran.
            since = max(stored.last_run or 0.0, min(fn.app.created_at, now))
            state = ScheduleState(key, fn.id, now, stored.last_run,
                                  schedule_times.first_after(schedule, since, now,
                                                             stored.last_run))
        else:
            state = ScheduleState(key, fn.id, now, None,
                                  schedule_times.first_after(schedule, now, now))
        self.table.put(state)
        self._states[fn.id] = state
        self._apps[fn.id] = fn.app.id
        return state

    def _run(self, fn: FunctionRecord, state: ScheduleState, now: float):
        slot = state.next_run
        state.last_run = slot
        state.next_run = schedule_times.first_after(fn.spec.schedule, now, state.anchor, slot)
        self.table.put(state)   # first: a restart after this never runs the slot again
        try:
            state.last_call = self.submit(fn, state.last_call)
        except Exception:
            log.exception("the scheduled run of %s could not start", fn.label)

    def _forget(self, state: ScheduleState):
        """A deployed schedule's row outlives its function (a redeploy takes it up)."""
        if state.key.startswith("fn:"):
            self.table.delete(state.key)
