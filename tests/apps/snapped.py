"""Memory snapshots: a class whose snap=True hook runs once per zygote (and loads numpy's
OpenBLAS, a native thread pool), and ones whose snap hook leaves a thread running (a Python
thread, a native one)."""

import ctypes
import os
import threading
import time
import uuid

import ketch

app = ketch.App("snapped")


def _openblas_threads() -> int:
    import numpy  # noqa: F401 - loads its OpenBLAS
    name = next(os.path.basename(line.strip()) for line in open("/proc/self/maps")
                if "openblas" in line)
    return ctypes.CDLL(name).scipy_openblas_get_num_threads64_()


@app.cls(enable_memory_snapshot=True, max_containers=2, scaledown_window=2)
class Snapped:
    @ketch.enter(snap=True)
    def load(self):
        self.snap_id = uuid.uuid4().hex      # one per snapshot: the containers share it
        self.snap_pid = os.getpid()
        self.loaded_at = time.time()
        # numpy's OpenBLAS starts no pool while the snapshot is taken; each container's
        # gets one thread per CPU back
        self.snap_omp = (os.environ.get("OMP_NUM_THREADS"), _openblas_threads())

    @ketch.enter()
    def per_container(self):
        self.container = os.environ.get("KETCH_CONTAINER_ID", "")
        self.enter_pid = os.getpid()

    @ketch.method()
    def report(self, hold: float) -> dict:
        time.sleep(hold)  # held, so that two calls need two containers
        return {"snap_id": self.snap_id, "snap_pid": self.snap_pid,
                "container": self.container, "enter_pid": self.enter_pid,
                "pid": os.getpid(), "snap_omp": self.snap_omp,
                "omp": _openblas_threads(), "cpus": len(os.sched_getaffinity(0))}


@app.cls(enable_memory_snapshot=True)
class Threaded:
    @ketch.enter(snap=True)
    def start_worker(self):
        threading.Thread(target=time.sleep, args=(3600,), name="left-running",
                         daemon=True).start()

    @ketch.method()
    def ping(self) -> str:
        return "pong"


@app.cls(enable_memory_snapshot=True)
class NativeThreaded:
    @ketch.enter(snap=True)
    def start_native_thread(self):
        # a thread Python never sees, as a native library's pool: it runs libc's sleep
        libc = ctypes.CDLL(None)
        tid = ctypes.c_ulong()
        assert libc.pthread_create(ctypes.byref(tid), None, libc.sleep,
                                   ctypes.c_void_p(3600)) == 0

    @ketch.method()
    def ping(self) -> str:
        return "pong"
