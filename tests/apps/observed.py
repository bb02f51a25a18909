"""Functions whose calls the call-history, log and metrics tests look at."""

import os
import time

import ketch

app = ketch.App("observed")


@app.function()
def greet(name):
    print(f"hello {name} from greet")
    return f"hi {name}"


@app.function()
def explode(x):
    print(f"about to fail on {x}")
    raise ValueError(f"bad input {x}")


@app.function(timeout=1, startup_timeout=60)   # a slow start under load is not the subject
def dawdle(seconds):
    print("dawdling")
    time.sleep(seconds)
    return seconds


@app.function()
def crash(code):
    print("crashing now")
    os._exit(code)


@app.function()
def nap(seconds):
    print(f"napping {seconds}")
    time.sleep(seconds)
    return seconds


@app.function()
@ketch.fastapi_endpoint()
def ping():
    return "pong"
