"""Evaluate parameter samples through the cohort engine, many samples per engine batch.

A sample is one parameter vector theta. With ``patients=1`` it is one typical patient (between-patient variability
off); otherwise a cohort of the same ``patients`` virtual patients (ids 0..P-1, the same covariate draws for every
sample: common random numbers, so differences between samples come from theta, not from resampled patients).

The honest definition of a sample is ``simulate(space.apply(scenario, theta), patients)``. Four ways to get
there, the fastest that is exact for every free parameter (checked at start, parameter by parameter, on the engine
input arrays; ``Evaluator.paths`` says which and why):

- ``columns``: the engine reads a parameter per patient when the patient table has a column of that name
  (``nksim.kinetics.inputs.build_inputs``), so each sample's patients carry that sample's values as columns (drawn
  covariates are redrawn from the same keyed normals around the sample's typical value) and a whole chunk of
  samples is one engine batch;
- ``resample``: the parameter shapes who is enrolled (an eligibility rule on it, or the clinical screen through
  the tumor's growth, e.g. ``tvdt_d``): the patients of a whole chunk of samples are drawn in one
  ``sample_patients`` call, each candidate carrying its sample's values before it is screened, then batched;
- ``resample_each``: as ``resample``, but the parameter also acts on the draw or the screen in a way columns cannot
  carry (e.g. ``clinical_lethal_burden_cm3``): ``sample_patients`` once per sample from the sample's scenario;
- ``scenario``: the engine reads the parameter from the scenario only; each sample is simulated on its own.

A parameter whose change leaves every engine input unchanged in this scenario (e.g. the growth of a class of tumors
the scenario does not have) is marked ``none`` and listed in ``Evaluator.no_effect``: its indices are zero.

Clinical readout parameters (``clinical_*``) are read by the readouts with each sample's values
(``nksim.sensitivity.cohort``: the readouts of a whole batch in one pass, with common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nksim.calibrate.space import ParameterSpace
from nksim.clinical.outcomes import ReadoutSettings
from nksim.clinical._params import MODULE as CLINICAL_MODULE, SHARED as CLINICAL_SHARED
from nksim.errors import InputError
from nksim.kinetics.inputs import build_inputs
from nksim.population.sampling import MAX_ATTEMPTS, MODULE as POP_MODULE, _draw, _key, _vary, sample_patients
from nksim.population.sampling import typical_values, varying_parameters
from nksim.registry import load_registry
from nksim.rng import keyed_normals
from nksim.sensitivity.outputs import RESPONSE_SURVIVAL, EngineArrays, Output, continuous_values
from nksim.spec.calibration import OMEGA
from nksim.spec.scenario import Scenario

PATHS = ("columns", "resample", "resample_each", "scenario")
PATCHED = ("columns", "resample", "resample_each")  # paths whose values are carried as patient columns
HCC_TVDT = {"hcc_tvdt_rapid_d": "rapid", "hcc_tvdt_intermediate_d": "intermediate", "hcc_tvdt_indolent_d": "indolent"}
CHECK_QUANTILES = (0.1, 0.9)


def prepare_scenario(scenario: Scenario, patients: int, seed: int) -> Scenario:
    """The scenario every sample starts from: ``patients`` patients, ``seed``; variability off for one patient."""
    if int(patients) < 1:
        raise InputError("patients", patients, "an integer >= 1 (1 = one typical patient per sample)")
    if int(seed) < 0:
        raise InputError("seed", seed, "an integer >= 0")
    sim = scenario.simulation.model_copy(update={"n_patients": int(patients), "seed": int(seed)})
    update: dict = {"simulation": sim}
    if int(patients) == 1:
        update["population"] = scenario.population.model_copy(update={"variability": False})
    return scenario.model_copy(update=update)


def _inputs_equal(a, b) -> bool:
    for name in ("y0", "params", "ev_t", "ev_k", "ev_a", "ev_b", "atol", "t_save"):
        x, y = np.asarray(getattr(a, name), dtype=float), np.asarray(getattr(b, name), dtype=float)
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-10, atol=0.0, equal_nan=True):
            return False
    return a.n_lesions == b.n_lesions and a.n_classes == b.n_classes


@dataclass
class Evaluator:
    scenario: Scenario  # as given
    space: ParameterSpace
    outputs: list[Output]
    patients: int = 1
    seed: int = 0
    paths: dict[str, str] = field(default_factory=dict)  # parameter -> path (given ones are not checked again)
    no_effect: list[str] = field(default_factory=list)  # parameters that change nothing this run reads

    def __post_init__(self) -> None:
        self.reg = load_registry()
        self._candidates: dict[int, pd.DataFrame] = {}  # draw attempt -> the P patients' candidates
        self.base = prepare_scenario(self.scenario, self.patients, self.seed)
        self.ids = np.arange(int(self.patients), dtype=np.int64)
        self.mode = "typical" if int(self.patients) == 1 else "cohort"
        if self.mode == "typical":
            bad = [o.name for o in self.outputs if o.kind == "cohort"]
            if bad:
                raise InputError("outputs", bad, "continuous readouts with patients=1 (cohort readouts such as orr "
                                                 "need a cohort: patients >= 2, e.g. 100)")
            bad = [n for n in self.space.names if n.startswith(OMEGA)]
            if bad:
                raise InputError("params", bad, "no between-patient variances with one typical patient "
                                                "(variability is off); use a cohort (patients >= 2)")
        self.base_patients = sample_patients(self.base, self.ids)
        self.base_typ = typical_values(self.base, self.reg)
        self.base_omega = varying_parameters(self.base, self.reg)
        ro = self.base.resolved_readouts()
        self.readouts = ro
        self.readout_params = typical_values(self.base, self.reg)
        self.settings = ReadoutSettings.resolve(ro, self.readout_params, self.base_patients)
        self.follow_up = float(min(ro.follow_up_days, self.base.simulation.horizon_d))
        clinical = set(self.reg.defaults(module=CLINICAL_MODULE)) | set(CLINICAL_SHARED)
        self.clinical = [n for n in self.space.names if n in clinical]
        self.per_sample_readout = self.mode == "cohort" and bool(self.clinical)
        self.base_inputs = build_inputs(self.base, self.base_patients)
        self._classify()

    # ---- patients of a batch of samples -------------------------------------------------------------------
    def _row_values(self, theta: np.ndarray, names: list[str], sample: np.ndarray, draw_ids: np.ndarray
                    ) -> dict[str, np.ndarray]:
        """Per-row values of the non-clinical parameters ``names`` under ``theta`` (samples, dim): row r is a patient
        of sample ``sample[r]`` drawn with the counter ``draw_ids[r]`` (patient id x MAX_ATTEMPTS + attempt), so a
        drawn covariate is redrawn from the same keyed normal around the sample's typical value (as
        ``sample_patients`` draws it)."""
        idx = {n: j for j, n in enumerate(self.space.names)}
        bases = sorted({n[len(OMEGA):] if n.startswith(OMEGA) else n for n in names})
        out: dict[str, np.ndarray] = {}
        n_rows = len(sample)
        for b in bases:
            typ = theta[sample, idx[b]] if b in idx else np.full(n_rows, self.base_typ[b])
            om = theta[sample, idx[OMEGA + b]] if OMEGA + b in idx else np.full(n_rows, self.base_omega.get(b, 0.0))
            if self.mode == "typical" or not np.any(om > 0):
                out[b] = typ.astype(float, copy=True)
                continue
            z = keyed_normals(self.base.simulation.seed, POP_MODULE, draw_ids, _key(b))
            vary = om > 0  # each row's own typical value and variance: elementwise, the bits of a per-sample call
            out[b] = np.where(vary, _vary(typ, np.where(vary, om, 0.0), z, self.reg[b].transform), typ)
        return out

    def _set_columns(self, df: pd.DataFrame, theta: np.ndarray, names: list[str], sample: np.ndarray,
                     draw_ids: np.ndarray, skip_drawn: bool = False) -> None:
        """Write the values of ``names`` into ``df`` (rows as in ``_row_values``); the HCC class doubling times
        also set each patient's ``tvdt_d`` (the doubling time of its class). ``skip_drawn``: leave the columns
        ``df`` already has (drawn from each sample's own scenario)."""
        cols = self._row_values(theta, names, sample, draw_ids)
        for b, v in cols.items():
            if not (skip_drawn and b in df.columns):
                df[b] = v
        hcc = [c for c in HCC_TVDT if c in cols]
        if hcc and not skip_drawn and "growth_class" in df.columns:
            cls = df["growth_class"].to_numpy()
            tv = df["tvdt_d"].to_numpy(dtype=float).copy()
            for c in hcc:
                m = cls == HCC_TVDT[c]
                tv[m] = cols[c][m]
            df["tvdt_d"] = tv

    def batch_patients(self, theta: np.ndarray, start: int = 0, names: list[str] | None = None) -> pd.DataFrame:
        """Patients of samples ``theta`` (samples, dim) as one table, index = sample * P + patient; ``names``: the
        parameters carried as columns (default: every one that reaches the engine)."""
        theta = np.atleast_2d(theta)
        ns, P = len(theta), len(self.ids)
        if names is None:
            names = [n for n in self.space.names if self.paths.get(n) in PATCHED and n not in self.clinical]
        used = {self.paths.get(n) for n in [*names, *self.clinical]}
        sample = np.repeat(np.arange(ns), P)
        within = np.tile(self.ids, ns)
        if "resample_each" in used:  # drawn from each sample's scenario: drawn columns are right, add the others
            df = pd.concat([sample_patients(self.space.apply(self.base, theta[k]), self.ids) for k in range(ns)])
            attempts = df["draw_attempt"].to_numpy(np.int64)
            self._set_columns(df, theta, names, sample, within * np.int64(MAX_ATTEMPTS) + attempts, skip_drawn=True)
        elif "resample" in used:  # one draw for the batch: each candidate gets its sample's values, then screened
            def adjust(frame: pd.DataFrame, rows: np.ndarray) -> None:
                att = frame["draw_attempt"].to_numpy(np.int64)
                self._set_columns(frame, theta, names, rows // P, within[rows] * np.int64(MAX_ATTEMPTS) + att)

            df = sample_patients(self.base, within, adjust=adjust, draw=self._drawn_candidates)
        else:
            df = self.base_patients.iloc[np.tile(np.arange(P), ns)].copy()
            attempts = np.tile(self.base_patients["draw_attempt"].to_numpy(np.int64), ns)
            self._set_columns(df, theta, names, sample, within * np.int64(MAX_ATTEMPTS) + attempts)
        df.index = pd.Index((start + sample) * P + within, name="patient")
        return df

    def _drawn_candidates(self, ids: np.ndarray, attempts: np.ndarray) -> pd.DataFrame:
        """``sampling._draw`` of the base scenario for candidates (within-sample ids, draw attempts): a candidate's
        covariates depend on its (id, attempt) only, so the P patients are drawn once per attempt and every batch
        takes its rows (a sample's parameter values are set on them afterwards, by ``adjust``)."""
        att = np.unique(attempts)
        if att.size != 1:
            return _draw(self.base, ids, attempts, self.reg)
        k = int(att[0])
        frame = self._candidates.get(k)
        if frame is None:
            frame = self._candidates[k] = _draw(self.base, self.ids, np.full(self.ids.size, k, dtype=np.int64),
                                                self.reg)
        return frame.take(ids)

    # ---- which path each parameter can take ---------------------------------------------------------------
    def _honest_inputs(self, theta: np.ndarray):
        sc = self.space.apply(self.base, theta)
        return build_inputs(sc, sample_patients(sc, self.ids))

    def base_values(self) -> np.ndarray:
        """The scenario's own values of the free parameters (typical values; variances of the population)."""
        return np.array([self.base.population.omega2.get(n[len(OMEGA):], self.base_omega.get(n[len(OMEGA):], 0.0))
                         if n.startswith(OMEGA) else self.base_typ[n] for n in self.space.names], dtype=float)

    def _classify(self) -> None:
        """Each parameter alone at its prior's 10% and 90% quantiles (others at the scenario's values): the first
        path whose engine inputs equal the honest ones; no change of the inputs at either = no effect. A parameter
        named in an eligibility rule starts at ``resample`` (redraws may happen only at values the check misses)."""
        base = self.base_values()
        for j, n in enumerate(self.space.names):
            if n in self.paths:  # classified already (each parameter is checked alone, others at their base values)
                if self.paths[n] == "none" and n not in self.no_effect:
                    self.no_effect.append(n)
                continue
            thetas = []
            for q in CHECK_QUANTILES:
                th = base.copy()
                th[j] = self.space.params[j].distribution().ppf(q)
                thetas.append(th)
            if n in self.clinical and self.mode == "cohort":
                # read by the readouts (per-sample settings); some also screen who is enrolled (e.g. the lethal
                # burden): then each sample's patients are drawn from its scenario
                redrawn = any(not sample_patients(self.space.apply(self.base, th), self.ids).equals(
                    self.base_patients) for th in thetas)
                self.paths[n] = "resample_each" if redrawn else "columns"
                continue
            ths = [(th, self._honest_inputs(th)) for th in thetas]
            if all(_inputs_equal(h, self.base_inputs) for _, h in ths):
                self.paths[n] = "none"  # changes nothing the engine reads in this scenario
                self.no_effect.append(n)
                continue
            # a parameter an eligibility rule reads decides who is redrawn: never carried as a column only
            ruled = {r[0] for r in self.base.population.parsed_rules()}
            base_name = n[len(OMEGA):] if n.startswith(OMEGA) else n
            path = "resample" if base_name in ruled else "columns"
            for th, honest in ths:
                while path != "scenario":
                    self.paths[n] = path
                    fast = build_inputs(self.base, self.batch_patients(th[None, :], names=[n]).set_axis(
                        pd.Index(self.ids, name="patient")))
                    if _inputs_equal(honest, fast):
                        break
                    path = PATHS[PATHS.index(path) + 1]
            self.paths[n] = path

    @property
    def path(self) -> str:
        """The path of the run: the slowest any parameter needs."""
        used = [self.paths[n] for n in self.space.names if self.paths[n] in PATHS]
        return max(used, key=PATHS.index, default="columns")

    # ---- evaluation ----------------------------------------------------------------------------------------
    def evaluate(self, theta: np.ndarray, start: int = 0) -> np.ndarray:
        """Readouts (samples, outputs) of parameter vectors ``theta`` (samples, dim)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        ns = len(theta)
        if self.path == "scenario":  # each sample is its own scenario: one engine call per sample
            rows = []
            for k in range(ns):
                sc = self.space.apply(self.base, theta[k])
                rows.append(self._batch(sc, sample_patients(sc, self.ids), theta[k:k + 1]))
            return np.vstack(rows)
        return self._batch(self.base, self.batch_patients(theta, start), theta)

    def _batch(self, sc: Scenario, patients: pd.DataFrame, theta: np.ndarray) -> np.ndarray:
        """Readouts of the samples ``theta`` whose patients (sample-major rows) are ``patients``."""
        from nksim.sensitivity.cohort import batch_outcomes, per_sample_settings, sample_values

        ns, P = len(theta), len(self.ids)
        Y = np.full((ns, len(self.outputs)), np.nan)
        cont = [j for j, o in enumerate(self.outputs) if o.kind == "continuous"]
        cohort = [j for j, o in enumerate(self.outputs) if o.kind == "cohort"]
        try:
            if cohort:
                settings_of = None
                if self.per_sample_readout:
                    cols = [self.space.names.index(n) for n in self.clinical]
                    settings_of = per_sample_settings(self.readouts, self.readout_params, self.clinical,
                                                      theta[:, cols])
                events = all(self.outputs[j].name in RESPONSE_SURVIVAL for j in cohort)
                table, arrays = batch_outcomes(sc, patients, np.tile(self.ids, ns), self.settings,
                                               int(self.base.simulation.seed), settings_of, P, keep_arrays=bool(cont),
                                               events_only=events)
                Y[:, cohort] = sample_values(table, [self.outputs[j] for j in cohort], ns, P, self.follow_up)
            else:  # continuous readouts only: the engine arrays, no Dataset, no clinical readouts
                arrays = _solve_arrays(sc, patients)
        except InputError as exc:
            if exc.field != "simulation":
                raise
            pid = int(str(exc.value).split()[-1])
            k = (pid // P) % ns if ns > 1 else 0
            raise InputError("sample", self.space.as_dict(theta[k]),
                             f"parameter values the engine can solve ({exc.allowed}); narrow the bounds") from None
        if cont:
            vals = continuous_values(arrays, [self.outputs[j] for j in cont])
            for j in cont:
                v = vals[self.outputs[j].name].reshape(ns, P)
                Y[:, j] = v[:, 0] if P == 1 else np.median(v, axis=1)
        return Y


def _solve_arrays(scenario: Scenario, patients: pd.DataFrame, with_outcomes: bool = False) -> EngineArrays:
    """``nksim.engine.simulate_chunk`` up to the solver, returning the raw arrays (the continuous readouts need 4
    of the Dataset's 44 variables)."""
    from nksim.engine import solve_chunk

    inp, ys, als, _ = solve_chunk(scenario, patients)
    return EngineArrays(ys, als, inp)


def chunk_size(patients: int) -> int:
    """Samples per engine batch: ~1024 simulated patients per batch (memory ~ 0.2 GB at a daily save grid)."""
    return max(1, 1024 // max(1, int(patients)))


__all__ = ["Evaluator", "prepare_scenario", "chunk_size", "PATHS"]
