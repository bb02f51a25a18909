"""Why a container stopped is a value: each reason is its own member (none an alias of
another, which equal enum values would make), and each renders as people read it."""

from ketch.server.functions.model import DELIBERATE_STOPS, StopReason


def test_every_reason_is_distinct_and_has_text():
    assert len(StopReason) == len(StopReason.__members__)
    assert StopReason.OOM_KILLED is not StopReason.CRASHED
    for reason in StopReason:
        assert reason.text("exit code 3")


def test_texts_read_as_before():
    assert StopReason.STARTUP_TIMEOUT.text("5 s") == \
        "it did not become ready within its startup timeout of 5 s"
    assert StopReason.OOM_KILLED.text("ran out of memory") == "ran out of memory"
    assert StopReason.CONTAINER_STOP.text() == "stopped by `ketch container stop`"
    assert StopReason.INPUT_TIMED_OUT not in DELIBERATE_STOPS
