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
    client.log_handlers["terminal:" + app_id] = _Terminal(client, app_id,
                                                          asyncio.get_running_loop())


def detach(client: Client, app_id: str):
    """The app stopped: its terminal bridge goes (nothing if it had none)."""
    if client.log_handlers.pop("terminal:" + app_id, None) is not None and not any(
            key.startswith("terminal:") for key in client.log_handlers):
        _output.container_output_shown_elsewhere(False)


class _Terminal:
    def __init__(self, client: Client, app_id: str, loop: asyncio.AbstractEventLoop):
        self.client, self.app_id, self.loop = client, app_id, loop
        self.reading = False   # a read of the terminal is under way (one at a time)
        self.ended = False     # Ctrl-D was typed: nothing more to read

    def __call__(self, data: pb.TerminalData):
        if data.wants_input:
            if not self.reading and not self.ended:
                self.reading = True
                threading.Thread(target=self._read, daemon=True,
                                 name="ketch-terminal").start()
            return
        stream = sys.stdout if data.fd == 1 else sys.stderr
        stream.flush()
        os.write(stream.fileno(), data.data)

    def _read(self):
        try:
            data = os.read(0, READ_BYTES)
        except OSError:
            data = b""
        self.ended = not data
        future = asyncio.run_coroutine_threadsafe(self.client.request(
            terminal_input=pb.TerminalInput(app_id=self.app_id, data=data, eof=not data)),
            self.loop)
        try:
            future.result()
        except Exception:   # the app or the connection ended: nobody reads it any more
            pass
        self.reading = False
