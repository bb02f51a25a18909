"""The function bench/burst.py bursts: it holds its container for a second and says when
it started, and where. An importable module, so containers import it by name."""

import os
import time

IMPORTED_AT = time.time()   # when this container's interpreter had loaded the code


def hold(i: int, seconds: float = 1.0):
    started = time.time()
    time.sleep(seconds)
    return {"i": i, "started": started, "imported": IMPORTED_AT,
            "where": os.environ.get("KETCH_CONTAINER_ID") or str(os.getpid())}
