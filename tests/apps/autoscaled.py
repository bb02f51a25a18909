"""Functions whose autoscaling the tests change while they are deployed."""

import time

import ketch

app = ketch.App("autoscaled")


@app.function(max_containers=1, scaledown_window=2)
def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.cls(scaledown_window=2)
class Model:
    size: int = ketch.parameter(default=1)

    @ketch.method()
    def get(self) -> int:
        return self.size
