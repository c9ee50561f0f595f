"""The spatial ABM: state, multi-rate time loop, records, snapshots and exact checkpoint / resume.

Multi-rate scheme: NK agents advance on dt_nk (minutes); fields on dt_field (Douglas ADI); tumor cells, records
and checkpoints on dt_tumor. Order within a field step: fields -> NK entry -> n_sub NK steps; a tumor step follows
every dt_tumor / dt_field field steps.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nksim.errors import InputError
from nksim.rng import stream
from nksim.spatial import fields as fld
from nksim.spatial import kernels as kr
from nksim.spatial.params import (
    CONJ, COUNTER_NAMES, DEAD, EXHAUSTED, F_IL15, F_O2, F_TGF, FIELD_NAMES, GONE, K_NKUPD, K_TUPD, RELEASE,
    SEARCH, STROMA, TUMOR, VESSEL, config_vector, field_coefficients, nk_parameters, resolve_values, antigen_masks,
)
from nksim.spatial.params import RECORD_NAMES as RECORD_NAMES  # defined beside COUNTER_NAMES; kept importable here
from nksim.spatial.results import to_dataset
from nksim.spatial.tissue import build_tissue, depth_map, lattice_shape, tumor_mask
from nksim.spec.spatial import MAX_ABM_DAYS, SpatialSpec, spec_from_dict

KILL_HIST_MAX = 64
NK_ARRAYS = {"pos": np.int64, "state": np.int8, "ids": np.int64, "comp": np.uint8, "car": np.uint8,
             "budget": np.int32, "kills": np.int32, "target": np.int64, "reached": np.uint8}
DEPTH_BIN_UM = 40.0


@dataclass
class Timings:
    fields_s: float = 0.0
    nk_s: float = 0.0
    tumor_s: float = 0.0
    other_s: float = 0.0


@dataclass
class Simulation:
    """One ABM run. Build with :meth:`Simulation.create`, run with :meth:`run`, or :meth:`resume` a checkpoint."""

    spec: SpatialSpec
    seed: int
    days: float
    arrays: dict[str, np.ndarray]
    nk: dict[str, np.ndarray]
    scalars: dict[str, int]
    records: list[list[float]] = field(default_factory=list)
    depth_profiles: list[np.ndarray] = field(default_factory=list)
    depth_times: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    checkpoint_every: int = 24  # tumor steps between checkpoints (kept in the checkpoint for `abm resume`)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, spec: SpatialSpec, seed: int = 0, days: float | None = None) -> "Simulation":
        if seed < 0:
            raise InputError("seed", seed, "a non-negative integer")
        days = spec.time.days if days is None else float(days)
        if not 0 < days <= MAX_ABM_DAYS:
            raise InputError("days", days, f"a number of days in (0, {MAX_ABM_DAYS:g}]")
        shape = lattice_shape(spec)
        nvox = int(np.prod(shape))
        cell, ag = build_tissue(spec, seed)
        arrays = {"cell": cell, "ag": ag, "engaged": np.zeros(nvox, np.uint8), "nk_occ": np.zeros(nvox, np.uint8),
                  "F": np.zeros((4, nvox)), "counters": np.zeros(len(COUNTER_NAMES), np.int64),
                  "kill_hist": np.zeros(KILL_HIST_MAX + 1, np.int64)}
        cap = max(1024, 2 * spec.nk.initial_nk)
        nk = {k: np.zeros(cap, dt) for k, dt in NK_ARRAYS.items()}
        sim = cls(spec, int(seed), days, arrays, nk, {"n_nk": 0, "next_id": 1, "fstep": 0, "tstep": 0})
        sim._setup()
        sim._init_fields()
        sim._seed_initial_nk()
        sim._record()
        sim._snapshot()
        return sim

    def _setup(self) -> None:
        spec = self.spec
        self.shape = lattice_shape(spec)
        self.nvox = int(np.prod(self.shape))
        self.values = resolve_values(spec)
        self.p = nk_parameters(spec, self.values)
        self.cfg = config_vector(spec, self.seed)
        self.diff, self.table = field_coefficients(spec, self.values)
        self.antigen_names, self.car_mask, self.adcc_mask = antigen_masks(spec)
        self.pos_mask = self.car_mask if self.car_mask else (1 if self.antigen_names else 0)
        self.vessels = np.flatnonzero(self.arrays["cell"] == VESSEL).astype(np.int64)
        t = spec.time
        self.n_sub = int(round(t.dt_field_min / t.dt_nk_min))
        self.f_per_t = int(round(t.dt_tumor_min / t.dt_field_min))
        self.t_per_rec = int(round(t.record_every_min / t.dt_tumor_min))
        self.total_fsteps = int(round(self.days * 1440.0 / t.dt_field_min))
        n_t = max(1, self.total_fsteps // self.f_per_t)
        self.snap_every = max(1, n_t // max(1, t.snapshots)) if t.snapshots else 0
        # secreted IL-15 of one armored NK into its voxel (pg/mL/min), from the kinetic model's s_arm (pg/cell/d)
        self.il15_secretion = self.values["s_arm"] / (spec.tissue.voxel_um ** 3 * 1e-12) / 1440.0
        # NK kernel: parallel x-bands on large tissue lattices, one-by-one otherwise (both deterministic)
        banded = (spec.time.nk_parallel_bands and spec.mode == "tissue" and self.shape[0] >= 2 * kr.BAND_WIDTH)
        self._nk_kernel = kr.nk_steps_banded if banded else kr.nk_steps
        self.fresh = np.zeros(self.nvox, np.uint8)
        self.newborn = np.zeros(self.nvox, np.int64)
        self.depth_um = None
        self.depth_tstep = -1

    def _extra_sources(self) -> np.ndarray:
        extra = np.zeros((4, self.nvox))
        if self.spec.product.il15 == "secreted":
            n = self.scalars["n_nk"]
            alive = (self.nk["state"][:n] != GONE) & (self.nk["car"][:n] == 1)
            np.add.at(extra[F_IL15], self.nk["pos"][:n][alive], self.il15_secretion)
        return extra

    def _init_fields(self) -> None:
        F = self.arrays["F"]
        if self.spec.fields.enabled:
            fld.steady_fields(F, self.arrays["cell"], self._extra_sources(), self.diff, self.table,
                              self.spec.tissue.voxel_um, self.shape)
        else:
            F[:] = 0.0
            F[F_O2] = self.values["abm_o2_blood_mmhg"]
            F[F_IL15] = self.spec.fields.il15_systemic_pg_ml

    def _seed_initial_nk(self) -> None:
        n0 = self.spec.nk.initial_nk
        if n0 == 0:
            return
        cell = self.arrays["cell"]
        ok = cell != VESSEL
        place = self.spec.nk.initial_placement
        if place != "uniform" and self.spec.mode == "tissue":
            inside = tumor_mask(self.spec)
            ok &= inside if place == "tumor" else ~inside
        idx = np.flatnonzero(ok)
        if idx.size < n0:
            raise InputError("nk.initial_nk", n0, f"at most {idx.size} (free voxels for this placement)")
        rng = stream(self.seed, "spatial.nk_seed")
        cand = np.sort(rng.choice(idx, size=n0, replace=False)).astype(np.int64)
        rng.shuffle(cand)
        self._ensure_capacity(n0)
        nk = self.nk
        n, nid = kr.seed_nk(cand, self.scalars["n_nk"], self.scalars["next_id"], nk["pos"], nk["state"], nk["ids"],
                            nk["comp"], nk["car"], nk["budget"], nk["kills"], nk["target"], nk["reached"],
                            self.arrays["nk_occ"], cell, self.p, self.cfg, self.arrays["counters"])
        self.scalars["n_nk"], self.scalars["next_id"] = int(n), int(nid)
        self._sort_nk()

    def _sort_nk(self) -> None:
        """Order agents by voxel (stable) for memory locality; deterministic, so resume stays exact."""
        n = self.scalars["n_nk"]
        if n < 4096:
            return
        pos = self.nk["pos"][:n]
        key = ((pos % self.shape[0]) // kr.BAND_WIDTH) * self.nvox + pos  # band-major: threads own contiguous slices
        order = np.argsort(key, kind="stable")
        for k, a in self.nk.items():
            a[:n] = a[:n][order]

    def _ensure_capacity(self, extra: int) -> None:
        need = self.scalars["n_nk"] + extra
        cap = self.nk["pos"].shape[0]
        if need > cap:
            new = max(need, 2 * cap)
            for k, a in self.nk.items():
                b = np.zeros(new, a.dtype)
                b[:cap] = a
                self.nk[k] = b

    # ------------------------------------------------------------------ time loop
    def blood_level(self, t_day: float) -> float:
        nk = self.spec.nk
        return float(np.interp(t_day, nk.blood_times_d, nk.blood_nk_per_ul))

    def run(self, checkpoint: Path | None = None, checkpoint_every_steps: int = 0,
            progress: Callable[[float], None] | None = None, stop_after_tsteps: int | None = None) -> "Simulation":
        """Advance to the end (or stop after a number of tumor steps, for tests); checkpoint every N tumor steps."""
        a, nk, sc = self.arrays, self.nk, self.scalars
        t = self.spec.time
        dt_f = t.dt_field_min
        if checkpoint is not None:
            self.checkpoint_every = int(checkpoint_every_steps)
        rate_v = self.values["abm_entry_per_vessel_day"]
        gain = self.values["abm_entry_chemo_gain"] if self.spec.receptor_matches() else 0.0
        done_t = 0
        while sc["fstep"] < self.total_fsteps:
            t0 = time.perf_counter()
            if self.spec.fields.enabled:
                fld.field_step(a["F"], a["cell"], self._extra_sources(), self.diff, self.table, dt_f,
                               self.spec.tissue.voxel_um, self.shape)
            t1 = time.perf_counter()
            blood = self.blood_level(sc["fstep"] * dt_f / 1440.0)
            if blood > 0 and self.vessels.size and rate_v > 0:
                self._ensure_capacity(6 * self.vessels.size)
                n, nid = kr.nk_entry(sc["fstep"], dt_f, rate_v * blood, gain, self.vessels, sc["n_nk"],
                                     nk["pos"].shape[0], nk["pos"], nk["state"], nk["ids"], nk["comp"], nk["car"],
                                     nk["budget"], nk["kills"], nk["target"], nk["reached"], sc["next_id"],
                                     a["cell"], a["nk_occ"], a["F"], self.p, self.cfg, a["counters"])
                sc["n_nk"], sc["next_id"] = int(n), int(nid)
            self._nk_kernel(self.n_sub, sc["fstep"] * self.n_sub, sc["n_nk"], nk["pos"], nk["state"], nk["ids"],
                        nk["comp"], nk["car"], nk["budget"], nk["kills"], nk["target"], nk["reached"], a["cell"],
                        a["ag"], a["engaged"], a["nk_occ"], a["F"], self.p, self.cfg, a["counters"])
            t2 = time.perf_counter()
            sc["fstep"] += 1
            self.timings.fields_s += t1 - t0
            self.timings.nk_s += t2 - t1
            if sc["fstep"] % self.f_per_t == 0:
                t3 = time.perf_counter()
                v = self.values
                kr.tumor_step(sc["tstep"], t.dt_tumor_min, a["cell"], a["ag"], a["engaged"], self.fresh,
                              self.newborn, a["F"], self.spec.fields.enabled,
                              v["abm_tumor_div_per_day"] * self.spec.tumor.proliferation_scale, v["abm_k_o2_div_mmhg"],
                              v["abm_o2_necrosis_mmhg"], v["abm_necrosis_per_day"], v["abm_dead_clear_per_day"],
                              self.cfg, a["counters"])
                sc["tstep"] += 1
                sc["n_nk"] = int(kr.compact(sc["n_nk"], nk["pos"], nk["state"], nk["ids"], nk["comp"], nk["car"],
                                            nk["budget"], nk["kills"], nk["target"], nk["reached"], a["kill_hist"]))
                self._sort_nk()
                t4 = time.perf_counter()
                self.timings.tumor_s += t4 - t3
                if sc["tstep"] % self.t_per_rec == 0 or sc["fstep"] >= self.total_fsteps:
                    self._record()
                if self.snap_every and (sc["tstep"] % self.snap_every == 0 or sc["fstep"] >= self.total_fsteps):
                    self._snapshot()
                self.timings.other_s += time.perf_counter() - t4
                done_t += 1
                if checkpoint is not None and checkpoint_every_steps and sc["tstep"] % checkpoint_every_steps == 0:
                    self.save_checkpoint(checkpoint)
                if progress is not None:
                    progress(sc["fstep"] / self.total_fsteps)
                if stop_after_tsteps is not None and done_t >= stop_after_tsteps:
                    return self
        if self.records and abs(self.records[-1][0] - self.time_min / 1440.0) > 1e-12:
            self._record()
            if self.snap_every:
                self._snapshot()
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return self

    # ------------------------------------------------------------------ observation
    @property
    def time_min(self) -> float:
        return self.scalars["fstep"] * self.spec.time.dt_field_min

    def _depth(self) -> np.ndarray:
        if self.depth_tstep != self.scalars["tstep"]:
            self.depth_um = depth_map(self.arrays["cell"], self.shape, self.spec.tissue.voxel_um)
            self.depth_tstep = self.scalars["tstep"]
        return self.depth_um

    def _record(self) -> None:
        a, nk = self.arrays, self.nk
        n = self.scalars["n_nk"]
        cell, ag, F = a["cell"], a["ag"], a["F"]
        tum = cell == TUMOR
        pos_ = tum & ((ag & self.pos_mask) != 0)
        st = nk["state"][:n]
        alive = st != GONE
        comp = nk["comp"][:n] == 1
        in_tumor = 0
        if n:
            in_tumor = int(np.count_nonzero(alive & ((cell[nk["pos"][:n]] == TUMOR) | (cell[nk["pos"][:n]] == DEAD))))
        ntum = max(1, int(tum.sum()))
        rec = [self.time_min / 1440.0, int(pos_.sum()), int((tum & ~pos_).sum()), int((cell == DEAD).sum()),
               int(alive.sum()), int((st == SEARCH).sum()), int((st == CONJ).sum()), int((st == RELEASE).sum()),
               int((st == EXHAUSTED).sum()), int((alive & (st != EXHAUSTED)).sum()),
               int((alive & comp & (st != EXHAUSTED)).sum()), in_tumor,
               float(F[F_TGF][tum].sum() / ntum), float((F[F_O2][tum] < self.values["abm_hypoxia_mmhg"]).sum() / ntum),
               float(F[F_IL15][tum].sum() / ntum)]
        lesion = alive & comp & (nk["reached"][:n] == 1)
        rec += [int((lesion & (st != EXHAUSTED)).sum()), int((lesion & (st == EXHAUSTED)).sum()),
                int(tum.sum() + (cell == DEAD).sum())]
        rec += [int(c) for c in a["counters"]]
        self.records.append(rec)

    def depth_profile(self) -> np.ndarray:
        """NK per voxel by depth from the tumor margin (bins of DEPTH_BIN_UM, from -200 um to the core)."""
        depth = self._depth()
        n = self.scalars["n_nk"]
        alive = self.nk["state"][:n] != GONE
        edges = self.depth_edges()
        vox = np.histogram(depth, edges)[0]
        nkh = np.histogram(depth[self.nk["pos"][:n][alive]], edges)[0]
        return nkh / np.maximum(vox, 1)

    def depth_edges(self) -> np.ndarray:
        half = max(self.shape[: self.spec.tissue.dims]) * self.spec.tissue.voxel_um / 2.0
        return np.arange(-200.0, half + DEPTH_BIN_UM, DEPTH_BIN_UM)

    def image(self, max_px: int = 300) -> np.ndarray:
        """RGB image of the lattice (2D, or the middle z slice in 3D) with NK drawn on top."""
        nx, ny, nz = self.shape
        a = self.arrays
        zmid = nz // 2
        sl = slice(zmid * nx * ny, (zmid + 1) * nx * ny)
        cell = a["cell"][sl].reshape(ny, nx)
        ag = a["ag"][sl].reshape(ny, nx)
        img = np.full((ny, nx, 3), 255, np.uint8)
        img[cell == STROMA] = (235, 222, 200)
        tum = cell == TUMOR
        posm = (ag & self.pos_mask) != 0
        img[tum & posm] = (214, 96, 77)
        img[tum & ~posm] = (67, 147, 195)
        img[cell == DEAD] = (90, 90, 90)
        img[cell == VESSEL] = (120, 0, 30)
        n = self.scalars["n_nk"]
        p = self.nk["pos"][:n]
        st = self.nk["state"][:n]
        inz = (p // (nx * ny)) == zmid
        for mask, col in (((st != EXHAUSTED) & (st != GONE) & inz, (0, 200, 0)), ((st == EXHAUSTED) & inz, (255, 200, 0))):
            q = p[mask] % (nx * ny)
            img[q // nx, q % nx] = col
        step = max(1, int(np.ceil(max(nx, ny) / max_px)))
        return img[::step, ::step].copy()

    def _snapshot(self) -> None:
        self.frames.append(self.image())
        self.frame_times.append(self.time_min / 1440.0)
        if self.spec.mode == "tissue":
            self.depth_profiles.append(self.depth_profile())
            self.depth_times.append(self.time_min / 1440.0)

    def kill_distribution(self) -> np.ndarray:
        """Number of NK (dead or alive, ever present) by kills made, 0..KILL_HIST_MAX (last bin: or more)."""
        h = self.arrays["kill_hist"].copy()
        n = self.scalars["n_nk"]
        k = np.minimum(self.nk["kills"][:n], KILL_HIST_MAX)
        h += np.bincount(k, minlength=KILL_HIST_MAX + 1)
        return h

    def per_nk(self) -> dict[str, np.ndarray]:
        n = self.scalars["n_nk"]
        return {k: v[:n].copy() for k, v in self.nk.items()}

    def agent_updates(self) -> int:
        c = self.arrays["counters"]
        return int(c[K_NKUPD] + c[K_TUPD])

    def dataset(self):
        return to_dataset(self)

    # ------------------------------------------------------------------ checkpoint / resume
    def save_checkpoint(self, path: Path) -> None:
        """Full state (cells, agents, fields, counters, step counters; draws are counter-based) to one .npz."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        n = self.scalars["n_nk"]
        payload = {f"a_{k}": v for k, v in self.arrays.items()}
        payload.update({f"nk_{k}": v[:n] for k, v in self.nk.items()})
        payload["scalars"] = np.array([self.scalars[k] for k in ("n_nk", "next_id", "fstep", "tstep")], np.int64)
        payload["meta"] = np.array(json.dumps({"spec": self.spec.model_dump(mode="json"), "seed": self.seed,
                                               "days": self.days, "depth_times": self.depth_times,
                                               "frame_times": self.frame_times,
                                               "checkpoint_every": self.checkpoint_every}))
        payload["records"] = np.array(self.records, dtype=np.float64)
        payload["depth_profiles"] = np.array(self.depth_profiles) if self.depth_profiles else np.zeros((0, 0))
        payload["frames"] = np.array(self.frames) if self.frames else np.zeros((0, 0, 0, 3), np.uint8)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **payload)
        tmp.replace(path)

    @staticmethod
    def checkpoint_meta(path: Path) -> dict:
        """The run settings a checkpoint holds (spec, seed, days, checkpoint cadence); InputError when it is
        missing or damaged."""
        return _read_checkpoint(Path(path))[1]

    @classmethod
    def resume(cls, path: Path) -> "Simulation":
        """The simulation saved in ``path``; InputError naming the file when it is missing or damaged."""
        path = Path(path)
        z, meta = _read_checkpoint(path)
        spec = spec_from_dict(meta["spec"], where=str(path))
        try:
            arrays = {k[2:]: z[k].copy() for k in z.files if k.startswith("a_")}
            s = z["scalars"]
            scalars = {"n_nk": int(s[0]), "next_id": int(s[1]), "fstep": int(s[2]), "tstep": int(s[3])}
            nk = {}
            cap = max(1024, 2 * scalars["n_nk"])
            for k, dt in NK_ARRAYS.items():
                b = np.zeros(cap, dt)
                b[: scalars["n_nk"]] = z[f"nk_{k}"]
                nk[k] = b
            sim = cls(spec, int(meta["seed"]), float(meta["days"]), arrays, nk, scalars)
            sim.records = [list(r) for r in z["records"]]
            sim.depth_profiles = list(z["depth_profiles"]) if z["depth_profiles"].size else []
            sim.depth_times = list(meta["depth_times"])
            sim.frames = list(z["frames"]) if z["frames"].size else []
            sim.frame_times = list(meta["frame_times"])
            sim.checkpoint_every = int(meta.get("checkpoint_every", 24))
            sim._setup()
        except Exception as exc:  # noqa: BLE001 - zipfile, zlib and numpy raise many types for a damaged file
            raise _damaged(path, exc) from None
        if sim.arrays.get("cell") is None or sim.arrays["cell"].size != sim.nvox:
            raise _damaged(path, ValueError("lattice size"))
        return sim


def _damaged(path: Path, exc: BaseException) -> InputError:
    return InputError("checkpoint", str(path), f"a complete checkpoint.npz (this one is damaged: "
                      f"{exc.__class__.__name__}; run `nksim abm run` again into a new folder)")


def _read_checkpoint(path: Path) -> tuple[Any, dict]:
    """(the open .npz, its metadata) of a checkpoint, or InputError naming the file."""
    import zipfile

    if not path.is_file():
        raise InputError("checkpoint", str(path), "an existing checkpoint.npz written by `nksim abm run`")
    try:
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        if not isinstance(meta, dict) or not {"spec", "seed", "days"} <= set(meta):
            raise ValueError("metadata")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged(path, exc) from None
    return z, meta


def simulate(spec: SpatialSpec, seed: int = 0, days: float | None = None, **run_kwargs):
    """Run one ABM simulation and return its xarray Dataset."""
    return Simulation.create(spec, seed=seed, days=days).run(**run_kwargs).dataset()
