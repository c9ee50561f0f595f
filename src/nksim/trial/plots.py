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
