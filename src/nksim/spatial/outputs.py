"""Run folder of an ABM run: NetCDF dataset, PNG snapshots, animated GIF, kill histogram, depth profile, summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nksim.spatial.params import F_O2, F_TGF, F_CHEM, F_IL15, FIELD_NAMES, FIELD_UNITS


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_outputs(sim, out: Path) -> dict[str, str]:
    """Write every output of a finished (or checkpointed) simulation into ``out``; returns name -> path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plt = _plt()
    ds = sim.dataset()
    files: dict[str, str] = {}
    nc = out / "results.nc"
    files["dataset"] = str(nc)
    files["netcdf_engine"] = save_dataset(ds, nc)
    t = ds.time.values

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    ax.plot(t, ds.tumor_antigen_pos, color="#d6604d", label="tumor antigen+")
    ax.plot(t, ds.tumor_antigen_neg, color="#4393c3", label="tumor antigen-")
    ax.plot(t, ds.tumor_dead, color="0.4", label="dead (not cleared)")
    ax.set(xlabel="day", ylabel="cells", title="tumor")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(t, ds.nk_functional, color="green", label="functional")
    ax.plot(t, ds.nk_exhausted, color="orange", label="exhausted")
    ax.plot(t, ds.nk_in_tumor, color="purple", label="in tumor")
    ax.set(xlabel="day", ylabel="NK cells", title="NK")
    ax.legend(fontsize=8)
    ax = axes[2]
    for name, col in (("kills_car", "#b2182b"), ("kills_nat", "#2166ac"), ("kills_adcc", "#1b7837")):
        ax.plot(t, ds[name], color=col, label=name.replace("kills_", ""))
    ax.set(xlabel="day", ylabel="cumulative kills", title="kills by pathway")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "counts.png", dpi=110)
    plt.close(fig)
    files["counts"] = str(out / "counts.png")

    kd = ds.nk_by_kills.values
    kmax = int(np.max(np.flatnonzero(kd))) if kd.any() else 1
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(np.arange(kmax + 1), kd[: kmax + 1] / max(1, kd.sum()), color="#5e3c99")
    ax.set(xlabel="kills per NK cell", ylabel="fraction of NK", title="per-NK kill count")
    fig.tight_layout()
    fig.savefig(out / "kill_histogram.png", dpi=110)
    plt.close(fig)
    files["kill_histogram"] = str(out / "kill_histogram.png")

    if "nk_density_by_depth" in ds:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        dp = ds.nk_density_by_depth
        idx = sorted(set([0, dp.sizes["snapshot_time"] // 2, dp.sizes["snapshot_time"] - 1]))
        for i in idx:
            ax.plot(ds.depth_um, dp.isel(snapshot_time=i), label=f"day {float(ds.snapshot_time[i]):.1f}")
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set(xlabel="depth from tumor margin (um)", ylabel="NK per voxel", title="infiltration depth profile")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "depth_profile.png", dpi=110)
        plt.close(fig)
        files["depth_profile"] = str(out / "depth_profile.png")

    if sim.frames:
        for i in sorted(set([0, len(sim.frames) // 2, len(sim.frames) - 1])):
            fig, ax = plt.subplots(figsize=(5, 5))
            ax.imshow(sim.frames[i], interpolation="nearest", origin="lower")
            ax.set_title(f"{sim.spec.name} day {sim.frame_times[i]:.2f}\nred Ag+, blue Ag-, grey dead, "
                         "green NK, yellow exhausted", fontsize=8)
            ax.axis("off")
            fig.savefig(out / f"snapshot_{i:03d}.png", dpi=110, bbox_inches="tight")
            plt.close(fig)
            files[f"snapshot_{i:03d}"] = str(out / f"snapshot_{i:03d}.png")
        files["animation"] = str(write_gif(sim, out / "tumor.gif"))

    if sim.spec.fields.enabled:
        nx, ny, nz = sim.shape
        z = nz // 2
        sl = slice(z * nx * ny, (z + 1) * nx * ny)
        fig, axes = plt.subplots(1, 4, figsize=(16, 4))
        for ax, s in zip(axes, (F_CHEM, F_TGF, F_O2, F_IL15)):
            im = ax.imshow(sim.arrays["F"][s][sl].reshape(ny, nx), origin="lower", cmap="viridis")
            ax.set_title(f"{FIELD_NAMES[s]} ({FIELD_UNITS[s]})", fontsize=9)
            ax.axis("off")
            fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        fig.savefig(out / "fields.png", dpi=100)
        plt.close(fig)
        files["fields"] = str(out / "fields.png")

    summary = summarize(ds)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "scenario.json").write_text(json.dumps(sim.spec.model_dump(mode="json"), indent=2))
    files["summary"] = str(out / "summary.json")
    from nksim.registry import load_registry

    prov = {"model": "nksim.spatial", "seed": sim.seed, "days": sim.days, "registry_sha256": load_registry().sha256,
            "netcdf_engine": files["netcdf_engine"], "agent_updates": sim.agent_updates(),
            "timings_s": vars(sim.timings), "lattice": list(sim.shape), "steps_done": dict(sim.scalars)}
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
    return files


def save_dataset(ds, path: Path) -> str:
    """NetCDF with the h5netcdf engine; where h5py is missing, netCDF3 via scipy (same variables); returns engine."""
    try:
        ds.to_netcdf(path, engine="h5netcdf")
        return "h5netcdf"
    except ImportError:
        d = ds.copy()
        for name in list(d.variables):
            if d[name].dtype.kind in "iu":
                d[name] = d[name].astype("int32")
        d.attrs = {k: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v)
                   for k, v in d.attrs.items()}
        d.attrs["agent_updates"] = float(ds.attrs.get("agent_updates", 0))
        d.to_netcdf(path, engine="scipy")
        return "scipy (netCDF3; h5py not installed)"


def write_gif(sim, path: Path, fps: int = 4) -> Path:
    """Animated GIF of the stored frames (matplotlib PillowWriter)."""
    plt = _plt()
    from matplotlib.animation import PillowWriter

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.axis("off")
    im = ax.imshow(sim.frames[0], interpolation="nearest", origin="lower")
    title = ax.set_title("")
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi=80):
        for fr, t in zip(sim.frames, sim.frame_times):
            im.set_data(fr)
            title.set_text(f"{sim.spec.name}  day {t:.2f}")
            writer.grab_frame()
    plt.close(fig)
    return path


def summarize(ds) -> dict:
    """Headline numbers of a run."""
    last = ds.isel(time=-1)
    kd = ds.nk_by_kills.values
    n = kd.sum()
    kills = np.repeat(np.arange(kd.size), kd)
    killers = kills[kills > 0]
    top = np.sort(kills)[::-1][: max(1, int(0.2 * n))].sum() / max(1, kills.sum())
    return {
        "scenario": ds.attrs.get("scenario"), "seed": int(ds.attrs.get("seed", 0)), "days": float(ds.time[-1]),
        "tumor_antigen_pos_start": float(ds.tumor_antigen_pos[0]), "tumor_antigen_pos_end": float(last.tumor_antigen_pos),
        "tumor_antigen_neg_start": float(ds.tumor_antigen_neg[0]), "tumor_antigen_neg_end": float(last.tumor_antigen_neg),
        "kills_car": float(last.kills_car), "kills_nat": float(last.kills_nat), "kills_adcc": float(last.kills_adcc),
        "nk_entered": float(last.nk_entered), "nk_infiltrated": float(last.nk_infiltrated),
        "nk_alive_end": float(last.nk_total), "nk_exhausted_end": float(last.nk_exhausted),
        "fraction_nk_no_kill": float((kills == 0).mean()) if n else float("nan"),
        "mean_kills_of_killers": float(killers.mean()) if killers.size else 0.0,
        "share_of_kills_by_top20pct_nk": float(top),
        "agent_updates": int(ds.attrs.get("agent_updates", 0)),
    }
