"""The call path: apps, functions, calls and containers (see service.py for the whole).

    model.py       the records, and StopReason
    registry.py    live apps and functions
    calls.py       queue → dispatch → outputs → retry/deliver, cancel, timeouts
    containers.py  launch, ready, stop, exited, backoff; applies the autoscaler's plans
    launch.py      a ContainerLaunch from a function + image + secrets + mounts
    service.py     FunctionsService: the face the api and the gateway use
"""

from .launch import runtime_python_version
from .model import Peer

__all__ = ["Peer", "runtime_python_version"]
