"""Virtual patients: covariates and between-patient variability, drawn from keyed random streams.

Every draw of patient ``pid`` is keyed by (seed, "population", pid, parameter, lesion, attempt), so a patient is the
same patient whatever the chunking, worker count, order or dose. Eligibility is applied by redrawing an ineligible
patient with the next attempt counter, i.e. patients are drawn from the eligible population.

Variability: a registry parameter with ``iiv_omega2`` varies between patients on its transform scale (log-normal for
"log", logit-normal for "logit", normal for "linear"), around a typical value = registry default, then scenario
``parameters``, then product ``parameters``, then population ``covariates``.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from nksim.errors import InputError
from nksim.registry import Registry, load_registry
from nksim.rng import id_hashes, normals_of, uniforms_of
from nksim.spec.scenario import Scenario

MAX_ATTEMPTS = 200
MODULE = "population"


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


_TYPICAL: dict[int, tuple[Scenario, Registry, dict[str, float]]] = {}
_TYPICAL_LOCK = threading.Lock()


def typical_values(scenario: Scenario, registry: Registry | None = None) -> dict[str, float]:
    """Registry defaults with the scenario's, the product's and the population's overrides (names checked).

    Resolved once per (scenario, registry) object pair (both immutable; a fresh copy is returned each call), so the
    engine, readouts, report and trials share one resolution (``nksim.clinical.resolved``)."""
    reg = registry or load_registry()
    hit = _TYPICAL.get(id(scenario))
    if hit is not None and hit[0] is scenario and hit[1] is reg:
        return dict(hit[2])
    values = _typical_values(scenario, reg)
    with _TYPICAL_LOCK:  # chunks run on two threads (overlap): evict and insert as one step
        if len(_TYPICAL) >= 64:
            _TYPICAL.pop(next(iter(_TYPICAL)))
        _TYPICAL[id(scenario)] = (scenario, reg, values)
    return dict(values)


def _typical_values(scenario: Scenario, reg: Registry) -> dict[str, float]:
    values = reg.resolve(scenario.parameters, where="parameters")
    # the malignant share of a lesion's cells is the indication's (malignant_fraction_<indication> when the registry
    # has one, e.g. Hodgkin lymphoma) unless the scenario or population sets malignant_fraction itself
    own = f"malignant_fraction_{scenario.tumor.indication}"
    if own in reg and "malignant_fraction" not in scenario.parameters:
        values["malignant_fraction"] = values[own]
    for where, extra in (("product.parameters", scenario.product.parameters),
                         ("population.covariates", scenario.population.covariates)):
        for name, v in reg.resolve(extra, where=where).items():
            if name in extra:
                values[name] = v
    for name in scenario.population.omega2:
        if name not in reg:
            raise InputError(f"population.omega2.{name}", scenario.population.omega2[name],
                             f"a registry parameter name{reg.suggest(name)}")
    return values


def varying_parameters(scenario: Scenario, registry: Registry | None = None) -> dict[str, float]:
    """Parameter name -> omega^2 for every parameter that varies between patients in this scenario."""
    reg = registry or load_registry()
    if not scenario.population.variability:
        return {}
    out = dict(reg.iiv_omega2)
    out.update(scenario.population.omega2)
    return {n: w for n, w in out.items() if w and w > 0}


def _vary(typical: float | np.ndarray, omega2: float | np.ndarray, z: np.ndarray, transform: str) -> np.ndarray:
    """Values around ``typical`` with variance ``omega2`` on the transform's scale for standard normals ``z``
    (elementwise: ``typical`` and ``omega2`` may be arrays like ``z``)."""
    sd = np.sqrt(omega2)
    if transform == "log":
        return typical * np.exp(sd * z)
    if transform == "logit":
        t = np.clip(typical, 1e-9, 1 - 1e-9)
        return expit(logit(t) + sd * z)
    return typical + sd * z * abs(typical)


def _draw(scenario: Scenario, ids: np.ndarray, attempt: np.ndarray, reg: Registry) -> pd.DataFrame:
    """The candidates' covariates (``draw_columns``) as a table indexed by patient id."""
    return pd.DataFrame(draw_columns(scenario, ids, attempt, reg), index=pd.Index(ids, name="patient"))


def draw_columns(scenario: Scenario, ids: np.ndarray, attempt: np.ndarray, reg: Registry) -> dict[str, np.ndarray]:
    """The covariates of candidates (patient ids, draw attempts), column by column (text columns as object
    arrays), before the eligibility rules and the screen."""
    seed = scenario.simulation.seed
    typ = typical_values(scenario, reg)
    omega = varying_parameters(scenario, reg)
    cols: dict[str, np.ndarray] = {}
    n_les = scenario.tumor.n_target_lesions

    draw_ids = ids * np.int64(MAX_ATTEMPTS) + attempt  # (patient, attempt) -> one counter
    hashes = id_hashes(seed, MODULE, draw_ids)  # shared by every key of these candidates

    def normals(name: str, *extra: int) -> np.ndarray:
        return normals_of(hashes, _key(name), *extra)

    def uniforms(key: str) -> np.ndarray:
        return uniforms_of(hashes, _key(key))

    def patient_value(name: str) -> np.ndarray:
        p = reg[name]
        if name in omega:
            return _vary(typ[name], omega[name], normals(name), p.transform)
        return np.full(ids.shape, typ[name])

    # every patient-level parameter that varies, plus the covariates MODEL.md lists
    patient_level = {n for n in omega if not n.startswith(("antigen_fraction_", "malignant_fraction"))} - {
        "lesion_diameter_mm", "tumor_perfusion_ml_per_ml_d"}
    for name in ("weight_kg", "ligand_level", "hla_level", "tgfb_ng_ml", "hypoxia", "chemosensitivity", "wbc0_per_ul"):
        patient_level.add(name)
    for ag in scenario.study_antigens:
        patient_level.add(f"antigen_fraction_{ag}")
    if "NKG2DL" in scenario.product.construct.car_targets:
        patient_level.add("ligand_level")
    for name in sorted(patient_level):
        if name.startswith("hcc_tvdt") or name == "tvdt_d":
            continue
        cols[name] = patient_value(name)

    # tumor volume doubling time
    if scenario.tumor.growth_model == "hcc_nathani2021":
        u = uniforms("growth_class")
        f_r, f_i = typ["hcc_frac_rapid"], typ["hcc_frac_intermediate"]
        cls = np.where(u < f_r, 0, np.where(u < f_r + f_i, 1, 2))
        tvdt = np.empty(ids.shape)
        for c, name in enumerate(("hcc_tvdt_rapid_d", "hcc_tvdt_intermediate_d", "hcc_tvdt_indolent_d")):
            vals = patient_value(name)
            tvdt[cls == c] = vals[cls == c]
        cols["growth_class"] = np.array(["rapid", "intermediate", "indolent"], dtype=object)[cls]
        cols["tvdt_d"] = tvdt
    else:
        cols["tvdt_d"] = patient_value("tvdt_d")

    # antigen-negative subclones: where the registry gives the chance that a patient's tumor carries one
    # (antigen_negative_prob_<antigen>), the others have none (every tumor cell carries the antigen); elsewhere every
    # patient carries the drawn negative share
    for ag in scenario.study_antigens:
        prob = f"antigen_negative_prob_{ag}"
        if prob in reg and scenario.population.variability:  # the typical patient carries the typical share
            carries = uniforms(f"antigen_negative_{ag}") < typ[prob]
            cols[f"antigen_fraction_{ag}"] = np.where(carries, cols[f"antigen_fraction_{ag}"], 1.0)

    # malignant share of the lesion's cells (1 for a lesion made of tumor cells; Hodgkin lymphoma: a few percent,
    # varying between patients as omega2 of malignant_fraction_<indication> says, capped at 1)
    own = f"malignant_fraction_{scenario.tumor.indication}"
    w_mf = omega.get(own, 0.0) if own in reg else 0.0
    cols["malignant_fraction"] = np.minimum(_vary(typ["malignant_fraction"], w_mf, normals("malignant_fraction"),
                                                  "log"), 1.0)

    # donor KIR-ligand match (Bernoulli)
    cols["kir_matched"] = uniforms("kir_match") < typ["p_kir_match"]

    # lesions: diameters, growth deviation, perfusion
    w_d = omega.get("lesion_diameter_mm", 0.0)
    w_q = omega.get("tumor_perfusion_ml_per_ml_d", 0.0)
    w_g = typ["lesion_growth_omega2"] if scenario.population.variability else 0.0
    for l in range(n_les):
        cols[f"lesion{l}_diameter_mm"] = _vary(typ["lesion_diameter_mm"], w_d, normals("lesion_diameter_mm", l), "log")
        cols[f"lesion{l}_growth_dev"] = _vary(1.0, w_g, normals("lesion_growth_dev", l), "log")
        cols[f"lesion{l}_perfusion"] = _vary(typ["tumor_perfusion_ml_per_ml_d"], w_q, normals("tumor_perfusion", l), "log")
    d = np.stack([cols[f"lesion{l}_diameter_mm"] for l in range(n_les)], axis=1)
    cols["sum_diameters_mm"] = d.sum(axis=1)
    cols["min_lesion_diameter_mm"] = d.min(axis=1)
    cols["max_lesion_diameter_mm"] = d.max(axis=1)
    cols["immune_status"] = _same_text(ids.shape, scenario.population.immune_status)
    cols["indication"] = _same_text(ids.shape, scenario.tumor.indication)
    return cols


def _same_text(shape: tuple[int, ...], text: str) -> np.ndarray:
    """An object array holding ``text`` itself in every element (``np.full(..., dtype=object)`` would make a string
    object per element: ~80 bytes each, 160 MB for two columns of a million patients)."""
    out = np.empty(shape, dtype=object)
    out.fill(text)
    return out


_OPS = {
    ">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less, "==": np.equal,
}


def _eligible(df: Mapping[str, Any], scenario: Scenario, n: int | None = None) -> np.ndarray:
    """Whether each candidate meets the protocol's rules; ``df``: a table or its columns (``n`` rows)."""
    ok = np.ones(len(df) if n is None else n, dtype=bool)
    for name, op, value in scenario.population.parsed_rules():
        if name not in df:
            raise InputError("population.eligibility", name, f"a covariate among {sorted(df)}")
        ok &= _OPS[op](np.asarray(df[name], dtype=float), value)
    return ok


def _unenrollable(scenario: Scenario, typ: Mapping[str, float], df: Mapping[str, Any], rule_failures: int,
                  screen_failures: int) -> InputError:
    """The error when almost no candidate is enrolled, naming the cause: the protocol's rules, or the clinical
    screen (a population at a lethal burden at enrollment, e.g. large lesions with a small lethal burden)."""
    why = (f"{rule_failures:,} candidate draws failed the eligibility rules, {screen_failures:,} the clinical "
           "screen")
    if screen_failures <= rule_failures:
        return InputError("population.eligibility", list(scenario.population.eligibility),
                          f"rules that at least ~1/{MAX_ATTEMPTS} of the population meets ({why})")
    lethal = scenario.readouts.lethal_burden_cm3 or typ["clinical_lethal_burden_cm3"]
    cols = [c for c in df if c.startswith("lesion") and c.endswith("_diameter_mm")]
    volume = float(np.median(sum(np.pi / 6.0 * (np.asarray(df[c], float) / 10.0) ** 3 for c in cols))) if cols else 0.0
    field = "readouts.lethal_burden_cm3" if scenario.readouts.lethal_burden_cm3 else "clinical_lethal_burden_cm3"
    return InputError(
        "population", f"{screen_failures:,} screened-out candidate draws",
        f"a population that is not at a lethal burden at enrollment nor dying before treatment ({why}; median "
        f"total target-lesion volume drawn {volume:.3g} cm3 with lesion_diameter_mm = "
        f"{typ['lesion_diameter_mm']:g}, vs {field} = {lethal:g} cm3: a smaller lesion_diameter_mm or a larger "
        "lethal burden makes the study possible)")


def sample_patients(scenario: Scenario, patient_ids: np.ndarray | None = None,
                    adjust: Callable[[pd.DataFrame, np.ndarray], None] | None = None,
                    draw: Callable[[np.ndarray, np.ndarray], pd.DataFrame] | None = None) -> pd.DataFrame:
    """Covariates of the given patients (default ids 0..n_patients-1), drawn from the eligible population: the
    protocol's ``population.eligibility`` rules and the clinical screen (``nksim.population.screening``: not at a
    lethal burden, not dying before treatment). ``draw_attempt``: candidates drawn before this one for the same id;
    ``screen_failures``: how many of them the clinical screen excluded. ``adjust(frame, rows)``: changes each drawn
    frame of candidates (positions ``rows`` of ``patient_ids``; ``draw_attempt`` set) in place before it is checked
    (``nksim.sensitivity`` draws many parameter samples' patients in one call this way; ids may then repeat).
    ``draw(ids, attempts)``: the candidates' covariates as ``_draw`` gives them (default: drawn here; a caller that
    draws the same candidates again and again may keep them). The candidates are kept as columns (arrays), the table
    built once at the end."""
    return sample_with_draws(scenario, patient_ids, adjust, draw)[0]


def sample_with_draws(scenario: Scenario, patient_ids: np.ndarray | None = None,
                      adjust: Callable[[pd.DataFrame, np.ndarray], None] | None = None,
                      draw: Callable[[np.ndarray, np.ndarray], pd.DataFrame] | None = None
                      ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """``sample_patients`` and, where the clinical screen reads them (a regimen starting before day 0), the
    patients' readout draws (``nksim.clinical.outcomes.patient_draws`` of their ids and draw attempts, (patient, 4);
    None otherwise), so that the engine need not draw them again."""
    from nksim.population.screening import passes_screen, reads_draws

    reg = load_registry()
    ids = np.arange(scenario.simulation.n_patients) if patient_ids is None else np.asarray(patient_ids, dtype=np.int64)
    if ids.size and ids.min() < 0:
        raise InputError("patient_ids", int(ids.min()), "non-negative integers")
    typ = typical_values(scenario, reg)
    attempt = np.zeros(ids.shape, dtype=np.int64)
    screen_failures = np.zeros(ids.shape, dtype=np.int64)
    rule_failures = np.zeros(ids.shape, dtype=np.int64)

    def candidates(i: np.ndarray, att: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The candidates' columns (arrays this function owns), ``draw_attempt`` set and ``adjust`` applied."""
        if draw is None:
            cols = draw_columns(scenario, i, att, reg)
        else:
            frame = draw(i, att)
            cols = {c: frame[c].to_numpy(copy=True) for c in frame.columns}
        cols["draw_attempt"] = att
        if adjust is not None:
            frame = pd.DataFrame(cols, index=pd.Index(i, name="patient"))
            adjust(frame, rows)
            cols = {c: frame[c].to_numpy(copy=True) for c in frame.columns}
        return cols

    draws = np.empty((ids.size, 4)) if reads_draws(scenario) else None

    def check(cols: dict[str, np.ndarray], i: np.ndarray, rows: np.ndarray) -> np.ndarray:
        u = None
        if draws is not None:  # the candidates' readout draws: the screen's, and the accepted ones' are kept
            from nksim.clinical.outcomes import patient_draws

            u = draws[rows] = patient_draws(scenario.simulation.seed, i, cols["draw_attempt"])
        clinical_ok = passes_screen(scenario, cols, typ, ids=i, draws=u)
        rules_ok = _eligible(cols, scenario, len(i))
        screen_failures[rows] += ~clinical_ok
        rule_failures[rows] += ~rules_ok
        return ~(rules_ok & clinical_ok)

    everyone = np.arange(ids.size)
    columns = candidates(ids, attempt, everyone)
    bad = check(columns, ids, everyone)
    rounds = 0
    while bad.any():
        rounds += 1
        if rounds >= MAX_ATTEMPTS:
            raise _unenrollable(scenario, typ, columns, int(rule_failures.sum()), int(screen_failures.sum()))
        rows = np.flatnonzero(bad)
        attempt[rows] += 1
        redraw = candidates(ids[rows], attempt[rows], rows)
        bad[rows] = check(redraw, ids[rows], rows)
        for c, v in redraw.items():
            columns[c][rows] = v
    columns["draw_attempt"] = attempt
    columns["screen_failures"] = screen_failures
    return pd.DataFrame(columns, index=pd.Index(ids, name="patient")), draws
