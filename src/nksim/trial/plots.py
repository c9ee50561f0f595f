"""Figures of the trial layer (matplotlib, Agg backend): selection bars, dose paths, Kaplan-Meier curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_selection(ocs: list[dict[str, Any]], path: str | Path, p_tox=None) -> Path:
    """Grouped bars: % selection per dose for each design (and 'none'), true DLT rates in the labels."""
    plt = _plt()
    k = len(ocs[0]["selection_pct"])
    labels = [f"{j + 1}" + (f"\n(p={p_tox[j]:g})" if p_tox is not None else "") for j in range(k)] + ["none"]
    x = np.arange(k + 1)
    w = 0.8 / len(ocs)
    fig, ax = plt.subplots(figsize=(1.3 * (k + 1) + 2, 3.6))
    for i, oc in enumerate(ocs):
        vals = list(oc["selection_pct"]) + [oc["no_selection_pct"]]
        ax.bar(x + (i - (len(ocs) - 1) / 2) * w, vals, w, label=oc["design"])
    ax.set_xticks(x, labels)
    ax.set_xlabel("dose level")
    ax.set_ylabel("selected as MTD/OBD (% of trials)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_dose_paths(dose_path: np.ndarray, dlt_path: np.ndarray, path: str | Path, n_examples: int = 4,
                    title: str = "") -> Path:
    """Dose given to each enrolled patient in a few simulated trials (x: patient order; crosses: DLTs)."""
    plt = _plt()
    n_ex = min(n_examples, dose_path.shape[0])
    fig, axes = plt.subplots(n_ex, 1, figsize=(7, 1.5 * n_ex + 0.6), sharex=True, squeeze=False)
    for i in range(n_ex):
        ax = axes[i, 0]
        d = dose_path[i]
        m = int(np.count_nonzero(d))
        j = np.arange(1, m + 1)
        ax.step(j, d[:m], where="mid", color="0.6", lw=1)
        tox = dlt_path[i, :m].astype(bool)
        ax.plot(j[~tox], d[:m][~tox], "o", mfc="white", color="C0", ms=4, label="no DLT")
        ax.plot(j[tox], d[:m][tox], "x", color="C3", ms=6, label="DLT")
        ax.set_ylabel(f"trial {i + 1}\ndose")
        ax.set_yticks(range(1, int(dose_path.max()) + 1))
    axes[0, 0].legend(frameon=False, ncol=2, loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("patient (order of enrolment)")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_km(analysis: dict[str, Any], path: str | Path) -> Path:
    """Kaplan-Meier PFS curves per arm from :func:`nksim.trial.multiarm.analyze_arms`."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, a in analysis["arms"].items():
        label = f"{name} (median {a['median_pfs_months']:.1f} mo"
        label += f", HR {a['hazard_ratio']:.2f})" if "hazard_ratio" in a else ")"
        ax.step(a["km_time"], a["km_survival"], where="post", label=label)
    ax.set_xlabel("months")
    ax.set_ylabel("progression-free survival")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"log-rank (all arms) p = {analysis['logrank_all_p']:.3g}")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_dose_transitions(tree: list[dict[str, Any]], path: str | Path, start_dose: int, title: str = "") -> Path:
    """Dose-path flowchart: the dose-transition pathways tree of :func:`nksim.trial.advisor.dose_paths`
    (left to right: cohort outcome 'DLTs/patients' on each edge, next dose in each node; 'stop' ends a path)."""
    plt = _plt()
    leaves: list[tuple[int, dict]] = []

    def count(nodes):
        return sum(max(1, count(n["then"])) for n in nodes) if nodes else 0

    total = max(count(tree), 1)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * total)))
    ax.axis("off")

    edges: list[tuple[Any, Any, dict]] = []  # (parent box, child box, node): lines drawn once boxes have a size

    def draw(nodes, parent, x0, y_lo, y_hi):
        span = (y_hi - y_lo) / max(sum(max(1, count(n["then"])) for n in nodes), 1)
        y = y_lo
        for node in nodes:
            h = span * max(1, count(node["then"]))
            yc = y + h / 2
            label = "stop" if node["next_dose"] is None else f"dose {node['next_dose']}"
            box = ax.text(x0 + 1, yc, label, fontsize=8, ha="left", va="center",
                          bbox={"boxstyle": "round", "fc": "white", "ec": "0.5", "lw": 0.6})
            edges.append((parent, box, node))
            if node["then"]:
                draw(node["then"], box, x0 + 1.6, y, y + h)
            y += h

    root = ax.text(0, total / 2, f"dose {start_dose}", fontsize=9, ha="right", va="center",
                   bbox={"boxstyle": "round", "fc": "0.9", "ec": "0.4"})
    draw(tree, root, 0.05, 0, total)
    ax.set_xlim(-0.8, 4.2)
    ax.set_ylim(-0.5, total + 0.5)
    ax.invert_yaxis()
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.canvas.draw()  # the boxes now have sizes: each line runs from its parent box's right edge to its child's left
    to_data = ax.transData.inverted()
    for parent, child, node in edges:
        (px0, py0), (px1, py1) = to_data.transform(parent.get_bbox_patch().get_window_extent())
        (cx0, cy0), (cx1, cy1) = to_data.transform(child.get_bbox_patch().get_window_extent())
        a, b = (px1, (py0 + py1) / 2), (cx0, (cy0 + cy1) / 2)
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.55", lw=0.8, gid="edge")
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, f"{node['dlts']}/{node['of']}", fontsize=7, ha="center",
                va="bottom", color="C3" if node["dlts"] else "C0")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
