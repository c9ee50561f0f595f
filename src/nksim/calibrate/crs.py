"""CRS thresholds from the CAR-T-like cohort, then the CAR-NK incidence across the NK/T release ratio.

MODEL.md process 12 orders the calibration: (1) a CAR-T-like parameter set reproduces the Stein 2019 kinetics
(``ball-car-t-like``: Tmax and Cmax hold, docs/calibration.md); (2) the thresholds that turn the cytokine proxy C
into clinical signs are set so that this cohort shows any-grade CRS ~74% and grade >= 3 ~12%; (3) the CAR-NK
incidence follows from the NK parameters and the NK/T per-cell release ratio (an assumption), reported across its
range and never tuned.

Step 2 has two targets and two degrees of freedom. Under the ASTCT rules a patient's worst grade is set by the peak
of C: any grade needs C >= the fever threshold, grade >= 3 needs C >= the lower of the one-vasopressor and
high-flow-oxygen thresholds. Those two anchors are the cohort's quantiles of peak C at 1 - 0.744 and 1 - 0.116;
every other threshold on the C scale (the other CRS signs and the ICANS thresholds) is moved by the same map,
linear in log C through the two anchors, so the ladder keeps its order and relative spacing.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from nksim.clinical.crs import HYPOTENSION_KEYS, HYPOXIA_KEYS
from nksim.engine import simulate
from nksim.registry import load_registry
from nksim.spec.io import load_scenario
from nksim.spec.scenario import Scenario

CRS_SCENARIO = "ball-car-t-like"
ANY_GRADE = 0.744  # real-world LBCL CAR-T, Blood Adv 2023;7(17):4765 (262/352)
GRADE3 = 0.116  # tisagenlecleucel real world, CIBMTR (Pasquini 2020, Blood Adv 4:5414)
FEVER = "clinical_crs_fever_pg_ml"
GRADE3_KEYS = (HYPOTENSION_KEYS[1], HYPOXIA_KEYS[1])  # one vasopressor, high-flow oxygen
# the ladder's shape: the thresholds on the C scale as first assumed (registry 0.1.0), before any calibration
LADDER_SHAPE = {FEVER: 30.0,
                **dict(zip(HYPOTENSION_KEYS, (100.0, 500.0, 2000.0))),
                **dict(zip(HYPOXIA_KEYS, (150.0, 700.0, 3000.0))),
                "clinical_icans_onset_pg_ml": 300.0, "clinical_icans_ice_zero_pg_ml": 5000.0,
                "clinical_icans_unarousable_pg_ml": 10000.0}
C_SCALE_THRESHOLDS = tuple(LADDER_SHAPE)  # every threshold on the C scale (CRS signs and ICANS)
NK_SCENARIOS = ("bnhl-cd19-car-nk-il15-cb", "bnhl-ft596-like", "bnhl-ft516-like", "hcc-gpc3-car-nk-il15",
                "hcc-cd147-car-nk", "hcc-gpc3-cd147-logic-car-nk", "gc-nkg2d-car-nk", "hcc-post-lt-allo-nk")


def ladder_map(shape: Mapping[str, float], fever_pg_ml: float, grade3_pg_ml: float) -> dict[str, float]:
    """Thresholds (pg/mL) with the fever and grade >= 3 anchors moved to the given values and every other
    threshold moved by the same map, linear in log C (order and relative log-spacing kept)."""
    old_f = math.log(shape[FEVER])
    old_g = math.log(min(shape[k] for k in GRADE3_KEYS))
    if not 0.0 < fever_pg_ml < grade3_pg_ml:
        raise ValueError(f"anchors must satisfy 0 < fever ({fever_pg_ml}) < grade-3 ({grade3_pg_ml}) pg/mL")
    slope = (math.log(grade3_pg_ml) - math.log(fever_pg_ml)) / (old_g - old_f)
    return {k: float(math.exp(math.log(fever_pg_ml) + slope * (math.log(v) - old_f))) for k, v in shape.items()}


def fit_thresholds(peak_c: np.ndarray, any_grade: float = ANY_GRADE, grade3: float = GRADE3,
                   shape: Mapping[str, float] = LADDER_SHAPE) -> dict[str, float]:
    """Thresholds under which a cohort with these per-patient peaks of C (pg/mL) has the given any-grade and
    grade >= 3 CRS fractions (quantiles of the peaks; ties aside, exact)."""
    peak_c = np.asarray(peak_c, dtype=float)
    fever = float(np.quantile(peak_c, 1.0 - any_grade))
    g3 = float(np.quantile(peak_c, 1.0 - grade3))
    return ladder_map(shape, fever, g3)


def fit_from_cohort(n_patients: int = 400, seed: int | None = None,
                    scenario: str | Scenario = CRS_SCENARIO) -> tuple[dict[str, float], pd.DataFrame]:
    """Simulate the CAR-T-like cohort and fit the thresholds; returns (thresholds, the cohort's patient table)."""
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    pts = simulate(sc, n_patients=n_patients, seed=seed).patients
    return fit_thresholds(pts["peak_cytokine_pg_ml"].to_numpy()), pts


def release_ratio_table(ratios: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 0.5),
                        scenarios: tuple[str, ...] = NK_SCENARIOS, n_patients: int = 100,
                        seed: int | None = None) -> pd.DataFrame:
    """CRS incidence (any grade, >= 2, >= 3) of each NK scenario at each NK/T release ratio (an assumption,
    registry ``nk_t_release_ratio``): reported, never tuned."""
    from rich.progress import track

    rows = []
    grid = [(name, r) for name in scenarios for r in ratios]
    for name, r in track(grid, description="CRS vs NK/T release ratio", transient=True):
        base = load_scenario(name)
        sc = base.model_copy(update={"parameters": {**base.parameters, "nk_t_release_ratio": r}})
        g = simulate(sc, n_patients=n_patients, seed=seed).patients["crs_grade"]
        rows.append({"scenario": name, "nk_t_release_ratio": r, "crs_any": float((g >= 1).mean()),
                     "crs_ge2": float((g >= 2).mean()), "crs_ge3": float((g >= 3).mean())})
    return pd.DataFrame(rows)


def registry_thresholds() -> dict[str, float]:
    """The thresholds on the C scale as the registry holds them now."""
    reg = load_registry()
    return {k: reg[k].default for k in C_SCALE_THRESHOLDS}
