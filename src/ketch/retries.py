"""`Retries`: how often and how patiently ketch runs a failed input again."""

from __future__ import annotations

from ._missing import not_yet
from .exception import InvalidError


class Retries:
    """Retry policy: attempt k (0-based) waits `initial_delay * backoff_coefficient**k`
    seconds, at most `max_delay`.

    ketch retries an input when the user's code raises, when it times out, and when its
    container dies under it.
    """

    def __init__(self, *, max_retries: int, backoff_coefficient: float = 2.0,
                 initial_delay: float = 1.0, max_delay: float = 60.0):
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) \
                or not 0 <= max_retries <= 10:
            raise InvalidError(f"Retries(max_retries={max_retries!r}): give an int from 0 to 10")
        _seconds_or_factor("backoff_coefficient", backoff_coefficient, 1.0, 10.0)
        _seconds_or_factor("initial_delay", initial_delay, 0.0, 60.0)
        _seconds_or_factor("max_delay", max_delay, 1.0, 60.0)
        self.max_retries = max_retries
        self.backoff_coefficient = float(backoff_coefficient)
        self.initial_delay = float(initial_delay)
        self.max_delay = float(max_delay)

    def __repr__(self):
        return (f"Retries(max_retries={self.max_retries}, backoff_coefficient="
                f"{self.backoff_coefficient}, initial_delay={self.initial_delay}, "
                f"max_delay={self.max_delay})")

    @classmethod
    def coerce(cls, value) -> "Retries":
        if value is None:
            return cls(max_retries=0)
        if isinstance(value, Retries):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= 10:
                raise InvalidError(f"retries={value}: give an int from 0 to 10, or "
                                   "ketch.Retries(...)")
            # An int means retries with a fixed one-second delay, as in Modal.
            return cls(max_retries=value, backoff_coefficient=1.0, initial_delay=1.0)
        raise InvalidError(f"retries={value!r}: give an int from 0 to 10 or "
                           "ketch.Retries(max_retries=...)")


def _seconds_or_factor(name: str, value, low: float, high: float):
    # NaN fails every comparison, so it is refused here too.
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not low <= value <= high:
        raise InvalidError(f"Retries({name}={value!r}): give a number from {low:g} to "
                           f"{high:g}")


__getattr__ = not_yet(__name__, {
    "RetryManager": "Modal's retry internals; give retries= to @app.function",
    "MAX_INPUT_RETRY_DELAY_MS": "Modal's limit; ketch's max_delay is at most 60 s",
    "MIN_INPUT_RETRY_DELAY_MS": "Modal's limit; ketch's initial_delay may be 0",
})
