"""`Tunnel`: a port inside a sandbox, reachable from outside at host:port.

"Encrypted" in ketch: the server's gateway has no TLS certificate, so encrypted and
unencrypted ports are both plain TCP on the ketch server's host, and `url` is http://.
Encrypt them with a TLS-terminating proxy in front of that host; a sandbox's own TLS
passes through a tunnel untouched."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tunnel:
    host: str
    port: int
    unencrypted_host: str
    unencrypted_port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tls_socket(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def tcp_socket(self) -> tuple[str, int]:
        return self.unencrypted_host, self.unencrypted_port
