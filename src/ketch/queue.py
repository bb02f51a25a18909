"""Modal's `modal.queue`, for ported imports (`from ketch.queue import Queue`)."""

from ._missing import not_yet
from ._queue import Queue

__all__ = ["Queue"]

__getattr__ = not_yet(__name__, {
    "QueueManager": "Queue.objects; use Queue.from_name(...) and `ketch queue list|delete`",
})
