"""Schedules: `Cron` and `Period`, as Modal's. Each is checked when it is made, so a bad
cron string, an unknown time zone or an empty period fails where it is written."""

from __future__ import annotations

import inspect
import math

from ._context import is_local
from ._partial import BATCHED
from ._web import WEB
from .exception import InvalidError
from .proto import ketch_pb2 as pb

MIN_PERIOD_S = 1.0              # a shorter period would keep a container busy starting runs
MAX_PERIOD_YEARS = 100


class Schedule:
    """A time frame to run a function repeatedly: `Cron` or `Period`."""

    def __init__(self, proto: pb.Schedule):
        self._proto = proto

    def _to_proto(self) -> pb.Schedule:
        return self._proto


class Cron(Schedule):
    """Runs at the times a cron string names (`"0 9 * * 1-5"`: 9:00 on weekdays), in an
    IANA time zone (UTC by default), as Unix cron does."""

    def __init__(self, cron_string: str, timezone: str = "UTC") -> None:
        if not isinstance(cron_string, str) or not isinstance(timezone, str):
            raise InvalidError(f"Cron({cron_string!r}, timezone={timezone!r}): give strings")
        # Containers import the app's module too, where the schedule is not used and the
        # image need not have croniter or time-zone data: it is checked where the app is
        # run or deployed from (and again by the server).
        if is_local():
            _check_cron(cron_string, timezone)
        self.cron_string = cron_string
        self.timezone = timezone
        super().__init__(pb.Schedule(cron=cron_string, timezone=timezone))

    def __repr__(self):
        return f"Cron({self.cron_string!r}, timezone={self.timezone!r})"


def _check_cron(cron_string: str, timezone: str):
    if not _valid_cron(cron_string):
        raise InvalidError(f"Cron({cron_string!r}): not a cron string. Give five fields, "
                           "minute hour day-of-month month day-of-week, e.g. "
                           "'0 9 * * 1-5' (see crontab.guru)")
    if not _known_zone(timezone):
        raise InvalidError(f"Cron({cron_string!r}, timezone={timezone!r}): unknown time "
                           "zone; give an IANA name such as 'UTC' or 'America/New_York'")


class Period(Schedule):
    """Runs every given interval, first one interval after the app is deployed; a
    redeploy starts the count again. `days=1` is a calendar day, `months=1` the same day
    each month; only `seconds` may be a float."""

    def __init__(self, *, years: int = 0, months: int = 0, weeks: int = 0, days: int = 0,
                 hours: int = 0, minutes: int = 0, seconds: float = 0) -> None:
        parts = dict(years=years, months=months, weeks=weeks, days=days, hours=hours,
                     minutes=minutes)
        for name, value in parts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidError(f"Period({name}={value!r}): give a whole number >= 0 "
                                   "(only seconds may be a float)")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
                not math.isfinite(seconds) or seconds < 0:
            raise InvalidError(f"Period(seconds={seconds!r}): give a number >= 0")
        length = approx_seconds(years=years, months=months, weeks=weeks, days=days,
                                hours=hours, minutes=minutes, seconds=seconds)
        if length < MIN_PERIOD_S:
            raise InvalidError(f"Period({_args(parts, seconds)}): the period must be at least "
                               f"{MIN_PERIOD_S:g} second; give e.g. Period(minutes=5)")
        if length > MAX_PERIOD_YEARS * 366 * 86400:
            raise InvalidError(f"Period({_args(parts, seconds)}): longer than "
                               f"{MAX_PERIOD_YEARS} years")
        self._parts = {**parts, "seconds": seconds}
        super().__init__(pb.Schedule(seconds=float(seconds), **parts))

    def __repr__(self):
        return f"Period({_args(self._parts, None)})"


def approx_seconds(*, years=0, months=0, weeks=0, days=0, hours=0, minutes=0,
                   seconds=0.0) -> float:
    """A period's length in seconds, months and years taken at their shortest."""
    return ((years * 365 + months * 28 + weeks * 7 + days) * 86400 + hours * 3600 +
            minutes * 60 + seconds)


def _args(parts: dict, seconds) -> str:
    shown = {**parts, **({} if seconds is None else {"seconds": seconds})}
    return ", ".join(f"{k}={v!r}" for k, v in shown.items() if v) or "seconds=0"


def _valid_cron(text: str) -> bool:
    from croniter import croniter   # here: containers never need it

    fields = text.split()
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0].startswith("@"))):
        return False
    return croniter.is_valid(text)


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError   # here: containers never need it

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_schedule(where: str, schedule, f) -> pb.Schedule | None:
    """The schedule of `@app.function(schedule=...)` on `f`, refused where a scheduled run
    could not call it: it runs `f()` with no arguments, as a spawned call."""
    if schedule is None:
        return None
    if not isinstance(schedule, Schedule):
        raise InvalidError(f"{where}: schedule={schedule!r}: give ketch.Cron(...) or "
                           "ketch.Period(...)")
    if getattr(f, WEB, None) is not None:
        raise InvalidError(f"{where}: a web endpoint runs when a request comes, not on a "
                           "schedule; schedule a plain function (it may call the endpoint's "
                           "code) or remove schedule=")
    if getattr(f, BATCHED, None):
        raise InvalidError(f"{where}: a @ketch.batched function cannot be scheduled (a run "
                           "has no inputs to batch); remove schedule= or @ketch.batched")
    required = [p.name for p in inspect.signature(f).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if required:
        raise InvalidError(f"{where}: a scheduled function is called with no arguments, but "
                           f"parameter {required[0]!r} has no default; give it one or remove "
                           "schedule=")
    if inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f):
        raise InvalidError(f"{where}: a generator function cannot be scheduled; return a "
                           "value instead of yielding")
    return schedule._to_proto()
