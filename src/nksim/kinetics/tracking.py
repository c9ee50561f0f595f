"""The model's tracked quantities: what the kernel-tracked summaries (:mod:`nksim.kinetics.integrate.trackers`)
read of the state, as sums of a few state columns with per-patient coefficients (in the units of the trajectory
variables of the same name, ``nksim.kinetics.trajectories.VARIABLES``, unit prefixes multiplied in), and last the
cytokine proxy (an algebraic output)."""

from __future__ import annotations

import numpy as np

from nksim.kinetics import layout as L
from nksim.kinetics.integrate.scheduler import Tracked
from nksim.kinetics.trajectories import unit_prefix

#: the linear quantities, in order; the algebraic one (``cytokine_pg_ml``) comes after them
LINEAR = ("tumor_viable_total", "new_lesion_hazard", "death_hazard", "nk_blood_per_ul", "car_nk_blood_per_ul",
          "wbc_per_ul", "offtumor_activity", "detection_margin")
QUANTITIES = LINEAR + ("cytokine_pg_ml",)
Q = {name: k for k, name in enumerate(QUANTITIES)}
_PRODUCT = (L.S_E_T, L.S_E_U, L.S_M_T, L.S_M_U)


def _terms(nl: int, nc: int) -> dict[str, tuple[int, ...]]:
    lb = L.lesion_block(nc)
    return {"tumor_viable_total": tuple(L.NSYS + l * lb + L.LES_FIXED + c for l in range(nl) for c in range(nc)),
            "new_lesion_hazard": (L.S_CUM_NEW_LESION_HAZARD,), "death_hazard": (L.S_CUM_DEATH_HAZARD,),
            "nk_blood_per_ul": _PRODUCT, "car_nk_blood_per_ul": (L.S_E_T, L.S_M_T), "wbc_per_ul": (L.S_WBC,),
            "offtumor_activity": (L.S_CUM_OFFTUMOR,), "detection_margin": _PRODUCT + (L.S_WBC,)}


def tracked(nl: int, nc: int) -> Tracked:
    """The tracked quantities of a configuration (``nl`` lesions, ``nc`` antigen classes)."""
    t = _terms(nl, nc)
    return Tracked(tuple(t[q] for q in LINEAR), L.A_C)


def coefficients(params: np.ndarray, nl: int, nc: int, analyte_transduced: bool = False,
                 limit_per_leukocyte: np.ndarray | float = 0.0) -> np.ndarray:
    """(patient, Tracked.ncoef) coefficients of the linear quantities. ``detection_margin`` = the assay's analyte
    (product or transduced product cells per uL) minus ``limit_per_leukocyte`` x (host leukocytes + product cells
    per uL): the detection limit of a qPCR or chimerism assay (a flow assay's fixed limit is the tracker's level)."""
    npat = params.shape[0]
    vb_ul = params[:, L.P_V_B] * 1000.0
    fb, fmb = params[:, L.P_F_BLOOD] / vb_ul, params[:, L.P_F_MB] / vb_ul
    one = np.ones(npat)
    nk = [fb, fb, fmb, fmb]
    car = [fb, np.zeros(npat), fmb, np.zeros(npat)]
    kappa = np.broadcast_to(np.asarray(limit_per_leukocyte, dtype=float), (npat,))
    analyte = car if analyte_transduced else nk
    cols = {"tumor_viable_total": [one] * (nl * nc), "new_lesion_hazard": [one], "death_hazard": [one],
            "nk_blood_per_ul": nk, "car_nk_blood_per_ul": [fb, fmb], "wbc_per_ul": [one],
            "offtumor_activity": [one * unit_prefix("offtumor_activity")],
            "detection_margin": [a - kappa * x for a, x in zip(analyte, nk)] + [-kappa]}
    return np.ascontiguousarray(np.stack([c for q in LINEAR for c in cols[q]], axis=1))
