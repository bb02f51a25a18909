"""Modal's `modal.schedule`: when a function runs by itself."""

from ._schedule import Cron, Period, Schedule

__all__ = ["Cron", "Period", "Schedule"]
