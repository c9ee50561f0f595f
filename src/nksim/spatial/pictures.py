"""Pictures and per-agent snapshots of an ABM run (drawing only; the model and its checkpoints live elsewhere).

Per-agent snapshots (``agents/agents_<k>.csv``, one per stored snapshot, indexed in ``agents/snapshots.csv``) hold
one row per cell, in the spirit of PhysiCell's cell tables (``pcdl``/MultiCellDS ``position_x/y/z`` in µm):

- ID: lattice cells: voxel index; NK cells: number of voxels + the NK's own id (unique in a file)
- position_x, position_y, position_z: voxel centre in µm (z = voxel_um / 2 on a 2D lattice)
- cell_type: tumor_antigen_pos, tumor_antigen_neg (CAR target present or not), dead_tumor, stroma, vessel, nk
- voxel: flat lattice index (x + nx * (y + ny * z))
- antigens: antigens the tumor cell carries, joined by '+' (empty for other cells)
- nk_state: search, conjugated, detach, exhausted (NK only; empty for other cells)
- nk_kills: kills made so far (NK only; -1 for other cells)
- nk_car: 1 if the NK carries the construct (CAR and its armoring), else 0 (NK only; -1 for other cells)
- nk_competent: 1 if the NK is killing-competent (NK only; -1 for other cells)
- time_d: day of the snapshot

Load one with ``pandas.read_csv(path, keep_default_na=False)``; ``snapshots.csv`` lists snapshot, day, file, the
deepest point of the tumor mass (µm) and the NK count.

Images: tissue with NK drawn on top, axes in um, a scale bar and a legend; NK markers at their true diameter
(NK_DIAMETER_UM) or, where that is under MIN_MARKER_PT points, enlarged (the legend says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from nksim.spatial.params import (DEAD, F_CHEM, F_IL15, F_O2, F_TGF, FIELD_NAMES, FIELD_UNITS, GONE,
                                  STATE_NAMES, STROMA, TUMOR, VESSEL)

NK_DIAMETER_UM = 10.0
MIN_MARKER_PT = 4.0
AGENT_COLUMNS = ("ID", "position_x", "position_y", "position_z", "cell_type", "voxel", "antigens", "nk_state",
                 "nk_kills", "nk_car", "nk_competent", "time_d")
TISSUE_COLORS = {"tumor_antigen_pos": "#d6604d", "tumor_antigen_neg": "#4393c3", "dead_tumor": "#5a5a5a",
                 "stroma": "#ebdec8", "vessel": "#78001e"}
NK_COLORS = {"active": "#00b400", "exhausted": "#ffc800"}
TISSUE_LABELS = {"tumor_antigen_pos": "tumor, CAR target +", "tumor_antigen_neg": "tumor, CAR target -",
                 "dead_tumor": "dead tumor (not cleared)", "stroma": "stroma", "vessel": "vessel"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---- per-agent tables ---------------------------------------------------------------------------------------------

def agents_table(sim) -> pd.DataFrame:
    """One row per cell of the simulation's current state (columns :data:`AGENT_COLUMNS`)."""
    nx, ny, nz = sim.shape
    vox = float(sim.spec.tissue.voxel_um)
    cell, ag = sim.arrays["cell"], sim.arrays["ag"]
    idx = np.flatnonzero(cell != 0)
    c = cell[idx]
    kind = np.full(idx.size, "stroma", dtype=object)
    tum = c == TUMOR
    pos = (ag[idx] & sim.pos_mask) != 0
    kind[tum & pos] = "tumor_antigen_pos"
    kind[tum & ~pos] = "tumor_antigen_neg"
    kind[c == DEAD] = "dead_tumor"
    kind[c == VESSEL] = "vessel"
    kind[c == STROMA] = "stroma"
    names = list(sim.antigen_names)
    codes = ag[idx].astype(np.int64)
    labels = {k: "+".join(n for b, n in enumerate(names) if k >> b & 1) for k in np.unique(codes).tolist()}
    antigens = np.where(tum, [labels[k] for k in codes.tolist()], "")
    n = sim.scalars["n_nk"]
    nk = {k: v[:n] for k, v in sim.nk.items()}
    alive = nk["state"] != GONE
    p = nk["pos"][alive]
    t_d = sim.time_min / 1440.0

    def xyz(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return ((flat % nx + 0.5) * vox, ((flat // nx) % ny + 0.5) * vox, (flat // (nx * ny) + 0.5) * vox)

    tx, ty, tz = xyz(idx)
    nxp, nyp, nzp = xyz(p)
    tissue = pd.DataFrame({"ID": idx, "position_x": tx, "position_y": ty, "position_z": tz, "cell_type": kind,
                           "voxel": idx, "antigens": antigens, "nk_state": "", "nk_kills": -1, "nk_car": -1,
                           "nk_competent": -1, "time_d": t_d})
    cells = pd.DataFrame({"ID": sim.nvox + nk["ids"][alive], "position_x": nxp, "position_y": nyp, "position_z": nzp,
                          "cell_type": "nk", "voxel": p, "antigens": "",
                          "nk_state": np.array(STATE_NAMES, dtype=object)[nk["state"][alive]],
                          "nk_kills": nk["kills"][alive], "nk_car": nk["car"][alive].astype(int),
                          "nk_competent": nk["comp"][alive].astype(int), "time_d": t_d})
    return pd.concat([tissue, cells], ignore_index=True)[list(AGENT_COLUMNS)]


def tumor_depth_max_um(sim) -> float:
    """Deepest point of the tumor mass (um from its margin) now; 0 without a tumor."""
    d = sim._depth()
    return float(d.max()) if d.size and d.max() > 0 else 0.0


class SnapshotRecorder:
    """Writes ``agents/agents_<k>.csv`` and a row of ``agents/snapshots.csv`` at every stored snapshot of a run
    (attach with :func:`attach_recorder`); the index survives a resume (rows past the resumed snapshot are
    rewritten)."""

    def __init__(self, out: Path) -> None:
        self.dir = Path(out) / "agents"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index = self.dir / "snapshots.csv"

    def rows(self) -> pd.DataFrame:
        if self.index.exists():
            return pd.read_csv(self.index)
        return pd.DataFrame(columns=["snapshot", "time_d", "file", "tumor_depth_max_um", "nk"])

    def __call__(self, sim) -> None:
        k = len(sim.frame_times) - 1
        table = agents_table(sim)
        name = f"agents_{k:04d}.csv"
        table.to_csv(self.dir / name, index=False, float_format="%.6g")
        rows = self.rows()
        rows = rows[rows["snapshot"] < k]
        row = pd.DataFrame([{"snapshot": k, "time_d": sim.frame_times[-1], "file": name,
                             "tumor_depth_max_um": tumor_depth_max_um(sim),
                             "nk": int((table["cell_type"] == "nk").sum())}])
        (pd.concat([rows, row], ignore_index=True) if len(rows) else row).to_csv(self.index, index=False)


def attach_recorder(sim, out: Path) -> SnapshotRecorder:
    """Record per-agent snapshots of ``sim`` into ``out/agents`` from now on (and the current state when it has
    not been recorded yet)."""
    rec = SnapshotRecorder(out)
    inner: Callable[[], None] = sim._snapshot

    def snapshot() -> None:
        inner()
        rec(sim)

    sim._snapshot = snapshot
    done = rec.rows()
    if sim.frame_times and not (done["snapshot"] == len(sim.frame_times) - 1).any():
        rec(sim)
    return rec


# ---- drawing -----------------------------------------------------------------------------------------------------

def _marker_pt(ax, extent_um: float) -> tuple[float, bool]:
    """(NK marker diameter in points, enlarged?) for an axes showing ``extent_um`` across."""
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72.0
    true_pt = NK_DIAMETER_UM * width_pt / extent_um
    return max(true_pt, MIN_MARKER_PT), true_pt < MIN_MARKER_PT


def draw_tissue(ax, agents: pd.DataFrame, shape: tuple[int, int, int], voxel_um: float, title: str = "",
                legend: bool = True) -> None:
    """Tissue (middle z slice) as an image in um with the NK cells of that slice on top, a scale bar, a legend."""
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    nx, ny, nz = shape
    zc = (nz // 2 + 0.5) * voxel_um
    sl = agents[np.isclose(agents["position_z"], zc)]
    img = np.ones((ny, nx, 3))
    tissue = sl[sl["cell_type"] != "nk"]
    ix = (tissue["position_x"] / voxel_um - 0.5).round().astype(int).to_numpy()
    iy = (tissue["position_y"] / voxel_um - 0.5).round().astype(int).to_numpy()
    for kind, color in TISSUE_COLORS.items():
        m = (tissue["cell_type"] == kind).to_numpy()
        img[iy[m], ix[m]] = to_rgb(color)
    w, h = nx * voxel_um, ny * voxel_um
    ax.imshow(img, origin="lower", extent=(0, w, 0, h), interpolation="nearest")
    nk = sl[sl["cell_type"] == "nk"]
    size, enlarged = _marker_pt(ax, max(w, h))
    for state, color in (("active", NK_COLORS["active"]), ("exhausted", NK_COLORS["exhausted"])):
        m = (nk["nk_state"] == "exhausted") == (state == "exhausted")
        ax.scatter(nk["position_x"][m], nk["position_y"][m], s=size ** 2, c=color, edgecolors="black",
                   linewidths=0.3, zorder=3, gid=f"nk-{state}")
    bar = 10 ** np.floor(np.log10(w / 4))
    bar = bar * 5 if w / bar >= 10 else (bar * 2 if w / bar >= 5 else bar)
    ax.add_artist(AnchoredSizeBar(ax.transData, bar, f"{bar:g} µm", "lower right", pad=0.4, color="black",
                                  frameon=True, size_vertical=h / 150, fontproperties={"size": 9}))
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        note = (f" (enlarged to be seen: true size {NK_DIAMETER_UM:g} µm)" if enlarged
                else f" ({NK_DIAMETER_UM:g} µm, to scale)")
        handles = [Patch(color=TISSUE_COLORS[k], label=TISSUE_LABELS[k]) for k in TISSUE_COLORS
                   if (tissue["cell_type"] == k).any() or k.startswith("tumor")]
        handles += [Line2D([], [], marker="o", ls="", mfc=NK_COLORS["active"], mec="black", ms=7,
                           label=f"NK, active{note}"),
                    Line2D([], [], marker="o", ls="", mfc=NK_COLORS["exhausted"], mec="black", ms=7,
                           label="NK, exhausted")]
        fig = ax.figure
        for old in list(fig.legends):  # a GIF redraws the same figure
            old.remove()
        if fig.get_layout_engine() is not None:  # constrained layout keeps an "outside" legend in the picture
            fig.legend(handles=handles, fontsize=8, loc="outside right upper", frameon=False)
        else:
            ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


def snapshot_figure(agents: pd.DataFrame, shape, voxel_um: float, title: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.6, 6.0), layout="constrained")
    draw_tissue(ax, agents, shape, voxel_um, title)
    return fig


def write_snapshot_pngs(out: Path, sim, which: list[int]) -> dict[str, str]:
    """snapshot_<k>.png from the recorded per-agent tables (first, middle, last)."""
    plt = _plt()
    rows = SnapshotRecorder(out).rows()
    files = {}
    voxel = float(sim.spec.tissue.voxel_um)
    for k in which:
        hit = rows[rows["snapshot"] == k]
        if hit.empty:
            continue
        agents = pd.read_csv(Path(out) / "agents" / hit["file"].iloc[0], keep_default_na=False)
        dims = "" if sim.spec.tissue.dims == 2 else ", middle z slice"
        fig = snapshot_figure(agents, sim.shape, voxel, f"{sim.spec.name}: day {hit['time_d'].iloc[0]:.2f}{dims}")
        path = Path(out) / f"snapshot_{k:03d}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        files[f"snapshot_{k:03d}"] = str(path)
    return files


def write_gif(sim, path: Path, fps: int = 4) -> Path:
    """Animated GIF of the recorded snapshots (tissue, NK, legend, scale bar, um axes); without recorded per-agent
    tables (a run from the Python API), of the stored raster frames with the same legend and axes."""
    plt = _plt()
    from matplotlib.animation import PillowWriter
    from matplotlib.patches import Patch

    out = Path(path).parent
    rows = SnapshotRecorder(out).rows() if (out / "agents" / "snapshots.csv").exists() else None
    voxel = float(sim.spec.tissue.voxel_um)
    nx, ny, _ = sim.shape
    fig, ax = plt.subplots(figsize=(8.4, 5.0), layout="constrained")
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi=90):
        if rows is not None and len(rows):
            for _, r in rows.sort_values("snapshot").iterrows():
                ax.clear()
                agents = pd.read_csv(out / "agents" / r["file"], keep_default_na=False)
                draw_tissue(ax, agents, sim.shape, voxel, f"{sim.spec.name}: day {r['time_d']:.2f}")
                writer.grab_frame()
        else:
            im = ax.imshow(sim.frames[0], interpolation="nearest", origin="lower", extent=(0, nx * voxel, 0, ny * voxel))
            ax.set(xlabel="x (µm)", ylabel="y (µm)")
            ax.legend(handles=[Patch(color=c, label=TISSUE_LABELS.get(k, k)) for k, c in TISSUE_COLORS.items()]
                      + [Patch(color=NK_COLORS["active"], label="NK, active"),
                         Patch(color=NK_COLORS["exhausted"], label="NK, exhausted")],
                      fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
            for fr, t in zip(sim.frames, sim.frame_times):
                im.set_data(fr)
                ax.set_title(f"{sim.spec.name}: day {t:.2f}", fontsize=10)
                writer.grab_frame()
    plt.close(fig)
    return Path(path)


def write_fields_png(sim, path: Path) -> Path:
    """The four fields on the middle z slice, in um, each with its colorbar and unit."""
    plt = _plt()
    nx, ny, nz = sim.shape
    z = nz // 2
    sl = slice(z * nx * ny, (z + 1) * nx * ny)
    voxel = float(sim.spec.tissue.voxel_um)
    ext = (0, nx * voxel, 0, ny * voxel)
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6), layout="constrained")
    for ax, s in zip(axes, (F_CHEM, F_TGF, F_O2, F_IL15)):
        im = ax.imshow(sim.arrays["F"][s][sl].reshape(ny, nx), origin="lower", cmap="viridis", extent=ext)
        ax.set_title(FIELD_NAMES[s].replace("tgfb", "TGF-beta").replace("il15", "IL-15"), fontsize=10)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        cb = fig.colorbar(im, ax=ax, shrink=0.85)
        cb.set_label(FIELD_UNITS[s], fontsize=9)
    fig.suptitle(f"{sim.spec.name}: fields on day {sim.time_min / 1440.0:.2f}"
                 + ("" if sim.spec.tissue.dims == 2 else f" (middle z slice, z = {(z + 0.5) * voxel:g} µm)"),
                 fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def write_depth_png(ds, path: Path, depth_max_um: float | None) -> Path:
    """NK per voxel by depth from the tumor margin, first/middle/last snapshot, the axis ending at the deepest
    point of the tumor mass (deeper bins hold no tumor voxels)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    dp = ds.nk_density_by_depth
    n = dp.sizes["snapshot_time"]
    depth = ds.depth_um.values
    for i in sorted({0, n // 2, n - 1}):
        ax.plot(depth, dp.isel(snapshot_time=i), marker="o", ms=3, label=f"day {float(ds.snapshot_time[i]):.1f}")
    ax.axvline(0, color="0.4", lw=0.9, ls="--")
    ax.text(0, 1.0, " tumor margin", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="0.3")
    right = depth_max_um if depth_max_um and depth_max_um > 0 else float(depth.max())
    ax.set_xlim(float(depth.min()) - 20, right + 20)
    ax.set(xlabel="depth from tumor margin (µm; < 0 outside, > 0 inside the tumor)", ylabel="NK per voxel",
           title="Infiltration depth profile")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_kill_histogram(ds, path: Path, kill_max_bin: int) -> Path:
    """Share of NK (all ever present) by number of kills, integer ticks; the last bin reads 'or more'."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    kd = ds.nk_by_kills.values
    kmax = int(np.max(np.flatnonzero(kd))) if kd.any() else 1
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    ax.bar(np.arange(kmax + 1), kd[: kmax + 1] / max(1, kd.sum()), color="#5e3c99")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="kills per NK cell" + (f" (last bin: {kill_max_bin} or more)" if kmax >= kill_max_bin else ""),
           ylabel="fraction of NK cells", title=f"Kills per NK cell ({int(kd.sum())} NK ever present)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_index_html(out: Path, files: dict[str, str], title: str) -> Path:
    """index.html in the run folder showing every picture, full width, with what each shows."""
    import html

    order = [k for k in files if k.startswith("snapshot_")] + ["animation", "counts", "fields", "depth_profile",
                                                              "kill_histogram"]
    body = [f"<h1>{html.escape(title)}</h1><p class='note'>Per-agent tables: agents/agents_*.csv "
            f"(columns in agents/README.txt); scenario: scenario.yaml; data: results.nc.</p>"]
    for k in order:
        if k in files and str(files[k]).endswith((".png", ".gif")):
            name = Path(files[k]).name
            body.append(f"<h2>{html.escape(k.replace('_', ' '))}</h2><img src='{name}' alt='{html.escape(k)}'/>")
    css = ("body{font-family:system-ui,sans-serif;max-width:1320px;margin:1.5em auto;padding:0 1.2em;color:#222}"
           "img{max-width:100%;height:auto;display:block}h2{font-size:1.15em;border-bottom:1px solid #ccc}"
           ".note{color:#555}")
    path = Path(out) / "index.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"<style>{css}</style></head><body>{''.join(body)}</body></html>", encoding="utf-8")
    return path


def agents_readme() -> str:
    return (__doc__ or "").split("Images:")[0].strip() + "\n"


__all__ = ["AGENT_COLUMNS", "SnapshotRecorder", "agents_table", "attach_recorder", "draw_tissue",
           "write_depth_png", "write_fields_png", "write_gif", "write_index_html", "write_kill_histogram",
           "write_snapshot_pngs"]
