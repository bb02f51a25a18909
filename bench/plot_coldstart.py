"""The cold-start figures of docs/benchmarks.md, from bench/coldstart.py's JSON.

    python bench/plot_coldstart.py [bench/results/coldstart.json]

Writes docs/coldstart-distributions.png (each measure's samples, before = exec and
after = forked from a zygote, beside a spawn-method ProcessPoolExecutor) and
docs/coldstart-cdf.png (their latency CDFs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LABELS = {"pool_spawn": "ProcessPoolExecutor (spawn): first result",
          "cold_exec": "ketch function, exec (before)",
          "cold_fork": "ketch function, forked from a zygote (after)",
          "web_exec": "ketch web, zero to first response, exec (before)",
          "web_fork": "ketch web, zero to first response, forked (after)"}


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        REPO / "bench" / "results" / "coldstart.json"
    data = json.loads(path.read_text())
    samples = {k: [s * 1000 for s in v] for k, v in data["samples_s"].items() if k in LABELS}
    keys = [k for k in LABELS if k in samples]
    load = ", ".join(f"{x:.1f}" for x in data.get("load", []))
    note = f"{data.get('cpus', '?')} CPUs, shared machine, load {load}"

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.boxplot([samples[k] for k in keys], orientation="horizontal", showfliers=True)
    ax.set_yticks(range(1, len(keys) + 1), [LABELS[k] for k in keys], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(f"Cold starts, before and after zygotes ({note})", fontsize=10)
    fig.tight_layout()
    fig.savefig(REPO / "docs" / "coldstart-distributions.png", dpi=110)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k in keys:
        xs = sorted(samples[k])
        ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=LABELS[k])
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_ylabel("fraction of cold starts")
    ax.set_title(f"Cold-start latency CDF ({note})", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(REPO / "docs" / "coldstart-cdf.png", dpi=110)


if __name__ == "__main__":
    main()
