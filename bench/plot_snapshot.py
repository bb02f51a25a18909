"""The image-container and memory-snapshot figure of docs/benchmarks.md.

    python bench/plot_snapshot.py [bench/results/snapshot.json] [bench/results/coldstart.json]

Writes docs/snapshot-coldstart.png: the cold starts of a class that imports torch in
@enter, with and without enable_memory_snapshot (bench/snapshot.py), and of a trivial
function in a Debian image, forked from the image's zygote and exec'd
(bench/coldstart.py's image measure).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LABELS = {"plain": "torch in @enter, no snapshot (imported in each container)",
          "snapshot": "torch in @enter(snap=True), enable_memory_snapshot",
          "image_exec": "trivial function in a Debian image, exec",
          "image_fork": "trivial function in a Debian image, forked"}


def main():
    snap = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "bench/results/snapshot.json"
    cold = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "bench/results/coldstart.json"
    samples, loads = {}, []
    for path in (snap, cold):
        if path.exists():
            data = json.loads(path.read_text())
            loads.append(data.get("load", [0])[0])
            samples.update({k: [s * 1000 for s in v] for k, v in data["samples_s"].items()
                            if k in LABELS})
    keys = [k for k in LABELS if k in samples]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.boxplot([samples[k] for k in keys], orientation="horizontal", showfliers=True)
    ax.set_yticks(range(1, len(keys) + 1), [LABELS[k] for k in keys], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("cold start, milliseconds (log scale)")
    load = ", ".join(f"{x:.1f}" for x in loads)
    ax.set_title(f"Image containers and memory snapshots (2 shared CPUs, load {load})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(REPO / "docs" / "snapshot-coldstart.png", dpi=110)


if __name__ == "__main__":
    main()
