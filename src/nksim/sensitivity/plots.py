"""Figures of a sensitivity run: a tornado of the one-at-a-time swing and the Sobol (or Morris) index bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_BARS = 15


def _axes(n_out: int, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(2, n_out)
    rows = (n_out + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, height * rows), squeeze=False)
    for ax in axes.flat[n_out:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat[:n_out])


def _who(res) -> str:
    n = res.provenance["patients_per_sample"]
    return "one typical patient per sample" if n == 1 else f"{n} virtual patients per sample"


def _label(o: dict) -> str:
    return f"{o['name']} ({o['unit']})"


def tornado_plot(res, path: str | Path) -> Path:
    """Per output: the readout with each parameter alone at its prior's 5% (blue, upper half-bar) and 95% (orange,
    lower half-bar) quantile, the others at their medians; bars from the baseline, largest swing on top."""
    outs = res.provenance["outputs"]
    k = min(MAX_BARS, len(res.provenance["params"]))
    plt, fig, axes = _axes(len(outs), 0.32 * k + 1.4)
    for ax, o in zip(axes, outs):
        base = res.baseline[o["name"]]
        sw = res.swing[o["name"]]
        order = sorted(sw, key=lambda p: abs(sw[p][1] - sw[p][0]), reverse=True)[:k][::-1]
        y = np.arange(len(order))
        lo = np.array([sw[p][0] for p in order]) - base
        hi = np.array([sw[p][1] for p in order]) - base
        ax.barh(y + 0.2, lo, height=0.4, left=base, color="#4c72b0", label="prior 5% quantile")
        ax.barh(y - 0.2, hi, height=0.4, left=base, color="#dd8452", label="prior 95% quantile")
        ax.axvline(base, color="k", lw=0.8)
        vals = np.r_[base, base + lo, base + hi]
        span = max(float(np.ptp(vals)), 1e-9 * max(1.0, abs(base)))
        ax.set_xlim(vals.min() - 0.08 * span, vals.max() + 0.08 * span)  # the baseline line never on the frame
        ax.set_yticks(y, order, fontsize=8)
        ax.set_xlabel(_label(o), fontsize=9)
        ax.set_title(f"{o['name']}: one at a time (baseline {base:.3g})", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{res.provenance['scenario']}: tornado ({_who(res)})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def bar_plot(res, path: str | Path) -> Path:
    """Sobol: first-order (S1) and total (ST) indices with 95% intervals, parameters by ST; Morris: mu* with its
    interval and sigma."""
    outs = res.provenance["outputs"]
    sobol = res.method == "sobol"
    key = "ST" if sobol else "mu_star"
    k = min(MAX_BARS, len(res.provenance["params"]))
    plt, fig, axes = _axes(len(outs), 0.32 * k + 1.4)
    for ax, o in zip(axes, outs):
        t = res.indices[res.indices["output"] == o["name"]].sort_values(key, ascending=False).head(k)[::-1]
        y = np.arange(len(t))
        if sobol:
            ax.barh(y + 0.2, t["ST"], height=0.4, xerr=t["ST_conf"], color="#c44e52", label="total ST",
                    error_kw={"lw": 0.8})
            ax.barh(y - 0.2, t["S1"], height=0.4, xerr=t["S1_conf"], color="#4c72b0", label="first order S1",
                    error_kw={"lw": 0.8})
            ax.axvline(0, color="k", lw=0.6)
            ax.set_xlim(-0.1, 1.1)  # estimates outside [0, 1] are sampling noise: clipped, value written
            for yy, (s1, st) in enumerate(zip(t["S1"], t["ST"])):
                for off, v in ((0.2, st), (-0.2, s1)):
                    if v > 1.1 or v < -0.1:
                        ax.text(1.08 if v > 0 else -0.08, yy + off, f"{v:.2f}", fontsize=7, va="center",
                                ha="right" if v > 0 else "left")
            ax.set_xlabel("Sobol index (share of output variance)", fontsize=9)
        else:
            ax.barh(y + 0.2, t["mu_star"], height=0.4, xerr=t["mu_star_conf"], color="#c44e52", label="mu*",
                    error_kw={"lw": 0.8})
            ax.barh(y - 0.2, t["sigma"], height=0.4, color="#8172b2", label="sigma")
            ax.set_xlabel(f"elementary effect ({o['unit']} per unit quantile)", fontsize=9)
        ax.set_yticks(y, t["parameter"], fontsize=8)
        ax.set_title(o["name"], fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].legend(fontsize=8, loc="lower right")
    p = res.provenance
    fig.suptitle(f"{p['scenario']}: {res.method} indices (N = {p['n']}, {p['samples']} samples, {_who(res)}); "
                 f"lines = 95% intervals", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
