"""Grade thresholds are cumulative: a more severe level needs the milder one's threshold too.

Each family below lists registry thresholds from the mildest level to the most severe (CRS hypotension: fluids,
one vasopressor, several; CRS hypoxia: low-flow, high-flow, positive pressure; ICANS: onset, ICE 0, unarousable;
off-tumor grades 1-4; CTCAE cytopenia bounds from grade 4 up to the lower limit of normal, on the value itself).
Care escalates in order (ASTCT, Lee 2019: a patient on vasopressors has had fluids), so a level is reached when
the driver is at or above its own threshold *and* every milder one's: the threshold in effect is the running
maximum along the family. Thresholds in increasing order (every registry default) are unchanged by this; a value
set below a milder level's (each one alone at an end of its plausible range can be) is a warning at validation
(``order_warnings``), not an error, and the results are those of the running maximum.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

FAMILIES: dict[str, tuple[str, ...]] = {
    "CRS hypotension": ("clinical_crs_hypotension_fluids_pg_ml", "clinical_crs_hypotension_one_vasopressor_pg_ml",
                        "clinical_crs_hypotension_multi_vasopressor_pg_ml"),
    "CRS hypoxia": ("clinical_crs_hypoxia_low_flow_pg_ml", "clinical_crs_hypoxia_high_flow_pg_ml",
                    "clinical_crs_hypoxia_positive_pressure_pg_ml"),
    "ICANS": ("clinical_icans_onset_pg_ml", "clinical_icans_ice_zero_pg_ml", "clinical_icans_unarousable_pg_ml"),
    "off-tumor toxicity": tuple(f"clinical_offtumor_grade{g}" for g in (1, 2, 3, 4)),
    "leukopenia (CTCAE)": ("clinical_ctcae_wbc_g4_per_ul", "clinical_ctcae_wbc_g3_per_ul",
                           "clinical_ctcae_wbc_g2_per_ul", "clinical_ctcae_wbc_lln_per_ul"),
    "neutropenia (CTCAE)": ("clinical_ctcae_anc_g4_per_ul", "clinical_ctcae_anc_g3_per_ul",
                            "clinical_ctcae_anc_g2_per_ul", "clinical_ctcae_anc_lln_per_ul"),
}


def cumulative(thresholds: Sequence[float]) -> np.ndarray:
    """The thresholds in effect (running maximum, mildest level first)."""
    return np.maximum.accumulate(np.asarray(thresholds, dtype=float))


def order_warnings(params: Mapping[str, float], where: str = "parameters") -> list[str]:
    """One warning per threshold below a milder level's (``params``: registry values in use, defaults included)."""
    out = []
    for family, keys in FAMILIES.items():
        if not all(k in params for k in keys):
            continue
        top, top_key = -np.inf, None
        for k in keys:
            v = float(params[k])
            if v < top:
                out.append(f"{where}.{k} = {v:g} is below {top_key} = {top:g}: {family} grades are cumulative, so "
                           f"this level is reached from {top:g} (the milder level's threshold)")
            elif v >= top:
                top, top_key = v, k
    return out
