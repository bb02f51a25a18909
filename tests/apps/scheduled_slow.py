"""A scheduled function slower than its period, on one container."""

import time

import ketch

app = ketch.App("scheduled-slow")


@app.function(schedule=ketch.Period(seconds=1), max_containers=1)
def crawl():
    time.sleep(3)
