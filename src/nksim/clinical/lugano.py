"""Lugano 2014 CT-based response for lymphoma at each scheduled scan.

Cheson BD et al., J Clin Oncol 2014;32:3059-3068, Table 3 (CT-based response; checked against the table as
reproduced in PMC5298348 Table 2). Target: up to 6 measurable nodes; SPD = sum of the products of
perpendicular diameters (for a sphere both diameters are d, so PPD = d^2):
- CR: every target node regressed to <= 15 mm longest diameter (LDi), non-measured disease absent/normal, no
  new lesions;
- PR: SPD down >= 50% from baseline;
- PD: an individual node with LDi > 15 mm AND PPD up >= 50% from that node's nadir AND LDi up from nadir by >=
  5 mm (lesions <= 2 cm) or >= 10 mm (lesions > 2 cm); or clear progression / regrowth of non-measured
  disease; or a new lesion;
- SD (no response / stable disease): otherwise.

Model conventions (docs/clinical.md; unverified where noted): the size class of the absolute-increase rule is
read at the current scan; a non-target lesion (or the pooled non-target remainder) counts as 'normal' at <= 15
mm and progresses when its volume reaches ``nontarget_pd_fold`` x its nadir while > 15 mm (regrowth of
resolved disease included); all lesions are nodal (extranodal sites need complete absence in the published
rule). Lugano 2014 asks no confirmation scan.
"""

from __future__ import annotations

import numpy as np

from nksim.clinical.codes import CR, ND, NE, PD, PR, SD
from nksim.clinical.recist import _per_lesion

_EPS = 1e-9


def lugano_scan_responses(
    target_mm: np.ndarray,
    baseline_target_mm: np.ndarray,
    nontarget_mm: np.ndarray,
    baseline_nontarget_mm: np.ndarray,
    new_lesion: np.ndarray,
    done: np.ndarray,
    *,
    pr_fraction: float = 0.50,
    node_normal_mm: float = 15.0,
    pd_ppd_fraction: float = 0.50,
    size_class_mm: float = 20.0,
    increase_small_mm: float = 5.0,
    increase_large_mm: float = 10.0,
    nontarget_pd_fold: float = 1.728,
) -> np.ndarray:
    """Per-scan response codes (patient, scan) by Lugano 2014 (CT). Shapes as in ``recist_scan_responses``.

    A patient without a measurable node at baseline (LDi > ``node_normal_mm``) gets NE; scans after the first
    PD are ND.
    """
    target_mm = np.asarray(target_mm, dtype=float)
    base_d = np.asarray(baseline_target_mm, dtype=float)
    nontarget_mm, nt_nadir = _per_lesion(nontarget_mm, baseline_nontarget_mm)
    done = np.asarray(done, dtype=bool)
    new_lesion = np.asarray(new_lesion, dtype=bool)
    n_pat, n_scan = done.shape
    measurable = (base_d > node_normal_mm).any(axis=-1)
    base_spd = (base_d**2).sum(axis=-1)
    nadir_ppd = base_d**2
    off = np.zeros(n_pat, dtype=bool)
    codes = np.full((n_pat, n_scan), ND, dtype=np.int8)
    for s in range(n_scan):
        d = target_mm[:, s]
        ppd = d**2
        nt = nontarget_mm[:, s]
        active = done[:, s] & ~off
        increase = np.where(d <= size_class_mm + _EPS, increase_small_mm, increase_large_mm)
        node_pd = (
            (d > node_normal_mm + _EPS)
            & (ppd >= (1.0 + pd_ppd_fraction) * nadir_ppd * (1 - 1e-12))
            & (d - np.sqrt(nadir_ppd) >= increase - _EPS)
        )
        nontarget_pd = (
            (nt > node_normal_mm + _EPS) & (nt**3 >= nontarget_pd_fold * nt_nadir**3 * (1 - 1e-12))
        ).any(-1)
        pd = new_lesion[:, s] | node_pd.any(axis=-1) | nontarget_pd
        cr = (d <= node_normal_mm + _EPS).all(axis=-1) & (nt <= node_normal_mm + _EPS).all(axis=-1)
        pr = ppd.sum(axis=-1) <= base_spd * (1.0 - pr_fraction) * (1 + 1e-12)
        code = np.where(pd, PD, np.where(cr, CR, np.where(pr, PR, SD)))
        code = np.where(measurable, code, np.where(pd, PD, NE))  # non-measurable: only PD or NE
        codes[:, s] = np.where(active, code, ND)
        nadir_ppd = np.where(active[:, None], np.minimum(nadir_ppd, ppd), nadir_ppd)
        nt_nadir = np.where(active[:, None], np.minimum(nt_nadir, nt), nt_nadir)
        off |= active & (code == PD)
    return codes
