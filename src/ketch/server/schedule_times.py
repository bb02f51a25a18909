"""When a schedule's runs fall: pure functions of a `pb.Schedule` and times (Unix seconds),
so the rules are unit-tested without a server or a real clock.

Cron strings are read by croniter in the schedule's time zone (zoneinfo). On the day a
zone's clocks go back, a wall-clock time that happens twice runs once: a slot whose local
time is not after the previous slot's is skipped, as Vixie cron does. A wall-clock time
that does not exist (clocks going forward) runs at the first moment after the gap.

A Period counts from its anchor (the deploy): slot n is anchor + n periods, years and
months as calendar steps (dateutil's relativedelta), the rest as a fixed length, in UTC.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.relativedelta import relativedelta

from ..proto import ketch_pb2 as pb

MIN_PERIOD_S = 1.0
_MAX_DUPLICATE_SLOTS = 10_000   # slots of a repeated hour skipped at most (a minutely cron)


def check(schedule: pb.Schedule) -> str:
    """Why this schedule cannot run ("" if it can): a client may send anything."""
    if schedule.cron:
        if len(schedule.cron) > 200 or not croniter.is_valid(schedule.cron):
            return f"schedule: {schedule.cron[:200]!r} is not a cron string"
        try:
            ZoneInfo(schedule.timezone or "UTC")
        except (ValueError, KeyError, OSError):
            return f"schedule: unknown time zone {schedule.timezone[:100]!r}"
        return ""
    if not math.isfinite(schedule.seconds) or schedule.seconds < 0:
        return "schedule: the period's seconds must be a finite number >= 0"
    if schedule.years > 100 or schedule.months > 1200 or schedule.weeks > 5300 or \
            schedule.days > 36600 or schedule.hours > 878400 or schedule.minutes > 52704000 \
            or schedule.seconds > 3.2e9:
        return "schedule: the period is longer than 100 years"
    if _fixed(schedule).total_seconds() < MIN_PERIOD_S and not (schedule.years or
                                                                  schedule.months):
        return f"schedule: the period must be at least {MIN_PERIOD_S:g} second"
    return ""


def is_period(schedule: pb.Schedule) -> bool:
    return not schedule.cron


def first_after(schedule: pb.Schedule, after: float, anchor: float,
                previous: float | None = None) -> float:
    """The first slot strictly after `after`. `anchor` starts a Period's count; `previous`
    (the last slot that ran) keeps a cron from running a repeated wall-clock time twice."""
    if is_period(schedule):
        return _period_after(schedule, after, anchor)
    return _cron_after(schedule, after, previous)


def _fixed(schedule: pb.Schedule) -> timedelta:
    return timedelta(weeks=schedule.weeks, days=schedule.days, hours=schedule.hours,
                     minutes=schedule.minutes, seconds=schedule.seconds)


def _period_slot(schedule: pb.Schedule, anchor: datetime, n: int) -> datetime:
    return anchor + relativedelta(years=n * schedule.years, months=n * schedule.months) + \
        n * _fixed(schedule)


def _period_after(schedule: pb.Schedule, after: float, anchor: float) -> float:
    start = datetime.fromtimestamp(anchor, timezone.utc)
    if after < anchor:
        return _period_slot(schedule, start, 1).timestamp()
    # An estimate from the shortest length, then forward: a few steps at most.
    shortest = (schedule.years * 365 + schedule.months * 28) * 86400 + \
        _fixed(schedule).total_seconds()
    n = max(1, int((after - anchor) // shortest) - 1)
    while _period_slot(schedule, start, n).timestamp() > after and n > 1:
        n -= 1
    while _period_slot(schedule, start, n).timestamp() <= after:
        n += 1
    return _period_slot(schedule, start, n).timestamp()


def _cron_after(schedule: pb.Schedule, after: float, previous: float | None) -> float:
    zone = ZoneInfo(schedule.timezone or "UTC")
    it = croniter(schedule.cron, datetime.fromtimestamp(after, zone))
    floor = None if previous is None else \
        datetime.fromtimestamp(previous, zone).replace(tzinfo=None)
    for _ in range(_MAX_DUPLICATE_SLOTS):
        slot = it.get_next(datetime)
        # The same wall-clock time again (the clocks went back): it already ran.
        if floor is None or slot.replace(tzinfo=None) > floor:
            return slot.timestamp()
    return slot.timestamp()
