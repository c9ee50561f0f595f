"""Cytokine release syndrome: clinical signs from the cytokine proxy C, graded by the ASTCT consensus.

ASTCT consensus grading (Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638):
- grade 1: fever (>= 38.0 C), no hypotension, no hypoxia;
- grade 2: fever with hypotension not requiring vasopressors and/or hypoxia requiring low-flow nasal cannula
  (<= 6 L/min) or blow-by;
- grade 3: fever with hypotension requiring one vasopressor (with or without vasopressin) and/or hypoxia
  requiring high-flow nasal cannula (> 6 L/min), facemask, non-rebreather or Venturi mask;
- grade 4: fever with hypotension requiring multiple vasopressors (excluding vasopressin) and/or hypoxia
  requiring positive pressure (CPAP, BiPAP, intubation and mechanical ventilation);
- the grade is set by the more severe of hypotension and hypoxia; fever is required to diagnose CRS, but once
  it has occurred it is no longer required to grade later severity (it may be masked by antipyretics or
  anti-cytokine therapy). Grade 5 (death from CRS) is not modelled.

Signs follow C (pg/mL) by thresholds (registry parameters flagged "assumption", to be calibrated, MODEL.md
process 12): fever at C >= clinical_crs_fever_pg_ml; hypotension level 1/2/3 = fluids / one vasopressor /
several vasopressors; hypoxia level 1/2/3 = low-flow / high-flow / positive pressure. Levels are cumulative (a
level needs the milder levels' thresholds too; ``nksim.grade_order``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from nksim.grade_order import cumulative
from nksim.errors import InputError

HYPOTENSION_KEYS = (
    "clinical_crs_hypotension_fluids_pg_ml",
    "clinical_crs_hypotension_one_vasopressor_pg_ml",
    "clinical_crs_hypotension_multi_vasopressor_pg_ml",
)
HYPOXIA_KEYS = (
    "clinical_crs_hypoxia_low_flow_pg_ml",
    "clinical_crs_hypoxia_high_flow_pg_ml",
    "clinical_crs_hypoxia_positive_pressure_pg_ml",
)


def _levels(c: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Level 0-3: thresholds crossed, each level needing the milder ones' too (``nksim.grade_order``)."""
    return np.searchsorted(cumulative(thresholds), c, side="right").astype(np.int8)


def crs_signs(c: np.ndarray, params: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fever (bool), hypotension level (0 none, 1 fluids, 2 one vasopressor, 3 several) and hypoxia level (0
    none, 1 low-flow, 2 high-flow, 3 positive pressure) for cytokine proxy values ``c`` (pg/mL)."""
    c = np.asarray(c, dtype=float)
    fever = c >= params["clinical_crs_fever_pg_ml"]
    hypo = _levels(c, [params[k] for k in HYPOTENSION_KEYS])
    hypox = _levels(c, [params[k] for k in HYPOXIA_KEYS])
    return fever, hypo, hypox


def astct_crs_grade(fever: np.ndarray, hypotension: np.ndarray, hypoxia: np.ndarray) -> np.ndarray:
    """ASTCT CRS grade (0-4) from signs; ``fever`` False means no CRS (grade 0) whatever the other signs."""
    hypotension = np.asarray(hypotension)
    hypoxia = np.asarray(hypoxia)
    if np.any((hypotension < 0) | (hypotension > 3)) or np.any((hypoxia < 0) | (hypoxia > 3)):
        raise InputError("hypotension/hypoxia", "out of range", "levels 0, 1, 2 or 3")
    return np.where(np.asarray(fever, dtype=bool), 1 + np.maximum(hypotension, hypoxia), 0).astype(np.int8)


def crs_grade_course(c: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """CRS grade over time (patient, time) from C (patient, time): fever once seen is carried forward (it may
    be masked by treatment; Lee 2019), so later hypotension/hypoxia grade without a concurrent fever."""
    fever, hypo, hypox = crs_signs(c, params)
    fever_seen = np.logical_or.accumulate(fever, axis=1)
    return astct_crs_grade(fever_seen, hypo, hypox)
