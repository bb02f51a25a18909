"""A function that runs on a schedule and records each run's time in a Dict. The period
comes from SCHEDULE_PERIOD_S when the app is deployed (containers ignore it)."""

import os
import time

import ketch

app = ketch.App("scheduled")
runs = ketch.Dict.from_name("schedule-runs", create_if_missing=True)


@app.function(schedule=ketch.Period(seconds=float(os.environ.get("SCHEDULE_PERIOD_S", "1"))))
def tick():
    runs[repr(time.time())] = ketch.current_function_call_id()


if __name__ == "__main__":
    hold = float(os.environ.get("SCHEDULE_HOLD_S", "3"))
    with app.run():
        time.sleep(hold)
    print("stopped at", repr(time.time()))
