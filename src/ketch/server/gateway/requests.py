"""Reading a web request's head: the headers routing and auth need, and which endpoint
the request names (by Host header or by its first path segment)."""

from __future__ import annotations

from .proxy import FORWARDING_HEADERS


class RequestHead:
    """A client's request headers, sorted: what routing reads, what auth reads (never
    forwarded), and the header lines the container gets."""

    __slots__ = ("host", "modal_key", "modal_secret", "chunked", "sized", "lines")

    def __init__(self, headers):
        self.host = b""
        self.modal_key = self.modal_secret = None
        self.chunked = False
        self.sized = False
        self.lines = []
        for name, value in headers:
            lower = name.lower()
            if lower == b"host":
                self.host = value
            elif lower == b"modal-key":
                self.modal_key = value
                continue
            elif lower == b"modal-secret":
                self.modal_secret = value
                continue
            elif lower == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif lower == b"content-length":
                self.sized = value.strip() not in (b"", b"0")
            elif lower in FORWARDING_HEADERS:
                continue  # the gateway says who forwarded what; a client cannot
            self.lines.append(b"%b: %b\r\n" % (name, value))


def request_target(host: bytes, url: bytes) -> tuple[str, bytes, bytes] | None:
    """(route key, stripped path prefix, path for the container) by Host header
    (`<app>--<label>.localhost`) or by the first path segment; None when neither names
    an endpoint."""
    label = host.partition(b":")[0].lower().partition(b".")
    if label[1] and b"--" in label[0]:
        return label[0].decode("latin-1"), b"", url
    tail = url[1:]
    cut = min((i for i in (tail.find(b"/"), tail.find(b"?")) if i != -1), default=len(tail))
    segment, rest = tail[:cut], tail[cut:]
    if b"--" not in segment:
        return None
    key = segment.decode("latin-1").lower()  # host names ignore case; so does this
    return key, b"/" + segment, rest if rest.startswith(b"/") else b"/" + rest
