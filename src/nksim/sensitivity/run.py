"""A global sensitivity analysis of a scenario: design, evaluation in engine batches (resumable), indices.

``run_sensitivity(scenario, params, outputs, method, n, patients, seed, out)`` samples SALib's design on the unit
cube of the :class:`~nksim.calibrate.space.ParameterSpace`, maps it through the priors' quantile functions
(``from_unit``), evaluates the samples chunk by chunk (:class:`~nksim.sensitivity.evaluate.Evaluator`; each finished
chunk is saved in ``out/chunks`` and a rerun with the same configuration picks up where it stopped) and analyses each
output with SALib. It also evaluates a one-at-a-time swing (each parameter at its prior's 5% and 95% quantiles, the
others at their medians) for the tornado plot. Same seed, same numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from nksim.calibrate.space import ParameterSpace, free
from nksim.errors import InputError
from nksim.registry import load_registry
from nksim.sensitivity.analysis import analyze, check_method, check_n, design, n_rows, rank_key
from nksim.sensitivity.defaults import MAX_DEFAULT, default_param_names
from nksim.sensitivity.evaluate import PATCHED, Evaluator, chunk_size
from nksim.sensitivity.outputs import Output, parse_outputs
from nksim.spec.calibration import OMEGA
from nksim.spec.io import dump_scenario, load_scenario
from nksim.spec.scenario import Scenario
from nksim.version import __version__

SWING = (0.05, 0.95)
DEFAULT_COHORT = 100


@dataclass
class SensitivityResult:
    """``indices``: one row per (output, parameter); ``provenance``: what determines the numbers; ``X`` the unit-cube
    design, ``theta`` the parameter values, ``Y`` the readouts (rows = samples, columns = outputs); ``swing``: the
    one-at-a-time readouts (output -> parameter -> (low, high)) and ``baseline`` (output -> value at the medians)."""

    indices: pd.DataFrame
    provenance: dict[str, Any]
    X: np.ndarray
    theta: np.ndarray
    Y: np.ndarray
    swing: dict[str, dict[str, tuple[float, float]]]
    baseline: dict[str, float]
    out: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.provenance["method"]

    def top(self, output: str, k: int = 3) -> pd.DataFrame:
        key = rank_key(self.method)
        t = self.indices[self.indices["output"] == output]
        if t.empty:
            raise InputError("output", output, f"one of {sorted(self.indices['output'].unique())}")
        return t.sort_values(key, ascending=False).head(k)

    def summary(self, k: int = 3) -> str:
        """Top drivers per output, one line each."""
        key = rank_key(self.method)
        lines = []
        for o in self.provenance["outputs"]:
            name = o["name"]
            note = self.provenance["notes"].get(name, {})
            if note.get("constant"):
                lines.append(f"{name:>14}: constant over the design (value {self.Y[0, self._col(name)]:.4g}): no index")
                continue
            parts = []
            for _, r in self.top(name, k).iterrows():
                ci = r[f"{key}_conf"]
                parts.append(f"{r['parameter']} {r[key]:.2f} (+-{ci:.2f})")
            extra = ""
            if self.method == "sobol":
                t = self.indices[self.indices["output"] == name]
                extra = f"   [sum S1 {t['S1'].sum():.2f}]"
            lines.append(f"{name:>14}: {key} " + ", ".join(parts) + extra)
        return "\n".join(lines)

    def _col(self, name: str) -> int:
        return [o["name"] for o in self.provenance["outputs"]].index(name)


def build_space(scenario: Scenario, params: Sequence[str] | str | None) -> tuple[ParameterSpace, bool]:
    """The parameter space (``params`` by registry name, or the scenario's default set) and whether it is the
    default (which the evaluator may still trim)."""
    reg = load_registry()
    if params is None or (isinstance(params, str) and not params.strip()):
        return ParameterSpace(default_param_names(scenario)), True
    names = [s.strip() for s in params.split(",")] if isinstance(params, str) else [str(s).strip() for s in params]
    names = [s for s in names if s]
    for n in names:
        base = n[len(OMEGA):] if n.startswith(OMEGA) else n
        if base not in reg:
            raise InputError("params", n, f"registry parameter names (or omega2:NAME){reg.suggest(base)}")
        if not n.startswith(OMEGA) and not reg[n].low < reg[n].high:
            raise InputError("params", n, f"a parameter with a range (registry range of {n} is "
                                          f"[{reg[n].low:g}, {reg[n].high:g}]: fixed)")
    if len(names) < 2:
        raise InputError("params", names, "two or more distinct registry parameter names")
    return ParameterSpace([free(n) for n in names]), False


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def run_sensitivity(scenario: Scenario | str, params: Sequence[str] | str | None = None,
                    outputs: Sequence[str] | str = ("orr", "pfs_median"), method: str = "sobol", n: int = 64,
                    patients: int | None = None, seed: int = 0, out: str | Path | None = None,
                    second_order: bool = False, progress: bool | Callable[[int, int], None] = False,
                    plots: bool = True, workers: int | None = None, scheduler: Any = None,
                    chunk_samples: int | None = None) -> SensitivityResult:
    """Global sensitivity of ``outputs`` to ``params`` (see the module docstring). ``patients``: virtual patients
    per sample (default 1 typical patient when every output is continuous, else 100). ``workers`` > 1: chunks of
    samples on a Dask LocalCluster of that many processes; ``scheduler``: on an existing cluster (a
    ``distributed.Client`` or a scheduler address); same numbers as in one process. ``chunk_samples``: samples per
    engine batch and per Dask task (default ~1024 simulated patients per batch; the numbers do not depend on it)."""
    t_start = time.perf_counter()
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    check_method(method)
    n = check_n(method, n)
    outs: list[Output] = parse_outputs(outputs)
    if patients is None:
        patients = 1 if all(o.kind == "continuous" for o in outs) else DEFAULT_COHORT
    if int(seed) < 0:
        raise InputError("seed", seed, "an integer >= 0")
    if workers is not None and int(workers) < 1:
        raise InputError("workers", workers, "an integer >= 1 (Dask worker processes on this machine)")
    if workers is not None and int(workers) > 1 and scheduler is not None:
        raise InputError("workers", workers, "either workers (a cluster on this machine) or scheduler (an existing "
                                             "one), not both")
    if chunk_samples is not None and int(chunk_samples) < 1:
        raise InputError("chunk_samples", chunk_samples, "an integer >= 1 (samples per engine batch)")
    space, is_default = build_space(sc, params)
    ev = Evaluator(sc, space, outs, int(patients), int(seed))
    dropped: dict[str, str] = {}
    if is_default:  # keep parameters that act, through the batched paths
        keep = [p for p in space.params if ev.paths[p.name] in PATCHED][:MAX_DEFAULT]
        for p in space.params:
            if p not in keep:
                dropped[p.name] = ("no effect on this scenario's engine inputs" if ev.paths[p.name] == "none" else
                                   "read from the scenario only (one simulation per sample)"
                                   if ev.paths[p.name] == "scenario" else f"more than {MAX_DEFAULT} defaults")
        space = ParameterSpace(keep)
        ev = Evaluator(sc, space, outs, int(patients), int(seed), paths={p.name: ev.paths[p.name] for p in keep})
    t_setup = time.perf_counter() - t_start

    problem = space.salib_problem()
    X = design(problem, method, n, int(seed), second_order)
    theta = space.from_unit(X)
    config = {
        "scenario": dump_scenario(ev.base), "params": [p.describe() for p in space.params],
        "outputs": [o.name for o in outs], "method": method, "n": n, "patients": int(patients), "seed": int(seed),
        "second_order": bool(second_order), "nksim_version": __version__, "registry_sha256": load_registry().sha256,
    }
    key = _hash(config)
    folder = Path(out) if out is not None else None
    if folder is not None:
        _open_folder(folder, key, config)

    # one-at-a-time swing (tornado): baseline at the medians, each parameter at its 5% / 95% quantiles
    U = np.full((1 + 2 * space.dim, space.dim), 0.5)
    for j in range(space.dim):
        U[1 + 2 * j, j], U[2 + 2 * j, j] = SWING
    t0 = time.perf_counter()
    loaded: list[int] = []
    with ExitStack() as stack:
        if scheduler is None and workers is not None and int(workers) > 1:
            from nksim.scaleout import local_cluster

            scheduler = stack.enter_context(local_cluster(int(workers)))
        n_workers = _n_workers(scheduler)
        Ys = _evaluate_chunked(ev, space.from_unit(U), folder, "swing", None, loaded, scheduler, chunk_samples)
        Y = _evaluate_chunked(ev, theta, folder, "design", progress, loaded, scheduler, chunk_samples)
    t_eval = time.perf_counter() - t0

    rows, notes = [], {}
    for j, o in enumerate(outs):
        table, note = analyze(problem, method, X, Y[:, j], int(seed), second_order)
        table.insert(0, "output", o.name)
        table["no_effect"] = table["parameter"].isin(ev.no_effect)
        table["path"] = table["parameter"].map(ev.paths)
        rows.append(table)
        notes[o.name] = note
    indices = pd.concat(rows, ignore_index=True)
    swing = {o.name: {p: (float(Ys[1 + 2 * j, i]), float(Ys[2 + 2 * j, i])) for j, p in enumerate(space.names)}
             for i, o in enumerate(outs)}
    baseline = {o.name: float(Ys[0, i]) for i, o in enumerate(outs)}
    prov = {
        "scenario": sc.name, "method": method, "n": n, "second_order": bool(second_order),
        "samples": int(len(X)), "patients_per_sample": int(patients),
        "mode": "one typical patient per sample (variability off)" if ev.mode == "typical" else
                f"cohort of {int(patients)} virtual patients per sample (the same patients for every sample)",
        "seed": int(seed), "nksim_version": __version__, "registry_sha256": load_registry().sha256,
        "config_sha256": key,
        "params": [{"name": p.name, "prior": p.prior, "low": p.low, "high": p.high, "center": p.center,
                    "engine_path": ev.paths[p.name]} for p in space.params],
        "outputs": [{"name": o.name, "kind": o.kind, "unit": o.unit, "description": o.description} for o in outs],
        "no_effect": list(ev.no_effect), "dropped_defaults": dropped, "engine_path": ev.path,
        "follow_up_days": ev.follow_up, "notes": notes,
        "confidence": "95% bootstrap half-widths (SALib, 200 resamples)",
        "swing_quantiles": list(SWING),
    }
    evaluated = len(X) + len(U) - sum(loaded)
    timings = {"setup_s": t_setup, "evaluate_s": t_eval, "per_sample_ms": 1e3 * t_eval / max(1, evaluated),
               "samples_evaluated": evaluated, "samples_resumed": sum(loaded),
               "dask_workers": n_workers}
    prov["timings"] = {k: round(v, 3) for k, v in timings.items()}
    res = SensitivityResult(indices, prov, X, theta, Y, swing, baseline, folder, timings)
    if folder is not None:
        _write(res, folder, plots)
    return res


def _n_workers(scheduler: Any) -> int:
    """Dask workers of the cluster (0: this process; -1: an address, not asked)."""
    if scheduler is None:
        return 0
    info = getattr(scheduler, "scheduler_info", None)
    return len(info().get("workers", {})) if callable(info) else -1


def _open_folder(folder: Path, key: str, config: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "config.json"
    if cfg.exists():
        old = json.loads(cfg.read_text(encoding="utf-8"))
        if old.get("config_sha256") != key:
            raise InputError("out", str(folder), "an empty folder or one holding a run of the same configuration "
                                                 "(scenario, params, outputs, method, n, patients, seed): use a new "
                                                 "folder")
        return
    cfg.write_text(json.dumps({"config_sha256": key, **config}, indent=1, default=str), encoding="utf-8")


def _evaluate_chunked(ev: Evaluator, theta: np.ndarray, folder: Path | None, tag: str,
                      progress: bool | Callable[[int, int], None] | None, loaded: list[int],
                      scheduler: Any = None, chunk_samples: int | None = None) -> np.ndarray:
    """Readouts of ``theta`` in chunks of ``chunk_size`` samples: chunks saved in ``folder`` are read back, the
    others evaluated here or, with ``scheduler``, as tasks on a Dask cluster (same numbers: a sample's readouts do
    not depend on its chunk), each saved as it arrives."""
    from nksim.scaleout import run_jobs

    cs = int(chunk_samples) if chunk_samples is not None else chunk_size(ev.patients)
    n = len(theta)
    Y = np.empty((n, len(ev.outputs)))
    bar = _bar(progress, n, ev.patients)
    spans = [(a, min(n, a + cs)) for a in range(0, n, cs)]
    ref: Evaluator | tuple[str, tuple] = ev if scheduler is None else ev_spec(ev)
    jobs, done = {}, 0
    for k, (a, b) in enumerate(spans):
        path = _chunk_path(folder, tag, a, b)
        if path is not None and path.exists():
            Y[a:b] = np.load(path)
            loaded.append(b - a)
            done += b - a
        else:
            jobs[k] = (ref, theta[a:b])
    bar(done, n)
    # here: the next chunk starts on a second thread while this one finishes, so one chunk's Python (patients,
    # engine inputs, readouts) runs while the other's compiled solve (which holds no GIL) uses the cores
    for k, y in run_jobs(evaluate_chunk, jobs, _values, scheduler, overlap=scheduler is None):
        a, b = spans[k]
        Y[a:b] = y
        path = _chunk_path(folder, tag, a, b)
        if path is not None:
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, y)
            tmp.replace(path)
        done += b - a
        bar(done, n)
    return Y


def _chunk_path(folder: Path | None, tag: str, a: int, b: int) -> Path | None:
    return folder / "chunks" / f"{tag}_{a:07d}_{b:07d}.npy" if folder is not None else None


_WORKER_EVALUATOR: dict[str, Evaluator] = {}  # one per worker process: built once, reused by its tasks


def ev_spec(ev: Evaluator) -> tuple[str, tuple]:
    """What a Dask worker needs to build the same evaluator (and a key to cache it by)."""
    spec = (ev.scenario, ev.space, ev.outputs, ev.patients, ev.seed)
    return _hash([dump_scenario(ev.scenario), [p.describe() for p in ev.space.params],
                  [o.name for o in ev.outputs], ev.patients, ev.seed]), spec


def evaluate_chunk(ref: Evaluator | tuple[str, tuple], theta: np.ndarray) -> tuple[np.ndarray, None]:
    """Readouts of one chunk of samples (the unit of work of a Dask task); ``ref``: the evaluator, or its
    ``ev_spec`` (the worker builds it once)."""
    if isinstance(ref, Evaluator):
        return ref.evaluate(theta), None
    key, (scenario, space, outputs, patients, seed) = ref
    ev = _WORKER_EVALUATOR.get(key)
    if ev is None:
        _WORKER_EVALUATOR.clear()
        ev = _WORKER_EVALUATOR[key] = Evaluator(scenario, space, list(outputs), int(patients), int(seed))
    return ev.evaluate(theta), None


def _values(y: np.ndarray, _: None) -> np.ndarray:
    return y


def _bar(progress, n: int, patients: int) -> Callable[[int, int], None]:
    if callable(progress):
        return progress
    if not progress:
        return lambda k, m: None
    from rich.progress import Progress

    prog = Progress(transient=False)
    task = prog.add_task(f"{n} samples x {patients} patient{'s' if patients > 1 else ''}", total=n)
    prog.start()

    def update(k: int, m: int) -> None:
        prog.update(task, completed=k)
        if k >= m:
            prog.stop()

    return update


def _write(res: SensitivityResult, folder: Path, plots: bool) -> None:
    res.indices.to_csv(folder / "indices.csv", index=False)
    samples = pd.DataFrame(res.theta, columns=[p["name"] for p in res.provenance["params"]])
    for j, o in enumerate(res.provenance["outputs"]):
        samples[o["name"]] = res.Y[:, j]
    samples.to_csv(folder / "samples.csv.gz", index=False)
    top = {o["name"]: [{"parameter": r["parameter"], rank_key(res.method): float(r[rank_key(res.method)])}
                       for _, r in res.top(o["name"], 3).iterrows()] for o in res.provenance["outputs"]}
    doc = {**res.provenance, "top_drivers": top, "baseline": res.baseline,
           "swing": {o: {p: list(v) for p, v in d.items()} for o, d in res.swing.items()},
           "indices": json.loads(res.indices.to_json(orient="records"))}
    (folder / "sensitivity.json").write_text(json.dumps(doc, indent=1, default=_json_default), encoding="utf-8")
    if plots:
        from nksim.sensitivity.plots import bar_plot, tornado_plot

        tornado_plot(res, folder / "tornado.png")
        bar_plot(res, folder / f"{res.method}.png")


def _json_default(v: Any):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return str(v)
