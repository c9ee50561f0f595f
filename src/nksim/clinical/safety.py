"""Other safety readouts, each driven by its own cause (MODEL.md process 14; forms are assumptions).

- Acute GvHD (grade II-IV) risk rising with product CD3+ T cells per kg: a Hill dose-response risk = max_risk
  * D^h / (D^h + ED50^h) (assumption; haplo NK trials cap CD3+ at about 1e5/kg for this reason). An event is
  drawn from the patient's random stream; a share of events is grade III-IV (reported as grade 3), the rest
  grade II (reported as 2); grade I is not modelled. Onset at a fixed day after the first infusion.
- Infusion fever (grade 1, CTCAE pyrexia), independently at each infusion with a fixed probability
  (assumption):
more infusions, more fevers.
- On-target/off-tumor toxicity graded 1-4 by thresholds on the cumulative off-tumor activity integral (CAR
  activity x normal-tissue antigen expression, from the engine) (assumption).
- Cytopenia from the leukocyte trajectory: days with WBC below a threshold, CTCAE v5.0 grades of leukopenia
  (WBC) and neutropenia (ANC = WBC x neutrophil fraction, an assumption: the engine has no neutrophil state).
  CTCAE v5.0 bounds (unverified, from memory): WBC < LLN / 3000 / 2000 / 1000 per uL = grade 1 / 2 / 3 / 4;
  ANC < LLN / 1500 / 1000 / 500 per uL = grade 1 / 2 / 3 / 4.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.stats import binom

from nksim.grade_order import cumulative
from nksim.errors import InputError


def gvhd_risk(cd3_per_kg: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Probability of grade II-IV acute GvHD for CD3+ T cells per kg given (Hill dose-response, assumption).
    """
    d = np.asarray(cd3_per_kg, dtype=float)
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise InputError("patients.cd3_per_kg", d[(d < 0) | ~np.isfinite(d)][0], "finite values >= 0")
    h = params["clinical_gvhd_hill"]
    x = (d / params["clinical_gvhd_cd3_ed50_per_kg"]) ** h
    return params["clinical_gvhd_max_risk"] * x / (1.0 + x)


def gvhd_grade(risk: np.ndarray, u: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Acute GvHD grade from a uniform draw u: 3 (III-IV) if u < risk x severe share, 2 (II) if u < risk, else
    0."""
    risk = np.asarray(risk, dtype=float)
    severe = risk * params["clinical_gvhd_severe_fraction"]
    return np.where(u < severe, 3, np.where(u < risk, 2, 0)).astype(np.int8)


def infusion_fevers(n_infusions: np.ndarray, u: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Number of infusions followed by fever: Binomial(n_infusions, p) by inversion of a uniform draw u (so
    more infusions or a higher p never give fewer fevers for the same patient)."""
    n = np.asarray(n_infusions)
    if np.any(n < 0):
        raise InputError("patients.n_infusions", n[n < 0][0], "integers >= 0")
    return binom.ppf(u, n.astype(int), params["clinical_infusion_fever_prob"]).astype(int)


def offtumor_grade(activity: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """On-target/off-tumor toxicity grade (0-4) from the cumulative off-tumor activity (assumption
    thresholds)."""
    th = cumulative([params[f"clinical_offtumor_grade{g}"] for g in (1, 2, 3, 4)])  # grades are cumulative
    return np.searchsorted(th, np.asarray(activity, dtype=float), side="right").astype(np.int8)


def ctcae_leukopenia_grade(wbc_per_ul: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """CTCAE v5.0 'white blood cell decreased' grade 0-4 (bounds unverified, from memory)."""
    bounds = [
        params[k]
        for k in (
            "clinical_ctcae_wbc_g4_per_ul",
            "clinical_ctcae_wbc_g3_per_ul",
            "clinical_ctcae_wbc_g2_per_ul",
            "clinical_ctcae_wbc_lln_per_ul",
        )
    ]
    return _grade_below(wbc_per_ul, bounds)


def ctcae_neutropenia_grade(anc_per_ul: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """CTCAE v5.0 'neutrophil count decreased' grade 0-4 (bounds unverified, from memory)."""
    bounds = [
        params[k]
        for k in (
            "clinical_ctcae_anc_g4_per_ul",
            "clinical_ctcae_anc_g3_per_ul",
            "clinical_ctcae_anc_g2_per_ul",
            "clinical_ctcae_anc_lln_per_ul",
        )
    ]
    return _grade_below(anc_per_ul, bounds)


def _grade_below(x: np.ndarray, bounds_increasing: list[float]) -> np.ndarray:
    # value < bounds[0] -> 4, < bounds[1] -> 3, < bounds[2] -> 2, < bounds[3] -> 1, else 0
    return (
        4 - np.searchsorted(cumulative(bounds_increasing), np.asarray(x, dtype=float), side="right")
    ).astype(np.int8)
