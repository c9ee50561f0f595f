"""Run folder of an ABM run: NetCDF dataset, PNG snapshots, animated GIF, kill histogram, depth profile, summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml



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

    from nksim.spatial import pictures as pic
    from nksim.spatial.model import KILL_HIST_MAX

    files["kill_histogram"] = str(pic.write_kill_histogram(ds, out / "kill_histogram.png", KILL_HIST_MAX))
    recorder = pic.SnapshotRecorder(out)
    rows = recorder.rows()
    if sim.frames and not (rows["snapshot"] == len(sim.frame_times) - 1).any():
        recorder(sim)  # a run without a recorder attached (Python API): the final state at least
        rows = recorder.rows()
    if "nk_density_by_depth" in ds:
        deepest = float(rows["tumor_depth_max_um"].max()) if len(rows) else pic.tumor_depth_max_um(sim)
        files["depth_profile"] = str(pic.write_depth_png(ds, out / "depth_profile.png", deepest))
    if sim.frames:
        last = len(sim.frames) - 1
        files.update(pic.write_snapshot_pngs(out, sim, sorted({0, last // 2, last})))
        files["animation"] = str(pic.write_gif(sim, out / "tumor.gif"))
    (out / "agents" / "README.txt").write_text(pic.agents_readme(), encoding="utf-8")
    files["agents"] = str(out / "agents")
    if sim.spec.fields.enabled:
        files["fields"] = str(pic.write_fields_png(sim, out / "fields.png"))

    summary = summarize(ds)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    spec_dict = sim.spec.model_dump(mode="json")
    (out / "scenario.json").write_text(json.dumps(spec_dict, indent=2), encoding="utf-8")  # kept for readers of earlier runs
    (out / "scenario.yaml").write_text(yaml.safe_dump(spec_dict, sort_keys=False), encoding="utf-8")  # as cohort runs write it
    files["scenario"] = str(out / "scenario.yaml")
    files["summary"] = str(out / "summary.json")
    from nksim.registry import load_registry

    prov = {"model": "nksim.spatial", "seed": sim.seed, "days": sim.days, "registry_sha256": load_registry().sha256,
            "netcdf_engine": files["netcdf_engine"], "agent_updates": sim.agent_updates(),
            "timings_s": vars(sim.timings), "lattice": list(sim.shape), "steps_done": dict(sim.scalars)}
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str), encoding="utf-8")
    files["index"] = str(pic.write_index_html(out, files, f"nksim abm run: {sim.spec.name}, seed {sim.seed}"))
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
    """Animated GIF of the run's snapshots with legend, scale bar and um axes (nksim.spatial.pictures)."""
    from nksim.spatial.pictures import write_gif as write

    return write(sim, path, fps)


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
        "fraction_nk_no_kill": float((kills == 0).mean()) if n else None,  # null: no NK to count
        "mean_kills_of_killers": float(killers.mean()) if killers.size else 0.0,
        "share_of_kills_by_top20pct_nk": float(top),
        "agent_updates": int(ds.attrs.get("agent_updates", 0)),
    }
