"""`ketch run -i` (issue 10): the terminal of `ketch run` is the function's terminal,
driven through a real pseudo-terminal (pexpect): input() reads what is typed, the prompt
shows before its newline, and breakpoint() stops in pdb, which takes commands."""

from __future__ import annotations

import sys

import pexpect
import pytest

import ketch
from conftest import TESTS

TIMEOUT = 60


def spawn(server, *args: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "ketch.cli", *args], env=server.env,
                         timeout=TIMEOUT, encoding="utf-8", cwd=str(TESTS))


def test_input_and_pdb_under_run_interactive(server):
    child = spawn(server, "run", "-i", "apps/interactive.py::ask")
    child.expect_exact("your name? ")        # a prompt without a newline shows
    child.sendline("ada")
    child.expect_exact("hello ada")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    child = spawn(server, "run", "-i", "apps/interactive.py::local_then_remote")
    child.expect_exact("local? ")
    child.sendline("here")
    child.expect_exact("local got here")
    child.expect_exact("your name? ")
    child.sendline("bo")
    child.expect_exact("hello bo")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    child = spawn(server, "run", "-i", "apps/interactive.py::debug")
    child.expect_exact("(Pdb) ")
    child.sendline("p total")
    child.expect_exact("40")
    child.expect_exact("(Pdb) ")
    child.sendline("total = 100")
    child.expect_exact("(Pdb) ")
    child.sendline("c")
    child.expect_exact("102")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before


def test_interactive_needs_an_attached_client(server):
    with pytest.raises(ketch.exception.InvalidError, match="interactive"):
        ketch.App("a").run(interactive=True, detach=True)
    with pytest.raises(ketch.exception.InvalidError, match="inside a function's container"):
        ketch.interact()
    out = server.ketch("run", "-i", "-d", "apps/interactive.py::ask")
    assert out.returncode == 1 and "drop -d or -i" in out.stderr, out.stderr


def test_only_the_apps_own_client_types_into_it(server):
    from apps import interactive

    with interactive.app.run(interactive=True):
        out = server.python(f"""
import ketch
from ketch import _sync
from ketch._client import Client
from ketch.proto import ketch_pb2 as pb
async def main():
    c = await Client.get()
    await c.request(terminal_input=pb.TerminalInput(app_id={interactive.app.app_id!r},
                                                    data=b"rm -rf /\\n"))
try:
    _sync.run(main())
except ketch.exception.NotFoundError as exc:
    print("refused:", exc)
""")
    assert "refused:" in out.stdout and "only the client that ran it" in out.stdout, \
        out.stderr
    assert not ketch._output._shown_elsewhere   # this process prints container lines again
