"""Log lines tagged with the input that wrote them.

Inside a container, stdout and stderr go through `TaggedStream`: a line written while an
input runs starts with a tag naming that input and its call, which the server strips off
and keeps beside the line (`ketch app logs --call ID`). A tag is only ever read from the
container's own output into its own app's log, so a forged one misleads nobody else.
"""

from __future__ import annotations

from . import _context

MARK = "\x1f"          # ASCII unit separator: never in ordinary text, not a line break
MAX_ID_CHARS = 64      # longer than ketch's ids; a longer "tag" is text


def tag(input_id: str, call_id: str) -> str:
    return f"{MARK}{input_id} {call_id}{MARK}"


def untag(text: str) -> tuple[str, str, str]:
    """→ (input id, call id, the line without its tag); ids are "" for an untagged line."""
    if not text.startswith(MARK):
        return "", "", text
    end = text.find(MARK, 1)
    ids = text[1:end].split(" ") if 0 < end <= 2 * MAX_ID_CHARS + 2 else []
    if len(ids) != 2:
        return "", "", text
    return ids[0], ids[1], text[end + 1:]


class TaggedStream:
    """Wraps a text stream: the start of each line written while an input runs gets the
    input's tag. Everything else (flush, fileno, encoding, buffer) is the stream's own."""

    def __init__(self, stream):
        self._stream = stream
        self._line_start = True

    def write(self, text: str) -> int:
        current = _context.current_input.get()
        if current is None or not text:
            if text:
                self._line_start = text.endswith("\n")
            return self._stream.write(text)
        marker = tag(*current)
        body = text[:-1].replace("\n", "\n" + marker) + text[-1]
        self._stream.write((marker if self._line_start else "") + body)
        self._line_start = text.endswith("\n")
        return len(text)

    def flush(self):
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def __getattr__(self, name):
        return getattr(self._stream, name)
