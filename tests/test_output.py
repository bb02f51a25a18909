"""Terminal output without a server: progress bars of maps that run at once."""

from __future__ import annotations

from ketch import _output
from ketch.proto import ketch_pb2 as pb


def test_overlapping_map_progress_bars_share_one_display_and_restore_it():
    """Two maps at once each get a bar in the one live display; it stays while either
    runs, in whichever order they end, and log lines go through it meanwhile."""
    display = _output._progress_display
    assert display.console() is None
    first = _output.MapProgress("a.map", 10)
    second = _output.MapProgress("b.map", 20)

    first.__enter__()
    live = display.console()
    assert live is not None
    second.__enter__()
    assert display.console() is live and second.progress is first.progress
    progress = first.progress
    first.advance()
    second.advance(2)
    assert {t.description: t.completed for t in progress.tasks} == {"a.map": 1, "b.map": 2}

    first.__exit__(None, None, None)   # the first map ends before the second
    assert display.console() is live
    assert [t.description for t in progress.tasks] == ["b.map"]
    second.advance()
    assert progress.tasks[0].completed == 3

    second.__exit__(None, None, None)
    assert display.console() is None
    assert not progress.live.is_started


def test_log_lines_print_through_the_live_display_while_a_bar_shows(capsys):
    printer = _output.LogPrinter()
    line = pb.LogLine(source="stdout", text="hello", function_name="f", container_id="c-1")
    with _output.MapProgress("f.map", 300):
        printer.line(line)
    printed = capsys.readouterr()
    assert "hello" in printed.err and "hello" not in printed.out
    printer.line(line)
    assert "hello" in capsys.readouterr().out


def test_progress_bars_show_only_when_output_and_progress_are_enabled(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert isinstance(_output.map_progress("f.map", 1000), _output._NoProgress)
    with _output.enable_output():
        assert isinstance(_output.map_progress("f.map", 1000), _output.MapProgress)
        assert isinstance(_output.map_progress("f.map", 10), _output._NoProgress)
        with _output.enable_output(show_progress=False):
            assert isinstance(_output.map_progress("f.map", 1000), _output._NoProgress)
    assert not _output.enabled()
