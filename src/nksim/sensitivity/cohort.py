"""Cohort readouts of many samples from one engine batch, with common random numbers across samples.

A batch holds ``ns`` samples of the same ``P`` virtual patients (rows ``k * P + i``: sample ``k``, patient ``i``).
The engine solves the whole batch at once; the clinical readouts (``nksim.clinical.outcomes``) are then computed on
the whole batch in blocks, with each row's random readout draws (new-lesion and death thresholds, GvHD, fevers)
keyed by its patient id ``i`` within the sample, not by its row: patient ``i`` gets the same draws in every sample,
exactly as in ``nksim.simulate(space.apply(scenario, theta), n_patients=P)`` (tested equal). Differences between
samples therefore come from the parameters, not from re-drawn noise. The rates and medians of each sample are then
read from (ns, P) arrays, with no per-sample Python work besides the Kaplan-Meier medians.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nksim.clinical.inputs import ReadoutInputs
from nksim.clinical.outcomes import BLOCK, ReadoutSettings, _block_readouts, _joined
from nksim.errors import InputError
from nksim.kinetics import layout as L
from nksim.sensitivity.outputs import EngineArrays, Output, km_median_fast
from nksim.spec.scenario import Scenario


def batch_outcomes(scenario: Scenario, patients: pd.DataFrame, within_ids: np.ndarray, settings: ReadoutSettings,
                   seed: int, settings_of: Sequence[ReadoutSettings] | None = None, P: int | None = None,
                   keep_arrays: bool = False, events_only: bool = False) -> tuple[pd.DataFrame, EngineArrays | None]:
    """Outcome table (rows in the order of ``patients``, index = ``patients.index``) of a batch whose rows are the
    patients ``within_ids`` of their sample, and with ``keep_arrays`` the raw engine arrays (for continuous
    readouts; else the batch is solved into reused buffers keeping only the readout variables). ``settings_of``: one
    ``ReadoutSettings`` per sample (clinical readout parameters that differ between samples; then ``P`` rows per
    sample), else ``settings`` for every row. ``events_only``: the kernel tracks the event times only (response
    and survival readouts; the table then has those columns only, ``outcomes.RESPONSE_COLUMNS``; the same numbers
    as with every tracker). A patient the solver cannot finish is an error naming it (``InputError`` with field
    ``simulation``)."""
    from nksim.clinical.tracked import Plan
    from nksim.engine import solve_summaries, track_plan

    marrow = settings.criteria.name == "ALL-marrow"
    n = len(patients)
    if settings_of is None:
        blocks = [(slice(k, min(n, k + BLOCK)), settings) for k in range(0, n, BLOCK)]
    else:
        P = int(P or 0)
        blocks = [(slice(k * P, (k + 1) * P), s) for k, s in enumerate(settings_of)]
    # the kernel tracks each row's readout summaries with its sample's settings and its within-sample draws
    ids = np.asarray(within_ids, dtype=np.int64)
    t_end = float(scenario.simulation.horizon_d)
    plan = Plan.concat([track_plan(scenario, patients.iloc[sl], t_end, draw_ids=ids[sl], settings=st)
                        for sl, st in blocks])
    if events_only:
        plan = plan.events_only()
    solved = solve_summaries(scenario, patients, None, "compiled",
                             (lambda inp: inp.t_save) if keep_arrays else (lambda _: None), plan=plan)
    inp, stats = solved.inp, solved.stats
    bad = np.flatnonzero(stats[:, 0] != 0)
    if bad.size:
        i = int(bad[0])
        raise InputError("simulation", f"patient {patients.index[i]}",
                         f"a solvable configuration (solver status {int(stats[i, 0])}: step limit/underflow/"
                         "NaN); check extreme parameter overrides")
    arrays = None
    if keep_arrays and solved.kept is not None:
        arrays = EngineArrays(solved.kept[1], solved.kept[2], inp)
    t = solved.t
    spec = settings.spec
    baseline = float(t[0]) if spec.baseline_day is None else float(spec.baseline_day)
    scan_times = np.concatenate([[baseline], settings.scan_days])
    is_target = np.array([bool(inp.params[0, L.NPAR + l * L.NLP + L.LP_TARGET]) for l in range(inp.n_lesions)])
    inputs = ReadoutInputs.from_arrays(ids, t, scan_times, solved.readout, is_target, marrow=marrow,
                                       tracked=solved.tracked)
    cov = patients.join(inp.product_given)
    parts = [_block_readouts(inputs.subset(sl), cov.iloc[sl], st, seed) for sl, st in blocks]
    return pd.DataFrame(_joined(parts), index=patients.index), arrays


def sample_values(table: pd.DataFrame, outputs: Sequence[Output], ns: int, P: int, follow_up: float
                  ) -> np.ndarray:
    """Cohort readouts (ns, outputs) of an outcome table of ``ns`` samples x ``P`` patients (sample-major rows),
    with the definitions of ``nksim.sensitivity.outputs.cohort_values`` (tested equal)."""
    def arr(col: str, dtype=float) -> np.ndarray:
        return table[col].to_numpy(dtype=dtype).reshape(ns, P)

    out = np.full((ns, len(outputs)), np.nan)
    meas = arr("measurable", bool) if "measurable" in table else np.ones((ns, P), dtype=bool)
    n_meas = np.maximum(meas.sum(axis=1), 1)
    bor = table["best_response"].to_numpy(dtype=object).reshape(ns, P) if "best_response" in table else None

    def share(mask: np.ndarray) -> np.ndarray:
        return (mask & meas).sum(axis=1) / n_meas

    for j, o in enumerate(outputs):
        k = o.name
        if k == "orr":
            out[:, j] = share((bor == "CR") | (bor == "PR"))
        elif k == "cr_rate":
            out[:, j] = share(bor == "CR")
        elif k == "dcr":
            out[:, j] = share((bor == "CR") | (bor == "PR") | (bor == "SD"))
        elif k in ("pfs_median", "os_median"):
            stem = k.split("_")[0]
            d, e = arr(f"{stem}_days"), arr(f"{stem}_event", bool)
            out[:, j] = [km_median_fast(d[s], e[s], follow_up) for s in range(ns)]
        elif k in ("crs_any", "crs_ge2", "crs_ge3"):
            g = {"crs_any": 1, "crs_ge2": 2, "crs_ge3": 3}[k]
            out[:, j] = (arr("crs_grade") >= g).mean(axis=1)
        elif k == "icans_any":
            out[:, j] = (arr("icans_grade") >= 1).mean(axis=1)
        elif k == "dlt_rate":
            ev = arr("dlt_evaluable", bool) if "dlt_evaluable" in table else np.ones((ns, P), dtype=bool)
            n_ev = ev.sum(axis=1)
            out[:, j] = np.where(n_ev > 0, (arr("dlt", bool) & ev).sum(axis=1) / np.maximum(n_ev, 1), 0.0)
        elif k == "detected":
            out[:, j] = arr("detected", bool).mean(axis=1)
    return out


def per_sample_settings(readouts, params: Mapping[str, float], names: Sequence[str], theta: np.ndarray
                        ) -> list[ReadoutSettings]:
    """Readout settings of each sample whose clinical readout parameters ``names`` take the values ``theta``
    (samples, len(names))."""
    return [ReadoutSettings.resolve(readouts, {**params, **{n: float(v) for n, v in zip(names, row)}})
            for row in np.atleast_2d(theta)]


__all__ = ["batch_outcomes", "sample_values", "per_sample_settings"]
