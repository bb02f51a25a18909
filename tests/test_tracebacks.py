"""Remote traceback text becomes entries of the caller's traceback (ketch._traceback)."""

from __future__ import annotations

import traceback

from ketch._traceback import attach_remote

REMOTE = ('Traceback (most recent call last):\n'
          '  File "/only/in/the/container/job.py", line 7, in step\n'
          '    return inner()\n'
          '           ^^^^^^^\n'
          '  File "/only/in/the/container/job.py", line 3, in inner\n'
          '    raise ValueError("bad row")\n'
          'ValueError: bad row\n')


def _raised(exc):
    try:
        raise exc
    except ValueError as caught:
        return "".join(traceback.format_exception(caught))


def test_remote_frames_show_their_lines_though_the_file_is_not_here():
    text = _raised(attach_remote(ValueError("bad row"), REMOTE))
    assert 'job.py", line 7, in step\n    return inner()\n' in text
    assert 'job.py", line 3, in inner\n    raise ValueError("bad row")\n' in text
    assert "^" not in text and text.rstrip().endswith("ValueError: bad row")


def test_attaching_inside_an_except_block_chains_nothing_new():
    try:
        raise KeyError("being handled")
    except KeyError:
        exc = attach_remote(ValueError("bad row"), REMOTE)
    assert exc.__context__ is None


def test_text_without_frames_is_kept_as_a_note():
    exc = attach_remote(ValueError("x"), "something went wrong in the container")
    assert "something went wrong in the container" in _raised(exc)
