"""The dashboard's login codes and sessions (server/dashboard/logins.py) and its log
reader (logtail.py), on their own: a clock the test moves, files the test writes."""

from __future__ import annotations

import json

from ketch.server.dashboard import logins, logtail
from ketch.server.dashboard.logins import Logins
from ketch.server.tokens import Principal


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ALICE = Principal("alpha", token_id="tk-1", digest="d1")


def test_a_code_works_once_within_its_minute():
    clock = Clock()
    box = Logins(clock)
    code, ttl = box.create_code("alpha", ALICE)
    assert ttl == logins.CODE_TTL_S
    secret, session, path = box.redeem(code)
    assert session.workspace == "alpha" and session.principal is ALICE and path == "/"
    assert box.session(secret) is session
    assert box.redeem(code) is None                     # spent
    late, _ = box.create_code("alpha", ALICE)
    clock.now += logins.CODE_TTL_S + 1
    assert box.redeem(late) is None                     # expired
    assert session.csrf and session.csrf != secret


def test_sessions_end_when_idle_too_long_when_too_old_and_at_logout():
    clock = Clock()
    box = Logins(clock)
    secret, _, _ = box.redeem(box.create_code("alpha", ALICE)[0])
    clock.now += logins.SESSION_IDLE_S - 1
    assert box.session(secret) is not None              # used: it stays
    clock.now += logins.SESSION_IDLE_S + 1
    assert box.session(secret) is None                  # unused too long
    for _ in range(3):                                  # used often, but a week is the most
        secret, _, _ = box.redeem(box.create_code("alpha", ALICE)[0])
    steps = int(logins.SESSION_MAX_S // (logins.SESSION_IDLE_S / 2)) + 1
    for _ in range(steps):
        clock.now += logins.SESSION_IDLE_S / 2
        alive = box.session(secret) is not None
    assert not alive
    secret, _, _ = box.redeem(box.create_code("alpha", ALICE)[0])
    box.end(secret)
    assert box.session(secret) is None


def test_codes_and_sessions_are_bounded_and_odd_input_is_refused_early():
    box = Logins(Clock())
    codes = [box.create_code("alpha", ALICE)[0] for _ in range(logins.MAX_CODES + 5)]
    assert box.redeem(codes[0]) is None                 # the oldest made way
    assert box.redeem(codes[-1]) is not None
    secrets = [box.redeem(box.create_code("alpha", ALICE)[0])[0]
               for _ in range(logins.MAX_SESSIONS + 1)]
    assert box.session(secrets[0]) is None and box.session(secrets[-1]) is not None
    for odd in (None, "", "x" * 5000, "../../etc", "a b", "é" * 10):
        assert box.redeem(odd) is None and box.session(odd) is None


def _write(path, rows):
    with open(path, "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def test_the_log_tail_reads_only_what_was_added_and_only_whole_lines(tmp_path):
    path = tmp_path / "ap-1.jsonl"
    assert logtail.read(path, None) == ([], 0)
    _write(path, [[1.0, "stdout", "f", "ta-1", "one"], [2.0, "stdout", "f", "ta-2", "two"],
                  [3.0, "stdout", "f", "ta-1", "three", "in-1", "fc-1"]])
    lines, offset = logtail.read(path, None, "ta-1")
    assert [l["text"] for l in lines] == ["one", "three"] and lines[1]["call_id"] == "fc-1"
    with open(path, "a") as f:
        f.write('[4.0, "stdout", "f", "ta-1", "half')        # still being written
    assert logtail.read(path, offset, "ta-1") == ([], offset)
    with open(path, "a") as f:
        f.write(' done"]\n')
    lines, offset = logtail.read(path, offset, "ta-1")
    assert [l["text"] for l in lines] == ["half done"]
    assert logtail.read(path, offset) == ([], offset)


def test_the_first_read_of_a_long_log_is_its_tail(tmp_path):
    path = tmp_path / "ap-2.jsonl"
    _write(path, [[float(i), "stdout", "f", "ta-1", f"line {i} " + "x" * 200]
                  for i in range(3000)])
    lines, offset = logtail.read(path, None)
    assert offset == path.stat().st_size
    assert lines[-1]["text"].startswith("line 2999 ")
    assert 0 < len(lines) < 3000 and lines[0]["text"].startswith("line ")
