"""ABM pictures and per-agent snapshots: tables a PhysiCell user can load (one row per cell, positions in um),
one per stored snapshot, identical after a resume; images with um axes, scale bar, legend, integer kill ticks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from nksim.spatial import pictures as pic  # noqa: E402
from nksim.spatial.cli import app  # noqa: E402
from nksim.spatial.model import Simulation  # noqa: E402
from nksim.spec.spatial import load_spatial_spec, spec_from_dict  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("abm") / "run"
    res = CliRunner().invoke(app, ["run", "hcc-gpc3-car", "--days", "0.25", "--size", "40x40", "--seed", "5",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_per_agent_tables_one_per_snapshot_with_documented_columns(run_dir):
    import xarray as xr

    idx = pd.read_csv(run_dir / "agents" / "snapshots.csv")
    ds = xr.open_dataset(run_dir / "results.nc")
    spec = load_spatial_spec("hcc-gpc3-car")
    import json as _json

    frame_times = _json.loads(str(np.load(run_dir / "checkpoint.npz")["meta"]))["frame_times"]
    assert list(idx["snapshot"]) == list(range(len(frame_times)))  # one table per stored snapshot
    assert np.allclose(idx["time_d"], frame_times)
    last = pd.read_csv(run_dir / "agents" / idx["file"].iloc[-1], keep_default_na=False)
    assert tuple(last.columns) == pic.AGENT_COLUMNS
    assert all(c in (run_dir / "agents" / "README.txt").read_text(encoding="utf-8") for c in pic.AGENT_COLUMNS)
    end = ds.isel(time=-1)
    counts = last["cell_type"].value_counts()
    assert counts.get("nk", 0) == int(end.nk_total) == idx["nk"].iloc[-1]
    assert counts.get("tumor_antigen_pos", 0) == int(end.tumor_antigen_pos)
    assert counts.get("tumor_antigen_neg", 0) == int(end.tumor_antigen_neg)
    assert counts.get("dead_tumor", 0) == int(end.tumor_dead)
    voxel = spec.tissue.voxel_um
    assert last["position_x"].between(0, 40 * voxel).all() and last["position_y"].between(0, 40 * voxel).all()
    assert np.allclose(last["position_z"], voxel / 2)  # 2D lattice: one layer of voxels
    assert last["ID"].is_unique
    nk = last[last["cell_type"] == "nk"]
    assert set(nk["nk_state"]) <= {"search", "conjugated", "detach", "exhausted"} and (nk["nk_kills"] >= 0).all()
    assert float(idx["time_d"].iloc[-1]) == pytest.approx(0.25)


def test_scenario_written_as_yaml_and_json_and_index_page(run_dir):
    import json

    from_yaml = spec_from_dict(yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8")))
    from_json = spec_from_dict(json.loads((run_dir / "scenario.json").read_text(encoding="utf-8")))
    assert from_yaml == from_json and from_yaml.tissue.size == (40, 40)
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    for name in ("snapshot_000.png", "tumor.gif", "fields.png", "depth_profile.png", "kill_histogram.png"):
        assert f"src='{name}'" in page and (run_dir / name).exists()


def test_resumed_run_writes_the_same_agent_tables(tmp_path):
    spec = load_spatial_spec("hcc-gpc3-car").with_updates(**{"tissue.size": (30, 30)})
    whole = Simulation.create(spec, seed=2, days=0.25)
    pic.attach_recorder(whole, tmp_path / "whole")
    whole.run()
    part = Simulation.create(spec, seed=2, days=0.25)
    pic.attach_recorder(part, tmp_path / "part")
    part.run(checkpoint=tmp_path / "part" / "checkpoint.npz", checkpoint_every_steps=2, stop_after_tsteps=5)
    part.save_checkpoint(tmp_path / "part" / "checkpoint.npz")
    resumed = Simulation.resume(tmp_path / "part" / "checkpoint.npz")
    pic.attach_recorder(resumed, tmp_path / "part")
    resumed.run()
    a = pd.read_csv(tmp_path / "whole" / "agents" / "snapshots.csv")
    b = pd.read_csv(tmp_path / "part" / "agents" / "snapshots.csv")
    pd.testing.assert_frame_equal(a, b)
    for f in a["file"]:
        assert (tmp_path / "whole" / "agents" / f).read_text(encoding="utf-8") == (tmp_path / "part" / "agents" / f).read_text(encoding="utf-8")


def test_tissue_picture_has_um_axes_scale_bar_legend_and_every_nk(run_dir):
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    idx = pd.read_csv(run_dir / "agents" / "snapshots.csv")
    agents = pd.read_csv(run_dir / "agents" / idx["file"].iloc[-1], keep_default_na=False)
    spec = load_spatial_spec("hcc-gpc3-car")
    fig = pic.snapshot_figure(agents, (40, 40, 1), spec.tissue.voxel_um, "t")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x (µm)" and ax.get_ylabel() == "y (µm)"
    assert ax.get_xlim() == (0, 40 * spec.tissue.voxel_um)
    assert any(isinstance(a, AnchoredSizeBar) for a in ax.artists)
    drawn = sum(len(c.get_offsets()) for c in ax.collections if (c.get_gid() or "").startswith("nk-"))
    assert drawn == int((agents["cell_type"] == "nk").sum())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(lab.startswith("NK, active") for lab in labels) and "tumor, CAR target +" in labels
    sizes = np.concatenate([c.get_sizes() for c in ax.collections if (c.get_gid() or "").startswith("nk-")])
    assert (np.sqrt(sizes) >= pic.MIN_MARKER_PT - 1e-9).all()  # never a 1-px NK
    plt.close(fig)


def test_kill_histogram_integer_ticks_and_depth_axis_ends_at_the_tumor(run_dir, tmp_path):
    import xarray as xr
    from PIL import Image

    ds = xr.open_dataset(run_dir / "results.nc")
    kd = ds.nk_by_kills.values.copy()
    kd[:4] = [3, 2, 1, 1]
    ds2 = ds.assign(nk_by_kills=("kills", kd))
    pic.write_kill_histogram(ds2, tmp_path / "k.png", 64)
    assert Image.open(tmp_path / "k.png").size[0] > 500
    fig = plt.figure()
    from matplotlib.ticker import MaxNLocator  # the locator the histogram uses: only whole kill counts

    ticks = MaxNLocator(integer=True).tick_values(0, 3)
    assert np.allclose(ticks, np.round(ticks))
    plt.close(fig)
    idx = pd.read_csv(run_dir / "agents" / "snapshots.csv")
    deepest = float(idx["tumor_depth_max_um"].max())
    assert 0 < deepest < float(ds.depth_um.max())
    captured = {}
    orig = plt.Figure.savefig

    def grab(self, *a, **k):
        captured["xlim"] = self.axes[0].get_xlim()
        captured["xlabel"] = self.axes[0].get_xlabel()
        return orig(self, *a, **k)

    plt.Figure.savefig = grab
    try:
        pic.write_depth_png(ds, tmp_path / "d.png", deepest)
    finally:
        plt.Figure.savefig = orig
    assert captured["xlim"][1] == pytest.approx(deepest + 20) and "µm" in captured["xlabel"]
