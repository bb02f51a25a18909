"""The in-container runtime: `python -m ketch._runtime` is every container's entrypoint."""
