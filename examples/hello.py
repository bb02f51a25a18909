"""A first ketch app: one function fanned out with .map, a class with a warm @enter,
and a local entrypoint whose parameters are command-line options.

    ketch run examples/hello.py --n 20
"""

import hashlib
import os

import ketch

app = ketch.App("hello")


@app.function()
def checksum(i: int) -> str:
    """Hashes a block of data; stands in for any per-item work (parse, embed, score)."""
    data = i.to_bytes(8, "little") * 100_000
    return hashlib.sha256(data).hexdigest()[:12]


@app.cls()
class Greeter:
    greeting: str = ketch.parameter(default="Hello")

    @ketch.enter()
    def start(self):
        # Runs once per container: the place to load a model or open a connection.
        self.pid = os.getpid()
        print(f"container {self.pid} ready to greet")

    @ketch.method()
    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}! (from container pid {self.pid})"


@app.local_entrypoint()
def main(n: int = 10, name: str = "world"):
    sums = list(checksum.map(range(n)))
    print(f"{len(sums)} checksums computed in containers, first: {sums[0]}")
    print(Greeter(greeting="Hi").greet.remote(name))
