"""Shows an image build's steps and their output in the terminal as it goes."""

from __future__ import annotations

import sys

from .proto import ketch_pb2 as pb


class BuildPrinter:
    """Shows a build's steps and their output in the terminal as it goes."""

    def __init__(self):
        from rich.console import Console

        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)

    def __call__(self, log: pb.ImageBuildLog):
        head = f"[{log.step}/{log.n_steps}] {log.title}"
        if log.state == "cached":
            self.console.print(f"{head} (cached)", markup=False, style="dim")
        elif log.state == "running":
            self.console.print(head, markup=False, style="bold")
        elif log.state == "failed":
            self.console.print(f"{head} failed", markup=False, style="red")
        elif log.state == "done" and not log.text:  # a configuration step: nothing to run
            self.console.print(head, markup=False, style="dim")
        elif log.text:
            self.console.print(f"  {log.text}", markup=False, style="dim")

    def finished(self, built: pb.ImageBuilt):
        self.console.print(f"[green]✓[/green] image {built.image_id} ready "
                           f"({built.n_cached}/{built.n_steps} steps cached)", markup=True)
