"""This side of an interactive app (`ketch run -i`, `app.run(interactive=True)`): this
process's terminal is the app's containers' terminal. What is typed here (a line at a
time: the terminal stays in its usual mode, which echoes and edits the line) becomes their
stdin, read by `input()` and `breakpoint()` (pdb); what they write shows here as written.
Their lines are not printed a second time from the app's log.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading

from . import _output
from ._client import Client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

READ_BYTES = 64 * 1024


def interact() -> None:
    """Modal's `interact()`: inside a function's container, make sure it is attached to
    a terminal. In ketch an interactive app's containers are attached from their start,
    so there is nothing to do there; anywhere else it is an error, as on Modal."""
    if not os.environ.get("KETCH_CONTAINER_ID"):
        raise InvalidError("ketch.interact() works only inside a function's container")
    if not os.environ.get("KETCH_INTERACTIVE"):
        raise InvalidError("ketch.interact() needs the app run in interactive mode: "
                           "`ketch run -i` or app.run(interactive=True)")


def attach(client: Client, app_id: str):
    """Shows the app's containers' output here and sends them what is typed, from now
    until this process ends (the app ends with it)."""
    _output.container_output_shown_elsewhere(True)
    client.log_handlers["terminal:" + app_id] = _show
    loop = asyncio.get_running_loop()
    threading.Thread(target=_pump_stdin, args=(client, app_id, loop), daemon=True,
                     name="ketch-terminal").start()


def _show(data: pb.TerminalData):
    stream = sys.stdout if data.fd == 1 else sys.stderr
    stream.flush()
    os.write(stream.fileno(), data.data)


def _pump_stdin(client: Client, app_id: str, loop: asyncio.AbstractEventLoop):
    while True:
        try:
            data = os.read(0, READ_BYTES)
        except OSError:
            data = b""
        future = asyncio.run_coroutine_threadsafe(client.request(
            terminal_input=pb.TerminalInput(app_id=app_id, data=data, eof=not data)), loop)
        try:
            future.result()
        except Exception:   # the app or the connection ended: nobody reads it any more
            return
        if not data:
            return
