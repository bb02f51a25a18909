"""Modal's `modal.schedule`: schedules are not in ketch yet."""

from ._missing import not_yet

__all__: list[str] = []

_SCHEDULES = "schedules; run the function from cron with `ketch run` meanwhile"
__getattr__ = not_yet(__name__, {"Cron": _SCHEDULES, "Period": _SCHEDULES,
                                 "Schedule": _SCHEDULES})
