"""nksim.clinical: clinical readouts from cohort trajectories.

Public API:
- ``outcomes(trajectories, patients, readouts, seed, params=None) -> DataFrame``: one row per patient (best
  response and per-scan responses by RECIST 1.1 / mRECIST / Lugano 2014, PFS/OS, CRS/ICANS by ASTCT, GvHD,
  infusion fever, off-tumor toxicity, cytopenia, DLT, product persistence and detection, covariates);
- ``summarize(outcomes, by=None, bins=None) -> DataFrame``: ORR, CR rate, DCR, median PFS/OS, CRS/ICANS rates,
  DLT rate with 95% intervals, optionally per biomarker stratum;
- grading functions usable on their own (``astct_crs_grade``, ``astct_icans_grade``,
``recist_scan_responses``,
``lugano_scan_responses``, ``best_overall_response``, ...). See docs/clinical.md.
"""

from nksim.clinical.best_response import best_overall_response, continuing_partial_response
from nksim.clinical.crs import astct_crs_grade, crs_grade_course, crs_signs
from nksim.clinical.icans import astct_icans_grade, icans_course, ice_score
from nksim.clinical.lesions import cells_for_diameter, diameter_mm, volume_cm3
from nksim.clinical.lugano import lugano_scan_responses
from nksim.clinical.outcomes import outcomes, scan_column
from nksim.clinical.recist import recist_scan_responses
from nksim.clinical.summary import clopper_pearson, km_median, summarize
from nksim.spec.clinical import AssaySpec, DLTRule, ReadoutSpec

__all__ = [
    "outcomes",
    "summarize",
    "ReadoutSpec",
    "AssaySpec",
    "DLTRule",
    "astct_crs_grade",
    "crs_grade_course",
    "crs_signs",
    "astct_icans_grade",
    "ice_score",
    "icans_course",
    "recist_scan_responses",
    "lugano_scan_responses",
    "best_overall_response",
    "continuing_partial_response",
    "diameter_mm",
    "volume_cm3",
    "cells_for_diameter",
    "clopper_pearson",
    "km_median",
    "scan_column",
]
