"""Marrow response of acute leukemia (systemic indications such as B-ALL) at each scheduled marrow assessment.

The model's marrow blast share is the systemic tumor over the marrow capacity (``tsys_marrow_fraction``, docs/model.md
process 15). Criteria (the usual ALL response definitions, as used by NCCN and by ELIANA's remission endpoint, Maude
2018; thresholds in the registry, ``clinical_marrow_*``):

- CR: marrow blasts < 5% (M1 marrow; CR or CRi: blood count recovery is not modelled);
- PD: relapse (blasts back to >= 5% after a CR), or without a prior CR an increase of blasts by >= 25% over their
  nadir (progressive disease);
- SD: otherwise (no remission; "refractory" if it lasts);
- NE: blasts already < 5% at baseline (no measurable marrow disease).

There is no partial response. Scans after the first PD are not done (ND), as for the imaging criteria. No
confirmation is asked (a single marrow assessment defines remission).
"""

from __future__ import annotations

import numpy as np

from nksim.clinical.codes import CR, ND, NE, PD, SD


def marrow_scan_responses(blasts: np.ndarray, baseline_blasts: np.ndarray, done: np.ndarray, *,
                          cr_fraction: float = 0.05, pd_increase: float = 0.25) -> np.ndarray:
    """Per-scan response codes (patient, scan) from marrow blast shares (fraction of marrow cells).

    ``blasts`` (patient, scan), ``baseline_blasts`` (patient,), ``done`` (patient, scan): whether the scan happens."""
    blasts = np.asarray(blasts, dtype=float)
    base = np.asarray(baseline_blasts, dtype=float)
    done = np.asarray(done, dtype=bool)
    n_pat, n_scan = done.shape
    codes = np.full((n_pat, n_scan), ND, dtype=int)
    measurable = base >= cr_fraction
    nadir = base.copy()
    in_cr = np.zeros(n_pat, dtype=bool)
    stopped = ~measurable
    for j in range(n_scan):
        live = done[:, j] & ~stopped
        b = blasts[:, j]
        relapse = in_cr & (b >= cr_fraction)
        progress = ~in_cr & (b >= nadir * (1.0 + pd_increase)) & (b >= cr_fraction)
        cr = b < cr_fraction
        code = np.where(relapse | progress, PD, np.where(cr, CR, SD))
        codes[:, j] = np.where(live, code, ND)
        in_cr |= live & cr
        nadir = np.where(live, np.minimum(nadir, b), nadir)
        stopped |= live & (code == PD)
    codes[~measurable[:, None] & done] = NE
    return codes
