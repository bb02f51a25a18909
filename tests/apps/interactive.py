"""An app for `ketch run -i`: a function that asks for input and one that stops in pdb."""

import ketch

app = ketch.App("interactive")


@app.function()
def ask() -> str:
    ketch.interact()   # Modal's: nothing to do, the container is attached already
    name = input("your name? ")
    return f"hello {name}"


@app.function()
def debug() -> int:
    total = 40
    breakpoint()
    return total + 2


@app.local_entrypoint()
def local_then_remote():
    first = input("local? ")   # this process's own stdin: not taken by the bridge
    print(f"local got {first}")
    print(ask.remote())
