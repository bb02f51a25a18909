"""Schedules: Cron and Period checked at decoration, their slots (time zones, daylight
saving, months) through an injected clock, the scheduler's stored state across restarts
and redeploys, and scheduled runs of deployed and ephemeral apps on a real server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import ketch
from ketch.exception import InvalidError
from ketch.proto import ketch_pb2 as pb
from ketch.server import schedule_times
from ketch.server.db.sqlite import SqliteDatabase
from ketch.server.functions.model import AppRecord, FunctionRecord
from ketch.server.schedules import Scheduler, ScheduleTable

NY = ZoneInfo("America/New_York")


def ny(*args) -> float:
    return datetime(*args, tzinfo=NY).timestamp()


def slots(schedule: pb.Schedule, start: float, n: int, anchor: float = 0.0) -> list[str]:
    out, t, previous = [], start, None
    for _ in range(n):
        t = schedule_times.first_after(schedule, t, anchor, previous)
        previous = t
        out.append(datetime.fromtimestamp(t, NY).isoformat())
    return out


# -- checked where they are written

@pytest.mark.parametrize("make, words", [
    (lambda: ketch.Cron("61 * * * *"), "not a cron string"),
    (lambda: ketch.Cron("* * *"), "five fields"),
    (lambda: ketch.Cron("0 9 * * 1-5", timezone="Mars/Olympus"), "unknown time zone"),
    (lambda: ketch.Period(), "at least 1 second"),
    (lambda: ketch.Period(seconds=0.2), "at least 1 second"),
    (lambda: ketch.Period(days=1.5), "whole number"),
    (lambda: ketch.Period(hours=-1), "whole number"),
    (lambda: ketch.Period(seconds=float("nan")), "number >= 0"),
])
def test_bad_schedules_fail_when_made(make, words):
    with pytest.raises(InvalidError, match=words):
        make()


def test_schedules_refused_where_a_run_could_not_call_the_function():
    app = ketch.App("bad-schedules")
    every = ketch.Period(minutes=5)
    with pytest.raises(InvalidError, match="parameter 'x' has no default"):
        @app.function(schedule=every, serialized=True)
        def needs_x(x):
            return x
    with pytest.raises(InvalidError, match="web endpoint"):
        @app.function(schedule=every, serialized=True)
        @ketch.fastapi_endpoint()
        def web():
            return {}
    with pytest.raises(InvalidError, match="generator"):
        @app.function(schedule=every, serialized=True)
        def gen():
            yield 1
    with pytest.raises(InvalidError, match="give ketch.Cron"):
        @app.function(schedule="0 9 * * *", serialized=True)
        def text():
            pass

    @app.function(schedule=ketch.Cron("0 9 * * 1-5", timezone="America/New_York"),
                  serialized=True)
    def fine(x=1):
        return x

    assert repr(ketch.schedule.Cron("0 9 * * *")) == "Cron('0 9 * * *', timezone='UTC')"
    assert repr(ketch.Period(hours=4)) == "Period(hours=4)"


# -- slots, through times given by hand

def test_cron_weekdays_in_new_york():
    # Friday 2026-12-04 10:00 New York: the next weekday 9:00 is Monday's.
    got = slots(pb.Schedule(cron="0 9 * * 1-5", timezone="America/New_York"),
                ny(2026, 12, 4, 10, 0), 3)
    assert got == ["2026-12-07T09:00:00-05:00", "2026-12-08T09:00:00-05:00",
                   "2026-12-09T09:00:00-05:00"]
    utc = schedule_times.first_after(pb.Schedule(cron="0 9 * * *"), ny(2026, 12, 4, 10), 0)
    assert datetime.fromtimestamp(utc, timezone.utc).hour == 9


def test_cron_on_the_spring_forward_day():
    # 2026-03-08: New York's clocks jump from 2:00 to 3:00. 2:30 does not exist that day:
    # it runs once, right after the gap; hourly runs skip the missing hour.
    daily = pb.Schedule(cron="30 2 * * *", timezone="America/New_York")
    assert slots(daily, ny(2026, 3, 7, 12), 3) == [
        "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
    hourly = pb.Schedule(cron="0 * * * *", timezone="America/New_York")
    assert slots(hourly, ny(2026, 3, 8, 0, 30), 3) == [
        "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]


def test_cron_on_the_fall_back_day():
    # 2026-11-01: New York's clocks go back from 2:00 to 1:00, so 1:30 happens twice; a
    # daily 1:30 runs once, and an hourly job runs 1:00 once.
    daily = pb.Schedule(cron="30 1 * * *", timezone="America/New_York")
    assert slots(daily, ny(2026, 10, 31, 12), 3) == [
        "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]
    hourly = pb.Schedule(cron="0 * * * *", timezone="America/New_York")
    assert slots(hourly, ny(2026, 11, 1, 0, 30), 3) == [
        "2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"]


def test_period_counts_from_its_anchor_in_calendar_steps():
    every = pb.Schedule(seconds=1.5)
    assert schedule_times.first_after(every, 100.0, 100.0) == 101.5
    assert schedule_times.first_after(every, 104.0, 100.0) == 104.5
    monthly = pb.Schedule(months=1)
    jan31 = datetime(2026, 1, 31, tzinfo=timezone.utc).timestamp()
    got = [datetime.fromtimestamp(schedule_times.first_after(monthly, t, jan31),
                                  timezone.utc).date().isoformat()
           for t in (jan31, jan31 + 40 * 86400)]
    assert got == ["2026-02-28", "2026-03-31"]


def test_server_side_check_refuses_what_a_client_could_send():
    assert schedule_times.check(pb.Schedule(cron="* * * * *", timezone="../../etc/passwd"))
    assert schedule_times.check(pb.Schedule(seconds=0.01))
    assert schedule_times.check(pb.Schedule(years=10**6))
    assert not schedule_times.check(pb.Schedule(cron="0 9 * * 1-5", timezone="Europe/Paris"))


# -- the scheduler's state, with a clock of the test's

class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def deployed(fid: str, schedule: pb.Schedule, created_at: float, name="job") -> FunctionRecord:
    app = AppRecord("ap-" + fid, "sched-app", "deployed", None)
    app.created_at = created_at
    return FunctionRecord(fid, app, pb.FunctionSpec(name=name, schedule=schedule))


def scheduler(db_path, fns: list, clock: Clock, ran: list) -> Scheduler:
    return Scheduler(ScheduleTable(SqliteDatabase(db_path)), lambda: fns, lambda fn, previous: ran.append(fn),
                     clock)


def test_a_restart_never_runs_a_slot_twice(tmp_path):
    clock = Clock(ny(2026, 12, 7, 8, 59, 59))
    fn = deployed("fu-1", pb.Schedule(cron="0 9 * * *", timezone="America/New_York"),
                  clock.now - 60)
    ran: list = []
    first = scheduler(tmp_path / "s.db", [fn], clock, ran)
    first.tick()
    assert ran == []
    clock.now = ny(2026, 12, 7, 9, 0) + 0.2
    first.tick()
    assert ran == [fn]
    # The server restarts a moment later: the same function comes back from the store.
    again = scheduler(tmp_path / "s.db", [fn], clock, ran)
    clock.now += 0.5
    again.tick()
    assert ran == [fn]
    assert again.next_run_of_app(fn.app.id) == ny(2026, 12, 8, 9, 0)


def test_runs_missed_while_down_run_once(tmp_path):
    clock = Clock(1000.0)
    fn = deployed("fu-2", pb.Schedule(seconds=10), 1000.0)
    ran: list = []
    scheduler(tmp_path / "s.db", [fn], clock, ran).tick()   # anchored at 1000: next 1010
    clock.now = 1075.0                                       # down for seven slots
    back = scheduler(tmp_path / "s.db", [fn], clock, ran)
    back.tick()
    back.tick()
    assert ran == [fn]                                       # one run for all of them
    assert back.next_run_of_app(fn.app.id) == 1080.0         # then on its slots again
    clock.now = 1080.0
    back.tick()
    assert ran == [fn, fn]


def test_redeploy_resets_a_period_but_not_a_cron(tmp_path):
    clock = Clock(ny(2026, 12, 7, 8, 0))
    period = deployed("fu-p1", pb.Schedule(hours=1), clock.now, name="hourly")
    cron = deployed("fu-c1", pb.Schedule(cron="30 8 * * *", timezone="America/New_York"),
                    clock.now, name="daily")
    live = [period, cron]
    ran: list = []
    s = scheduler(tmp_path / "s.db", live, clock, ran)
    s.tick()
    clock.now = ny(2026, 12, 7, 8, 30) + 0.1
    s.tick()
    assert ran == [cron]
    # Redeployed at 8:40 (deploy began at 8:29:59, before the old version ran 8:30).
    clock.now = ny(2026, 12, 7, 8, 40)
    new_period = deployed("fu-p2", pb.Schedule(hours=1), ny(2026, 12, 7, 8, 29, 59),
                          name="hourly")
    new_cron = deployed("fu-c2", cron.spec.schedule, ny(2026, 12, 7, 8, 29, 59), name="daily")
    live[:] = [new_period, new_cron]
    s.tick()
    assert ran == [cron]                                     # 8:30 is not run again
    assert s._states["fu-p2"].next_run == ny(2026, 12, 7, 9, 40)   # not 9:00
    assert s._states["fu-c2"].next_run == ny(2026, 12, 8, 8, 30)


def test_an_ephemeral_apps_schedule_goes_with_it(tmp_path):
    clock = Clock(50.0)
    app = AppRecord("ap-e", "eph", "ephemeral", None)
    fn = FunctionRecord("fu-e", app, pb.FunctionSpec(name="job",
                                                     schedule=pb.Schedule(seconds=5)))
    live = [fn]
    ran: list = []
    s = scheduler(tmp_path / "s.db", live, clock, ran)
    s.tick()
    live.clear()
    clock.now = 60.0
    s.tick()
    assert ran == [] and s.next_run_of_app("ap-e") is None
    rows = sqlite3.connect(str(tmp_path / "s.db")).execute("SELECT * FROM schedules")
    assert rows.fetchall() == []


# -- on a real server

def run_times(srv) -> list[float]:
    out = srv.python("import ketch\n"
                     "d = ketch.Dict.from_name('schedule-runs', create_if_missing=True)\n"
                     "print(sorted(float(k) for k in d.keys()))\n")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def deploy(srv, period: float):
    out = srv.ketch("deploy", "apps/scheduled.py", extra_env={"SCHEDULE_PERIOD_S": str(period)})
    assert out.returncode == 0, out.stderr + srv.log()


def wait_for_runs(srv, n: int, timeout: float = 30) -> list[float]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        times = run_times(srv)
        if len(times) >= n:
            return times
        time.sleep(0.5)
    raise AssertionError(f"{len(times)} runs, not {n}:\n{srv.log()[-3000:]}")


def test_deployed_period_runs_repeatedly_and_shows_its_next_run(fresh_server):
    start = time.time()
    deploy(fresh_server, 1)
    times = wait_for_runs(fresh_server, 4)
    assert times[0] >= start + 1 - 0.1
    listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
    [app] = [a for a in listed if a["name"] == "scheduled"]
    assert app["next_run_at"] and abs(app["next_run_at"] - time.time()) < 3
    table = fresh_server.ketch("app", "list").stdout
    assert "Next run" in table


def test_restart_keeps_the_schedules_place(fresh_server):
    deploy(fresh_server, 6)
    [first] = wait_for_runs(fresh_server, 1, timeout=20)

    def next_run() -> float:
        listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
        return [a for a in listed if a["name"] == "scheduled"][0]["next_run_at"]

    before = next_run()
    fresh_server.stop()
    fresh_server.start()
    # Still on the slots counted from the deploy (a slot missed while down moves it on by
    # whole periods), not counted again from the restart.
    periods = (next_run() - before) / 6
    assert periods >= 0 and abs(periods - round(periods)) < 1e-6, periods
    times = wait_for_runs(fresh_server, 2, timeout=20)
    # The slot that ran before the restart is not run again when the server is back.
    assert times[1] - first > 3, times


def test_redeploy_resets_a_period(fresh_server):
    deploy(fresh_server, 4)
    wait_for_runs(fresh_server, 1, timeout=20)
    time.sleep(1.5)
    deploy(fresh_server, 4)
    redeployed = time.time()
    # The old count would run again about 1.5 s after the redeploy; the new one counts 4 s
    # from it (the old version may still run its slot while the deploy is under way).
    deadline = time.time() + 20
    while time.time() < deadline:
        later = [t for t in run_times(fresh_server) if t > redeployed]
        if later:
            break
        time.sleep(0.5)
    assert later and later[0] >= redeployed + 3, (later, redeployed)


def test_an_ephemeral_app_runs_its_schedule_only_while_held(fresh_server):
    tests = Path(__file__).parent
    out = subprocess.run([sys.executable, "apps/scheduled.py"], cwd=tests, timeout=60,
                         env={**fresh_server.env, "SCHEDULE_HOLD_S": "4.5",
                              "PYTHONPATH": str(tests)}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    stopped = float(out.stdout.split()[-1])
    times = run_times(fresh_server)
    assert len(times) >= 2 and all(t < stopped for t in times), (times, stopped)
    time.sleep(2.5)
    assert run_times(fresh_server) == times


def test_containers_import_a_scheduled_app_without_croniter_or_zone_data():
    # An image has ketch but not croniter (nor, maybe, tzdata): the schedule is checked
    # where the app is deployed from, not again in each container that imports it.
    code = ("import sys\n"
            "sys.modules['croniter'] = None\n"
            "import ketch\n"
            "print(ketch.Cron('0 9 * * 1-5', timezone='Not/AZone'))\n")
    env = {k: v for k, v in __import__("os").environ.items()}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "KETCH_CONTAINER_ID": "ct-test"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Cron('0 9 * * 1-5', timezone='Not/AZone')"


def test_runs_of_a_busy_function_do_not_pile_up(fresh_server):
    assert fresh_server.ketch("deploy", "apps/scheduled_slow.py").returncode == 0
    out = fresh_server.python(
        "import time, ketch\n"
        "f = ketch.Function.from_name('scheduled-slow', 'crawl')\n"
        "time.sleep(8)\n"
        "s = f.get_current_stats()\n"
        "print(s.backlog, s.num_running_inputs)\n", timeout=60)
    assert out.returncode == 0, out.stderr
    backlog, running = map(int, out.stdout.split())
    # A run every second, each taking 3 s on one container: without skipping there would
    # be about five waiting by now.
    assert backlog <= 1 and running == 1, out.stdout
    assert "skipped a scheduled run" in fresh_server.log()
