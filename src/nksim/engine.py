"""The cohort engine: simulate given virtual patients under per-patient overrides, chunk by chunk.

Chunks are independent (a chunk is a set of patient ids), so the same code runs in one process, in threads, or on a
Dask cluster; a patient's numbers never depend on the chunk it falls in, the chunk size or the worker count.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from nksim.version import __version__
from nksim.errors import InputError
from nksim.kinetics.inputs import EngineInputs, build_inputs, check_overrides
from nksim.io.sinks import ChunkSink, MemorySink
from nksim.kinetics.outputs import Outputs, OutputsSpec, merged_grid
from nksim.kinetics.trajectories import readout_arrays, to_dataset
from nksim.population.sampling import sample_with_draws
from nksim.registry import load_registry
from nksim.spec.io import dump_scenario, load_scenario
from nksim.spec.scenario import Scenario

BACKENDS = ("compiled", "reference")
MAX_STEPS = 500_000
SUMMARY_CHUNK = 2048  #: patients per chunk of an ``outputs="summary"`` run without a chunk_size
SINK_CHUNK = 256  #: patients per chunk of a run into a sink (a run folder) or on a cluster, without a chunk_size


class SimulationResult:
    """``trajectories``: xarray Dataset (patient x time [x lesion [x antigen_class]]), units in attrs;
    ``patients``: one row per patient (covariates, product given, solver statistics); ``scenario``: resolved.

    ``trajectories`` may be given as a function returning the Dataset: it is then built on first access (and kept);
    ``simulate``'s default outputs do this (the cohort solved again with the daily grid saved: the same numbers)."""

    def __init__(self, trajectories: xr.Dataset | Callable[[], xr.Dataset], patients: pd.DataFrame,
                 scenario: Scenario, provenance: dict[str, Any] | None = None) -> None:
        self._trajectories = trajectories
        self.patients = patients
        self.scenario = scenario
        self.provenance = {} if provenance is None else provenance

    @property
    def trajectories(self) -> xr.Dataset:
        if not isinstance(self._trajectories, xr.Dataset):
            self._trajectories = self._trajectories()
        return self._trajectories

    @trajectories.setter
    def trajectories(self, value: xr.Dataset) -> None:
        self._trajectories = value

    @property
    def trajectories_loaded(self) -> bool:
        """Whether ``trajectories`` is built already (False: built on first access)."""
        return isinstance(self._trajectories, xr.Dataset)

    @property
    def resolved(self) -> Any:
        """The scenario resolved once (``nksim.clinical.resolved.ResolvedScenario``): parameter typical values,
        readout settings, the response-criteria object and its thresholds / reference lines."""
        from nksim.clinical.resolved import resolve

        return resolve(self.scenario)

    def summary(self, by: str | None = None, bins: Any = None) -> pd.DataFrame:
        """ORR, CR rate, DCR, median PFS/OS, CRS any-grade and >= 3, DLT rate, each with a 95% interval; optionally
        stratified by a patient column (e.g. ``by="antigen_fraction_GPC3", bins=[0, 0.5, 1]``)."""
        from nksim.clinical import summarize

        return summarize(self.patients, by=by, bins=bins)

    def plot(self, kind: str = "waterfall", **kwargs: Any):
        """A matplotlib Figure of the result: ``"spider"``, ``"waterfall"``, ``"swimmer"``, ``"pfs"``, ``"os"``
        (Kaplan-Meier with number at risk) or ``"pk"`` (``variable=``, ``lloq=``, ``blq=``); keywords go to the
        function of :mod:`nksim.plots` that draws it."""
        from nksim.plots import plot_result

        return plot_result(self, kind, **kwargs)

    def __repr__(self) -> str:
        times = self.trajectories.sizes.get("time", 0) if self.trajectories_loaded else "on access"
        return (f"SimulationResult({self.scenario.name!r}, patients={len(self.patients)}, "
                f"times={times}, seed={self.provenance.get('seed')})")


def provenance(scenario: Scenario, backend: str, resolved: str | None = None) -> dict[str, Any]:
    """What fixes a run's numbers. ``resolved``: ``dump_scenario(scenario)`` where the caller has it already."""
    import numba
    import scipy

    return {
        "nksim_version": __version__,
        "seed": scenario.simulation.seed,
        "scenario_name": scenario.name,
        "resolved_scenario": dump_scenario(scenario) if resolved is None else resolved,
        "registry_sha256": load_registry().sha256,
        "backend": backend,
        "rtol": scenario.simulation.rtol,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "numba_version": numba.__version__,
    }


def _slice_overrides(ov: Mapping[str, Any], idx: np.ndarray, n_total: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in ov.items():
        if k == "dosing":  # a table keyed by patient id: every chunk gets all of it
            out[k] = v
            continue
        if k == "regimen" and not hasattr(v, "dose_levels"):
            v = list(v)
            if len(v) != n_total:
                raise InputError("overrides.regimen", f"{len(v)} regimens", f"one Regimen or {n_total} (one per patient)")
            out[k] = [v[i] for i in idx]
            continue
        arr = np.asarray(v) if k != "regimen" else None
        if arr is not None and arr.ndim == 1:
            if arr.shape[0] != n_total:
                raise InputError(f"overrides.{k}", f"{arr.shape[0]} values", f"a scalar or {n_total} values (one per patient)")
            out[k] = arr[idx]
        else:
            out[k] = v
    return out


#: words for the solver's per-patient status codes (nksim.kinetics.integrate.scheduler)
SOLVER_STATUS = {0: "ok", 1: "step limit reached", 2: "step size underflow", 3: "non-finite state (NaN/inf)"}


def solver_message(status: int) -> str:
    """What a per-patient solver status means ('' for a finished solve)."""
    if status == 0:
        return ""
    return f"solver status {status}: {SOLVER_STATUS.get(status, 'failed')}; check extreme parameter values or overrides"


def solve_chunk(scenario: Scenario, patients: pd.DataFrame, overrides: Mapping[str, Any] | None = None,
                backend: str = "compiled", extra_times: Callable[[EngineInputs], np.ndarray | None] | None = None,
                on_failure: str = "raise") -> tuple[EngineInputs, np.ndarray, np.ndarray, np.ndarray]:
    """Engine inputs and raw solver output (states, algebraic outputs, statistics) of one chunk. A patient the
    solver could not finish is an error naming it (``on_failure="raise"``) or, with ``"flag"``, keeps its status
    in ``stats[:, 0]`` with its states and outputs set to NaN. ``extra_times(inputs)``: days saved besides the save
    grid (the rows of the output are then ``union(inputs.t_save, extra_times(inputs))``)."""
    from nksim.kinetics.reference import solve_reference_batch
    from nksim.kinetics.solver import STATUS_OK, solve_batch

    inp = build_inputs(scenario, patients, overrides)
    sim = scenario.simulation
    solver = solve_batch if backend == "compiled" else solve_reference_batch
    extra = None if extra_times is None else extra_times(inp)
    t_save = inp.t_save if extra is None else np.union1d(inp.t_save, extra)
    ys, als, stats = solver(inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a,
                            inp.ev_b, inp.t0, inp.t_end, t_save, sim.rtol, inp.atol,
                            *((MAX_STEPS,) if backend == "compiled" else ()))
    bad = stats[:, 0] != STATUS_OK
    if bad.any() and on_failure == "raise":
        i = int(np.flatnonzero(bad)[0])
        raise InputError("simulation", f"patient {patients.index[i]}",
                         f"a solvable configuration (solver status {int(stats[i, 0])}: step limit/underflow/NaN); "
                         "check extreme parameter overrides")
    if bad.any():
        ys = ys.astype(float, copy=True)
        als = als.astype(float, copy=True)
        ys[bad] = np.nan
        als[bad] = np.nan
    return inp, ys, als, stats


def simulate_chunk(scenario: Scenario, patients: pd.DataFrame, overrides: Mapping[str, Any] | None = None,
                   backend: str = "compiled", with_outcomes: bool = True, outputs: OutputsSpec | None = None,
                   draws: np.ndarray | None = None) -> tuple[xr.Dataset, pd.DataFrame]:
    """Simulate one chunk of given patients; returns (trajectories as ``outputs`` asks, see
    ``nksim.kinetics.outputs``; patient table: covariates, product given, solver statistics and, with
    ``with_outcomes``, the clinical outcomes of ``nksim.clinical.outcomes``, the same whatever ``outputs``).
    ``draws``: the patients' readout draws when the caller has them (``sampling.sample_with_draws``).

    A patient the solver could not finish does not stop the run: its ``solver_status`` is non-zero, its
    ``solver_message`` says why, its trajectories are NaN and its readouts NaN/None (a RuntimeWarning counts them).
    """
    out = Outputs.parse(outputs)
    ids = patients.index.to_numpy()
    def out_times_of(inp: EngineInputs) -> np.ndarray | None:
        t = inp.t_save
        return None if out.lazy else out.times_for(t, _scan_times(scenario, t), float(t[0]), float(t[-1]))

    solved = solve_summaries(scenario, patients, overrides, backend, out_times_of, draws=draws)
    inp, stats = solved.inp, solved.stats
    if solved.kept is None:
        ds = xr.Dataset(coords={"patient": ids})
    else:
        t_out, ys_out, als_out = solved.kept
        ds = to_dataset(ys_out, als_out, inp, ids, out.variables or None, t_save=t_out)
        del ys_out, als_out
    # the table's columns (covariates, product given, solver statistics), the table built once at the end
    given = inp.product_given
    both = patients.columns.intersection(given.columns)
    if len(both):
        raise InputError("patients.columns", list(both), "covariates other than the product given's columns "
                         f"({', '.join(given.columns)})")
    cols: dict[str, np.ndarray] = {k: v.to_numpy() for k, v in patients.items()}
    cols.update((k, v.to_numpy()) for k, v in given.items())
    messages = np.full(len(ids), "", dtype=object)
    failed = np.flatnonzero(stats[:, 0] != 0)
    for i in failed:
        messages[i] = solver_message(int(stats[i, 0]))
    cols.update(solver_steps=stats[:, 1], solver_rejected=stats[:, 2], solver_status=stats[:, 0].astype(np.int64),
                solver_message=messages)
    if failed.size:
        import warnings

        warnings.warn(f"{failed.size} of {len(ids)} patients could not be solved (patient "
                      f"{int(patients.index[failed[0]])}: {solver_message(int(stats[failed[0], 0]))}); their "
                      "trajectories are NaN and their readouts NaN/None (patients.solver_status)", RuntimeWarning,
                      stacklevel=2)
    if with_outcomes:
        return ds, _chunk_outcomes(scenario, solved, ids, cols, stats[:, 0] == 0)
    return ds, pd.DataFrame(cols, index=patients.index)


READOUT_BATCH = 128  #: patients per solver call on the daily grid (its output stays cache-sized)
SUMMARY_OVERLAP = 3  #: chunks in flight in one process with outputs="summary"
READOUT_POINTS = READOUT_BATCH * 371  #: patient x saved-time points per solver call (128 on the daily grid)


def readout_batch(n_times: int) -> int:
    """Patients per solver call when ``n_times`` times are saved: as many as keep the output buffers at the daily
    grid's ``READOUT_BATCH`` patients (the readout days alone: a whole chunk per call, so its threads start once and
    wait for each other once), at least ``READOUT_BATCH``."""
    return max(READOUT_BATCH, READOUT_POINTS // max(int(n_times), 1))


def _marrow(scenario: Scenario) -> bool:
    from nksim.clinical.resolved import resolve

    return resolve(scenario).settings.criteria.name == "ALL-marrow"


def solve_readouts(scenario: Scenario, patients: pd.DataFrame, overrides: Mapping[str, Any] | None, backend: str,
                   out_times_of: Callable[[EngineInputs], np.ndarray | None]
                   ) -> tuple[EngineInputs, dict[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                              np.ndarray]:
    """``solve_summaries`` without the trackers: (engine inputs, the readout variables on the save grid
    (``readout_arrays``), (days, states, algebraic outputs) at ``out_times_of(inputs)`` or None, solver
    statistics), for readouts with the grid definitions."""
    s = solve_summaries(scenario, patients, overrides, backend, out_times_of, track=False)
    return s.inp, s.readout, s.kept, s.stats


@dataclass
class SolvedChunk:
    """A chunk solved for its patient table (``solve_summaries``): engine inputs, the readout variables
    (``readout_arrays``) on the days ``t``, the kernel-tracked summaries (``nksim.clinical.tracked``; None: the
    readouts use ``t`` as their grid), the saved outputs (days, states, algebraic outputs) or None, statistics."""

    inp: EngineInputs
    t: np.ndarray
    readout: dict[str, np.ndarray]
    tracked: dict[str, np.ndarray] | None
    kept: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    stats: np.ndarray
    draws: np.ndarray | None = None  #: the patients' readout draws (``outcomes.patient_draws``), or None


def readout_days(settings: Any, save_grid: np.ndarray) -> np.ndarray:
    """The days the tracked readouts read values at: the first and last saved day, the baseline, the scan days and
    the assay's sample days within the span."""
    lo, hi = float(save_grid[0]), float(save_grid[-1])
    ro = settings.spec
    days = [lo, hi, *(() if ro.baseline_day is None else (float(ro.baseline_day),)), *settings.scan_days,
            *(ro.assay.sample_days or ())]
    d = np.unique(np.asarray(days, dtype=float))
    return d[(d >= lo) & (d <= hi)]


def track_plan(scenario: Scenario, patients: pd.DataFrame, t_end: float, draw_ids: np.ndarray | None = None,
               settings: Any = None, draws: np.ndarray | None = None) -> Any:
    """Tracker rows (``nksim.clinical.tracked.plan``) of the patients with the scenario's readout settings (or
    ``settings``) and readout draws keyed by ``draw_ids`` (the patient ids by default; ``draws``: those draws,
    when the caller has them: ``chunk_draws``)."""
    from nksim.clinical.resolved import resolve
    from nksim.clinical.tracked import plan

    st = resolve(scenario).settings if settings is None else settings
    if draws is None:
        draws = chunk_draws(scenario, patients, draw_ids)
    return plan(st, patients, draws, t_end)


def chunk_draws(scenario: Scenario, patients: pd.DataFrame, draw_ids: np.ndarray | None = None) -> np.ndarray:
    """The readout draws (``nksim.clinical.outcomes.patient_draws``) of the patients, keyed by ``draw_ids`` (the
    patient ids by default) and their draw attempts."""
    from nksim.clinical.outcomes import patient_draws

    ids = patients.index.to_numpy() if draw_ids is None else np.asarray(draw_ids)
    attempts = patients["draw_attempt"].to_numpy() if "draw_attempt" in patients.columns else None
    return patient_draws(scenario.simulation.seed, ids, attempts)


def solve_summaries(scenario: Scenario, patients: pd.DataFrame, overrides: Mapping[str, Any] | None, backend: str,
                    out_times_of: Callable[[EngineInputs], np.ndarray | None], plan: Any = None,
                    track: bool = True, draws: np.ndarray | None = None) -> SolvedChunk:
    """Solve a chunk ``readout_batch(saved times)`` patients at a time for its patient table. With the compiled
    backend the kernel tracks the readouts' summaries of the continuous solution (``plan``: tracker rows,
    ``track_plan(scenario, patients, ...)`` by default) and saves only the readout days (``readout_days``) and
    ``out_times_of(inputs)``; the reference backend saves the save grid and its readouts use it (the grid
    definitions; so do ``track=False`` calls). A patient the solver could not finish has NaN values and its status in ``stats[:, 0]``; the numbers
    do not depend on the batch (patients are independent) or on the saved days. ``draws``: the patients' readout
    draws when the caller has them (drawn here otherwise, once for the plan and the readouts)."""
    from nksim.clinical.resolved import resolve
    from nksim.clinical.tracked import summaries
    from nksim.kinetics.reference import solve_reference_batch
    from nksim.kinetics.solver import output_buffers, solve_batch

    inp = build_inputs(scenario, patients, overrides)
    sim = scenario.simulation
    compiled_ = backend == "compiled"
    tracking = compiled_ and track
    grid = readout_days(resolve(scenario).settings, inp.t_save) if tracking else inp.t_save
    out_times = out_times_of(inp)
    t_all, at_readout, at_out = merged_grid(grid, out_times)
    npat, nl, nc = len(patients), inp.n_lesions, inp.n_classes
    marrow = _marrow(scenario)
    batch = readout_batch(t_all.size) if compiled_ else READOUT_BATCH
    bufs = output_buffers(min(npat, batch), nl, nc, t_all.size) if compiled_ else None
    if tracking and plan is None and draws is None:  # the plan's and the readouts' (drawn once)
        draws = chunk_draws(scenario, patients)
    pl = (track_plan(scenario, patients, inp.t_end, draws=draws) if plan is None else plan) if tracking else None
    tr_out = pl.initial_outputs() if pl is not None else None
    readout: dict[str, np.ndarray] = {}
    stats = np.zeros((npat, 3), dtype=np.int64)
    kept: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for start in range(0, npat, batch):
        r = slice(start, min(npat, start + batch))
        args = (inp.y0[r], inp.params[r], nl, nc, inp.ev_t[r], inp.ev_k[r], inp.ev_a[r], inp.ev_b[r], inp.t0,
                inp.t_end, t_all, sim.rtol, inp.atol)
        if bufs is not None:
            trackers = None if pl is None else pl.track_arrays(inp.params, r, nl, nc, tr_out)
            ys, als, st = solve_batch(*args, MAX_STEPS, out=bufs, track=trackers)
            if trackers is not None:
                tr_out[r] = trackers.out
        else:
            ys, als, st = solve_reference_batch(*args)
        bad = st[:, 0] != 0
        if bad.any():
            ys[bad] = np.nan
            als[bad] = np.nan
        stats[r] = st
        part = readout_arrays(ys[:, at_readout], als[:, at_readout], inp.params[r], nl, nc, marrow=marrow)
        if r.stop - r.start == npat:  # one solver call for the chunk: its arrays are the chunk's
            readout = part
        for k, v in part.items():
            if k not in readout:
                readout[k] = np.empty((npat, *v.shape[1:]))
            if readout[k] is not v:
                readout[k][r] = v
        if out_times is not None:
            if kept is None:
                kept = (t_all[at_out], np.empty((npat, len(out_times), ys.shape[2])),
                        np.empty((npat, len(out_times), als.shape[2])))
            kept[1][r] = ys[:, at_out]
            kept[2][r] = als[:, at_out]
    tracked = summaries(pl, tr_out, inp.t_save) if pl is not None else None
    return SolvedChunk(inp, np.asarray(grid, dtype=float), readout, tracked, kept, stats, draws)


def _chunk_outcomes(scenario: Scenario, solved: SolvedChunk, ids: np.ndarray, covariates: Mapping[str, np.ndarray],
                    ok: np.ndarray) -> pd.DataFrame:
    """The patient table of one chunk: the clinical readouts (``nksim.clinical.outcomes``) from its readout
    variables on its readout days (``readout_arrays``: the numbers ``to_dataset`` gives, without a Dataset) and its
    tracked summaries, then the ``covariates`` (columns in the order of ``ids``)."""
    from nksim.clinical.inputs import ReadoutInputs
    from nksim.clinical.outcomes import _baseline_day, outcomes_from_inputs
    from nksim.clinical.resolved import resolve
    from nksim.kinetics import layout as L

    inp = solved.inp
    settings = resolve(scenario).settings
    t = solved.t
    scan_times = np.concatenate([[_baseline_day(settings.spec, t)], settings.scan_days])
    is_target = np.array([bool(inp.params[0, L.NPAR + l * L.NLP + L.LP_TARGET]) for l in range(inp.n_lesions)])
    inputs = ReadoutInputs.from_arrays(ids, t, scan_times, solved.readout, is_target, ok=ok,
                                       marrow="tsys_marrow_fraction" in solved.readout, tracked=solved.tracked,
                                       draws=solved.draws)
    return outcomes_from_inputs(inputs, covariates, settings, seed=scenario.simulation.seed)


def _scan_times(scenario: Scenario, save_grid: np.ndarray) -> np.ndarray:
    """Baseline (the first saved day unless ``readouts.baseline_day``) and the scan days within the saved span."""
    ro = scenario.resolved_readouts()
    base = float(save_grid[0]) if ro.baseline_day is None else float(ro.baseline_day)
    days = np.asarray(ro.scan_days, dtype=float)
    days = days[(days >= save_grid[0]) & (days <= save_grid[-1])]
    return np.concatenate([[base], days])


def iter_chunks(n: int, chunk_size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, chunk_size):
        yield np.arange(start, min(n, start + chunk_size))


def compute_chunk(scenario: Scenario, ids: np.ndarray, overrides: Mapping[str, Any], backend: str,
                  outputs: Outputs | None = None) -> tuple[xr.Dataset, pd.DataFrame]:
    """Sample and simulate the patients ``ids`` (the unit of work a Dask worker runs)."""
    patients, draws = sample_with_draws(scenario, ids)  # the screen's readout draws, where it draws them
    return simulate_chunk(scenario, patients, overrides, backend, outputs=outputs, draws=draws)


_PAUSE_LOCK = threading.Lock()
_PAUSED = [0]  # simulate calls running (with the objects before the first of them frozen)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Leave the objects that exist before a run (imported modules, compiled code, the caller's data: hundreds of
    thousands after the first import) out of Python's cyclic garbage collector until the run ends
    (``gc.freeze`` / ``gc.unfreeze``; nested and concurrent runs unfreeze at the last exit). Without it, the first
    large run in a process paid for full collections of that heap: ~7 us per patient-year of a 20,000-patient run.
    Garbage made during the run is collected as usual."""
    with _PAUSE_LOCK:
        if _PAUSED[0] == 0:
            gc.freeze()
        _PAUSED[0] += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _PAUSED[0] -= 1
            if _PAUSED[0] == 0:
                gc.unfreeze()


def run_key(scenario: Scenario, n: int, chunk_size: int, backend: str, patient_ids: np.ndarray | None,
            overrides: Mapping[str, Any], outputs: Outputs | None = None, resolved: str | None = None
            ) -> dict[str, Any]:
    """Everything that fixes a run's numbers and its chunks (a resumable sink refuses to mix runs that differ).
    ``resolved``: ``dump_scenario(scenario)`` where the caller has it already."""
    import hashlib
    import pickle

    key: dict[str, Any] = {"scenario": dump_scenario(scenario) if resolved is None else resolved,
                           "chunk_size": chunk_size, "n_patients": n, "backend": backend}
    if outputs is not None and replace(outputs, lazy=False) != Outputs("daily"):
        key["outputs"] = repr(replace(outputs, lazy=False))
    if patient_ids is not None:
        key["patient_ids_sha256"] = hashlib.sha256(np.ascontiguousarray(patient_ids, dtype=np.int64)).hexdigest()
    if overrides:
        try:
            blob = pickle.dumps(dict(sorted(overrides.items())), protocol=4)
        except Exception:  # an override that does not pickle: its text stands in
            blob = repr(sorted(overrides.items())).encode()
        key["overrides_sha256"] = hashlib.sha256(blob).hexdigest()
    return key


def simulate(scenario: Scenario | str, n_patients: int | None = None, seed: int | None = None,
             backend: str = "compiled", chunk_size: int | None = None, overrides: Mapping[str, Any] | None = None,
             patient_ids: np.ndarray | None = None, workers: int | None = None,
             progress: bool | Callable[[int, int], None] = False, arm: str | None = None,
             outputs: OutputsSpec | None = None, sink: ChunkSink | None = None,
             scheduler: Any = None) -> SimulationResult:
    """Simulate a virtual cohort.

    ``scenario``: a Scenario, a built-in name or a YAML path. ``n_patients``/``seed`` override the scenario's.
    ``arm``: one of the scenario's named ``arms`` (its changes applied; ``nksim.compare_arms`` runs them all).
    ``patient_ids``: simulate these patients (same covariates whatever else changes). ``overrides``: per-patient
    dose level, dose, regimen and product attributes (see ``nksim.kinetics.inputs.OVERRIDE_KEYS``); arrays are
    aligned with the patients. ``workers``: threads for the compiled engine (results do not depend on it).
    ``outputs``: what ``.trajectories`` holds: ``"daily"`` (default: every variable on the save grid), ``"scans"``
    (baseline and scan days), ``"summary"`` (none: the patient table only, in chunks of at most
    ``SUMMARY_CHUNK`` patients unless ``chunk_size`` says otherwise, so memory stays O(chunk)), a grid of days, or a
    list of variable names (``nksim.kinetics.outputs``). The patient table is the same whatever ``outputs``.
    ``sink``: where finished chunks go: in memory (default) or ``nksim.io.run_folder.RunFolder(path)`` (compressed
    files, resumable, memory O(chunk), ``SINK_CHUNK`` patients per chunk unless ``chunk_size`` says otherwise;
    ``.trajectories`` then opens lazily from the folder). ``scheduler``: run the
    chunks on a Dask cluster: a ``distributed.Client`` or a scheduler address (same numbers as in one process).
    ``progress``: a bar (True) or a callable ``(chunks done, patients done)``.
    """
    out = Outputs.parse(outputs)
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    sc = sc.with_arm(arm)
    if backend not in BACKENDS:
        raise InputError("backend", backend, f"one of {BACKENDS}")
    sim_update: dict[str, Any] = {}
    if n_patients is not None:
        if not 1 <= int(n_patients) <= 10_000_000:
            raise InputError("n_patients", n_patients, "a whole number in 1..10,000,000")
        sim_update["n_patients"] = int(n_patients)
    if seed is not None:
        if not 0 <= int(seed) < 2**63:
            raise InputError("seed", seed, "a whole number in [0, 2**63)")
        sim_update["seed"] = int(seed)
    if patient_ids is not None:
        sim_update["n_patients"] = len(patient_ids)
    if sim_update:
        sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update=sim_update)})
    ov = check_overrides(overrides)
    ids = np.arange(sc.simulation.n_patients) if patient_ids is None else np.asarray(patient_ids, dtype=np.int64)
    if "dosing" in ov:  # validated once; every patient of the table must be simulated
        from nksim.kinetics.dosing import as_dosing

        ov["dosing"] = as_dosing(ov["dosing"])
        ov["dosing"].check_ids(ids)
    n = len(ids)
    lazy = outputs is None and sink is None and scheduler is None  # default, in memory: trajectories on access
    out = replace(out, lazy=lazy)
    if chunk_size is not None:
        size = int(chunk_size)
    elif out.kind == "summary" or lazy or sink is not None or scheduler is not None:  # memory O(chunk), or tasks
        size = min(n, SUMMARY_CHUNK if out.kind == "summary" or lazy else SINK_CHUNK)
    else:
        size = n
    if size < 1:
        raise InputError("chunk_size", chunk_size, "an integer >= 1")
    if workers is not None:
        if int(workers) < 1:
            raise InputError("workers", workers, "an integer >= 1")
        from nksim.kinetics.solver import set_workers

        set_workers(int(workers))
    sink = MemorySink() if sink is None else sink
    chunks = list(iter_chunks(n, size))
    resolved = dump_scenario(sc)
    todo = sink.open(run_key(sc, n, size, backend, patient_ids, ov, out, resolved), [ids[idx] for idx in chunks])
    jobs = {k: (sc, ids[chunks[k]], _slice_overrides(ov, chunks[k], n), backend, out) for k in todo}
    bar = _progress(progress, len(chunks), n, sc.name)
    done_chunks, done_patients = len(chunks) - len(todo), n - sum(len(chunks[k]) for k in todo)
    if done_chunks:
        bar(done_chunks, done_patients)
    from nksim.scaleout import run_jobs

    with collector_paused():
        try:
            # the next chunk on a second thread: the compiled backend only (scipy's LSODA is not thread-safe) and
            # sinks that say their encode may run on it (OVERLAP_OK: the in-memory sink and the run folder); with
            # outputs="summary" (small chunks) three in flight, so a core is rarely left waiting for one chunk's Python
            overlap = backend == "compiled" and getattr(sink, "OVERLAP_OK", False) and (
                SUMMARY_OVERLAP if out.kind == "summary" else True)
            for k, payload in run_jobs(compute_chunk, jobs, sink.encode, scheduler, workers, overlap=overlap):
                sink.store(k, payload)
                done_chunks, done_patients = done_chunks + 1, done_patients + len(chunks[k])
                bar(done_chunks, done_patients)
        finally:
            bar(-1, done_patients)  # closes a bar
        prov = provenance(sc, backend, resolved)
        prov.update({"chunk_size": size, **sink.stats})
        traj, table = sink.finish(prov)
    if not lazy:
        return SimulationResult(traj, table, sc, prov)

    def daily() -> xr.Dataset:  # the same cohort again, the daily grid saved (the solver's steps do not change)
        again = simulate(sc, backend=backend, chunk_size=size, overrides=overrides, patient_ids=patient_ids,
                         workers=workers, outputs="daily")
        return again.trajectories

    return SimulationResult(daily, table, sc, prov)


def _progress(progress: bool | Callable[[int, int], None], n_chunks: int, n: int,
              name: str = "") -> Callable[[int, int], None]:
    """``update(chunks done, patients done)``; ``update(-1, m)`` closes the bar."""
    if callable(progress):
        return lambda k, m: None if k < 0 else progress(k, m)
    if not progress or n_chunks < 2:
        return lambda k, m: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), transient=False)
    task = prog.add_task(f"{name + ': ' if name else ''}patients", total=n)
    prog.start()

    def update(k: int, m: int) -> None:
        prog.update(task, completed=m)
        if k < 0:
            prog.stop()

    return update
