"""Memory snapshots: a class whose snap=True hook runs once per zygote, and one whose
snap hook leaves a thread running."""

import os
import threading
import time
import uuid

import ketch

app = ketch.App("snapped")


@app.cls(enable_memory_snapshot=True, max_containers=2, scaledown_window=2)
class Snapped:
    @ketch.enter(snap=True)
    def load(self):
        self.snap_id = uuid.uuid4().hex      # one per snapshot: the containers share it
        self.snap_pid = os.getpid()
        self.loaded_at = time.time()

    @ketch.enter()
    def per_container(self):
        self.container = os.environ.get("KETCH_CONTAINER_ID", "")
        self.enter_pid = os.getpid()

    @ketch.method()
    def report(self, hold: float) -> dict:
        time.sleep(hold)  # held, so that two calls need two containers
        return {"snap_id": self.snap_id, "snap_pid": self.snap_pid,
                "container": self.container, "enter_pid": self.enter_pid,
                "pid": os.getpid()}


@app.cls(enable_memory_snapshot=True)
class Threaded:
    @ketch.enter(snap=True)
    def start_worker(self):
        threading.Thread(target=time.sleep, args=(3600,), name="left-running",
                         daemon=True).start()

    @ketch.method()
    def ping(self) -> str:
        return "pong"
