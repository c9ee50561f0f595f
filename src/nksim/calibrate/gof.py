"""Goodness-of-fit plots of a fit (matplotlib PNGs) and the visual predictive check (VPC).

``plot_all(result, folder)`` writes

- ``gof_obs_vs_pred.png``: observed vs population (PRED) and individual (IPRED) predictions;
- ``gof_residuals.png``: CWRES vs time (or E:T) and vs PRED;
- ``gof_individual.png``: each subject's observations with its individual and typical curves (first 12 subjects);
- ``gof_vpc.png``: 5th / 50th / 95th percentiles of the observations per time (E:T) bin over the 90% ranges of the
  same percentiles in ``n_rep`` datasets simulated from the fitted model (between-subject variability and residual
  error; values below the LLOQ set to the LLOQ in both, as the data record them).

BLQ observations are drawn as open triangles at the LLOQ; they enter the fit as censored (M3), not as values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

DVID_LABEL = {0: "% specific lysis"}


def _label(dvid: int) -> str:
    if dvid in DVID_LABEL:
        return DVID_LABEL[dvid]
    from nksim.io.nonmem import OBSERVATIONS

    o = next((o for o in OBSERVATIONS.values() if o.dvid == dvid), None)
    return f"{o.name.replace('_', ' ')} ({o.unit})" if o else f"DVID {dvid}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log(ax, axis: str = "y") -> None:
    """Log axis with plain tick labels (0.5, 1, 2 rather than 5 x 10^-1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    a = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if lo > 0 and hi / lo < 300:  # less than ~2.5 decades: label 1, 2, 5 of each decade
        a.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


def _is_log(res) -> bool:
    return res.data.kind == "nonmem"


def _xlabel(res) -> str:
    return "E:T ratio" if res.data.kind == "assay" else "time since first infusion (d)"


def curves(res, phi_rows: np.ndarray, subjects: Sequence[int], x: np.ndarray, dvid: int) -> list[np.ndarray]:
    """Model values at ``x`` for each row of ``phi_rows`` (transformed scale), row r for subject ``subjects[r]``."""
    theta = res.tr.to_theta(np.atleast_2d(phi_rows))
    m = res.model
    if res.data.kind == "assay":
        out = []
        for r, s in enumerate(subjects):
            h = m._hours[m._rows[s]]
            out.append(m.predict_subject(theta[r], s, x=x, hours=np.full(x.size, h[0] if h.size else np.nan)))
        return out
    return m.predict(theta, list(subjects), times=[x] * len(subjects), dvids=[np.full(x.size, dvid)] * len(subjects))


def plot_obs_vs_pred(res, path: Path) -> Path:
    plt = _plt()
    df = res.predictions
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    log = _is_log(res)
    for ax, col, title in zip(axes, ("PRED", "IPRED"), ("typical values", "individual estimates")):
        for dvid, g in df.groupby("DVID"):
            u = ~g["BLQ"]
            ax.scatter(g.loc[u, col], g.loc[u, "DV"], s=14, alpha=0.7, label=_label(int(dvid)))
            if (~u).any():
                ax.scatter(g.loc[~u, col], g.loc[~u, "LLOQ"], s=22, marker="v", facecolors="none",
                           edgecolors="grey", label="BLQ (at LLOQ)")
        v = np.concatenate([df[col].to_numpy(), df["DV"].to_numpy()])
        v = v[np.isfinite(v) & ((v > 0) if log else True)]
        lo, hi = (v.min() * 0.8, v.max() * 1.25) if log else (min(0, v.min()), v.max() * 1.05)
        ax.plot([lo, hi], [lo, hi], "k-", lw=1)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        if log:
            _plain_log(ax)
            _plain_log(ax, "x")
        ax.set_xlabel(f"{col} ({title})")
        ax.set_ylabel("observed (DV)")
        ax.set_title(f"observed vs {col}")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{res.mode} fit: {', '.join(res.names)}; {res.err.describe()}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_residuals(res, path: Path) -> Path:
    plt = _plt()
    df = res.predictions[~res.predictions["BLQ"]]
    x = res.data.x_name
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, col, lab in ((axes[0], x, _xlabel(res)), (axes[1], "PRED", "PRED")):
        ax.scatter(df[col], df["CWRES"], s=14, alpha=0.7)
        ax.axhline(0, color="k", lw=1)
        for s in (-1.96, 1.96):
            ax.axhline(s, color="grey", ls="--", lw=0.8)
        # binned median: a trend shows a misfit
        xs = df[col].to_numpy(dtype=float)
        ok = np.isfinite(xs) & np.isfinite(df["CWRES"].to_numpy(dtype=float))
        if ok.sum() > 10:
            edges = np.unique(np.quantile(xs[ok], np.linspace(0, 1, 8)))
            idx = np.clip(np.searchsorted(edges, xs[ok], side="right") - 1, 0, len(edges) - 2)
            med = [np.median(df["CWRES"].to_numpy()[ok][idx == b]) for b in range(len(edges) - 1)]
            ctr = [np.median(xs[ok][idx == b]) for b in range(len(edges) - 1)]
            ax.plot(ctr, med, "r-", lw=1.5, label="binned median")
            ax.legend(fontsize=8)
        if col == "PRED" and _is_log(res) or (col == "ET"):
            ax.set_xscale("log")
            _plain_log(ax, "x")
        ax.set_xlabel(lab)
        ax.set_ylabel("CWRES" if res.mode == "population" else "normalized residual (IWRES)")
    axes[0].set_title(f"residuals vs {'E:T' if x == 'ET' else 'time'}")
    axes[1].set_title("residuals vs population prediction")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_individual(res, path: Path, max_subjects: int = 12) -> Path:
    plt = _plt()
    obs = res.predictions
    ids = res.data.ids[:max_subjects]
    n = len(ids)
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.7 * nrow), squeeze=False, sharex=True)
    x_name = res.data.x_name
    xmax = float(obs[x_name].max())
    log = _is_log(res)
    xd = (np.geomspace(max(obs[x_name][obs[x_name] > 0].min() / 2, 1e-3), xmax, 60) if res.data.kind == "assay"
          else np.linspace(0.0, xmax, 113)[1:])
    phi_i = res.phi_ind if res.phi_ind is not None else np.repeat(res.phi[None], len(res.data.ids), axis=0)
    for dvid in res.data.dvids():
        ind = curves(res, phi_i[:n], range(n), xd, dvid)
        typ = curves(res, np.repeat(res.phi[None], n, axis=0), range(n), xd, dvid)
        for k, sid in enumerate(ids):
            ax = axes[k // ncol][k % ncol]
            g = obs[(obs["ID"] == sid) & (obs["DVID"] == dvid)]
            u = ~g["BLQ"]
            ax.plot(g.loc[u, x_name], g.loc[u, "DV"], "o", ms=4, color="C0")
            if (~u).any():
                ax.plot(g.loc[~u, x_name], g.loc[~u, "LLOQ"], "v", ms=5, mfc="none", color="grey")
                ax.axhline(float(g["LLOQ"].max()), color="grey", ls=":", lw=0.8)
            ax.plot(xd, ind[k], "C1-", lw=1.4, label="individual")
            ax.plot(xd, typ[k], "k--", lw=1, label="typical")
            ax.set_title(f"ID {sid}", fontsize=9)
            if log:
                ax.set_yscale("log")
                _plain_log(ax)
            if res.data.kind == "assay":
                ax.set_xscale("log")
                _plain_log(ax, "x")
    for k in range(n, nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.supxlabel(_xlabel(res), fontsize=9)
    fig.supylabel(" / ".join(_label(d) for d in res.data.dvids()), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def vpc_table(res, n_rep: int = 100, seed: int = 0, pct: Sequence[float] = (5, 50, 95)) -> pd.DataFrame:
    """Observed and simulated percentiles per bin of the x variable (time or E:T) and DVID."""
    rng = np.random.default_rng(seed)
    obj = res.objective
    n, k = obj.n_sub, res.phi.size
    if res.omega2 is not None and res.mode in ("population", "individual"):
        sd = np.sqrt(np.where(res.iiv if res.iiv is not None else True, res.omega2, 0.0))
    else:
        sd = np.zeros(k)
    sims = []
    chunk = max(1, 2000 // n)
    for r0 in range(0, n_rep, chunk):
        reps = range(r0, min(n_rep, r0 + chunk))
        phi = np.concatenate([res.phi + sd * rng.standard_normal((n, k)) for _ in reps])
        phi = obj.tr.clip(phi)
        subj = list(range(n)) * len(reps)
        preds = obj.predict(phi, subj)
        for j, rr in enumerate(reps):
            sims.append(np.concatenate(preds[j * n:(j + 1) * n]))
    rows = np.concatenate(obj.rows)
    obs = res.data.obs.iloc[rows].reset_index(drop=True)
    sim = np.array(sims)  # (rep, obs) in the order of rows
    y_sim = res.err.sample(sim, rng)
    lloq = obs["LLOQ"].to_numpy(dtype=float)
    has = np.isfinite(lloq)
    y_sim = np.where(has & (y_sim < np.where(has, lloq, -np.inf)), lloq, y_sim)
    y_obs = np.where(obs["BLQ"].to_numpy(bool), lloq, obs["DV"].to_numpy(dtype=float))
    x = obs[res.data.x_name].to_numpy(dtype=float)
    ux = np.unique(x)
    if ux.size <= 12:
        bins = np.searchsorted(ux, x)
        centers = ux
    else:
        edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
        bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        centers = np.array([np.median(x[bins == b]) for b in range(len(edges) - 1)])
    out = []
    for dvid in np.unique(obs["DVID"]):
        for b, c in enumerate(centers):
            sel = (bins == b) & (obs["DVID"].to_numpy() == dvid)
            if not sel.any():
                continue
            row = {"DVID": int(dvid), "x": float(c), "n": int(sel.sum()),
                   "lloq": float(np.nanmax(lloq[sel])) if has[sel].any() else np.nan}
            for p in pct:
                row[f"obs_p{p:g}"] = float(np.percentile(y_obs[sel], p))
                sp = np.percentile(y_sim[:, sel], p, axis=1)
                row[f"sim_p{p:g}_lo"], row[f"sim_p{p:g}_med"], row[f"sim_p{p:g}_hi"] = np.percentile(sp, [5, 50, 95])
            out.append(row)
    return pd.DataFrame(out)


def plot_vpc(res, path: Path, n_rep: int = 100, seed: int = 0) -> tuple[Path, pd.DataFrame]:
    plt = _plt()
    tab = vpc_table(res, n_rep, seed)
    dvids = sorted(tab["DVID"].unique())
    fig, axes = plt.subplots(1, len(dvids), figsize=(6.4 * len(dvids), 4.6), squeeze=False)
    obs = res.data.obs
    for ax, dvid in zip(axes[0], dvids):
        t = tab[tab["DVID"] == dvid].sort_values("x")
        g = obs[obs["DVID"] == dvid]
        u = ~g["BLQ"]
        ax.plot(g.loc[u, res.data.x_name], g.loc[u, "DV"], ".", color="0.6", ms=4, label="observations")
        for p, col in ((5, "C0"), (50, "C3"), (95, "C0")):
            which = "5th and 95th" if p == 5 else f"{p}th"
            ax.fill_between(t["x"], t[f"sim_p{p}_lo"], t[f"sim_p{p}_hi"], color=col, alpha=0.2,
                            label=f"simulated {which} pct (90% range)" if p != 95 else None)
            ax.plot(t["x"], t[f"sim_p{p}_med"], color=col, lw=1, ls="--",
                    label="simulated percentiles (median)" if p == 50 else None)
            ax.plot(t["x"], t[f"obs_p{p}"], color=col, lw=2, marker="o", ms=3,
                    label=f"observed {which} pct" if p != 95 else None)
        if t["lloq"].notna().any():
            ax.axhline(float(t["lloq"].max()), color="k", ls=":", lw=1, label="LLOQ")
        if _is_log(res):
            ax.set_yscale("log")
            _plain_log(ax)
        if res.data.kind == "assay":
            ax.set_xscale("log")
            _plain_log(ax, "x")
        ax.set_xlabel(_xlabel(res))
        ax.set_ylabel(_label(int(dvid)))
        ax.set_title(f"VPC ({n_rep} simulated datasets, {res.mode} model)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, tab


def plot_all(res, folder: str | Path, n_rep: int | None = None, seed: int = 0) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if n_rep is None:
        n_rep = 100 if res.data.kind == "nonmem" or res.mode == "pooled" else 50
    files = {"gof_obs_vs_pred": plot_obs_vs_pred(res, folder / "gof_obs_vs_pred.png"),
             "gof_residuals": plot_residuals(res, folder / "gof_residuals.png"),
             "gof_individual": plot_individual(res, folder / "gof_individual.png")}
    p, tab = plot_vpc(res, folder / "gof_vpc.png", n_rep=n_rep, seed=seed)
    files["gof_vpc"] = p
    tab.to_csv(folder / "vpc.csv", index=False)
    files["vpc"] = folder / "vpc.csv"
    return files
