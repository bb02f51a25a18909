"""An app for the CLI parity tests: a warm class, typed entrypoint options."""

from typing import Optional

import ketch

app = ketch.App("cli-parity")


@app.cls(min_containers=1)
class Warm:
    @ketch.enter()
    def load(self):
        self.k = 3

    @ketch.method()
    def times(self, x):
        return self.k * x


@app.function()
def square(x: int):
    print(f"squaring {x}")
    return x * x


@app.local_entrypoint()
def main():
    print("warm", Warm().times.remote(2), "square", square.remote(4))


@app.local_entrypoint()
def needs_n(n: int, extra: Optional[int] = None, blob: bytes = b"", note: str = "none"):
    print(f"n={n!r} extra={extra!r} blob={blob!r} note={note!r}")
