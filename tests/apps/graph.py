"""Functions that call each other from their containers, for call graphs."""

import ketch

app = ketch.App("graph")


@app.function()
def leaf(x: int) -> int:
    return x


@app.function()
def middle(n: int) -> int:
    return sum(leaf.remote(i) for i in range(n))


@app.function()
def top() -> int:
    return middle.remote(2) + sum(middle.map([1, 1]))


@app.function()
def fails():
    raise ValueError("no")
