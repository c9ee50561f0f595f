"""RECIST 1.1 and mRECIST response at each scheduled scan.

RECIST 1.1 (Eisenhauer EA et al., Eur J Cancer 2009;45:228-247), target lesions (sum of diameters):
- CR: disappearance of all target lesions (here: every target below the imaging limit);
- PR: sum down >= 30% from the baseline sum;
- PD: sum up >= 20% over the smallest sum on study (nadir, baseline included) AND >= 5 mm absolute;
- SD: neither PR nor PD.

Overall response per time point (Eisenhauer 2009, Table 1): new lesions or non-target progression -> PD;
target CR with non-target disease still present -> PR; target CR with non-target disease absent -> CR. After a
CR, any reappearing disease is PD (Eisenhauer 2009, notes to Table 3; EORTC RECIST FAQ, retrieved).

mRECIST for HCC (Lencioni R, Llovet JM, Semin Liver Dis 2010;30:52-60): the same rules on the diameters of the
viable (arterially enhancing) tumor only; thresholds 30% / 20% as RECIST (unverified, from memory), and no
absolute 5 mm rule (unverified; registry parameter ``clinical_mrecist_pd_abs_mm``).

Model conventions (docs/clinical.md): lesions are spheres, so the longest diameter is the sphere-equivalent
diameter; nodal short-axis rules are not modelled; "unequivocal progression" of the non-target remainder is
operationalised as its volume reaching ``nontarget_pd_fold`` x its nadir (1.728 = 1.2^3: the EORTC RECIST FAQ
equates it to a ~73% increase in tumour burden).
"""

from __future__ import annotations

import numpy as np

from nksim.clinical.codes import CR, ND, NE, PD, PR, SD

_EPS = 1e-9  # mm; protects the >= / <= boundaries of the criteria from floating-point rounding


def _per_lesion(nontarget_mm, baseline_nontarget_mm) -> tuple[np.ndarray, np.ndarray]:
    """Non-target diameters as (patient, scan, lesion) and their baseline (patient, lesion) copy (the nadir).
    """
    nt = np.asarray(nontarget_mm, dtype=float)
    base = np.asarray(baseline_nontarget_mm, dtype=float)
    if nt.ndim == 2:
        nt, base = nt[:, :, None], base[:, None]
    return nt, base.copy()


def recist_scan_responses(
    target_mm: np.ndarray,
    baseline_target_mm: np.ndarray,
    nontarget_mm: np.ndarray,
    baseline_nontarget_mm: np.ndarray,
    new_lesion: np.ndarray,
    done: np.ndarray,
    *,
    pr_fraction: float = 0.30,
    pd_fraction: float = 0.20,
    pd_abs_mm: float = 5.0,
    nontarget_pd_fold: float = 1.728,
    measurable_min_mm: float = 10.0,
) -> np.ndarray:
    """Per-scan response codes (patient, scan) by RECIST 1.1 (or mRECIST when given viable diameters).

    Parameters (mm; diameters already 0 for lesions under the imaging limit):
    target_mm (patient, scan, lesion), baseline_target_mm (patient, lesion) with 0 for lesions that are not
    targets; nontarget_mm (patient, scan[, lesion]) and baseline_nontarget_mm (patient[, lesion]) the
    non-target lesions (each judged on its own; 0 where not a non-target); new_lesion (patient, scan) a new
    lesion seen by this scan; done (patient, scan) the scan took place.

    Scans after the first PD are returned as ND (the patient leaves response assessment); a patient without a
    measurable target lesion at baseline (>= ``measurable_min_mm``) gets NE at every scan done (PD if it
    progresses).
    """
    target_mm = np.asarray(target_mm, dtype=float)
    base_d = np.asarray(baseline_target_mm, dtype=float)
    nontarget_mm, nt_nadir = _per_lesion(nontarget_mm, baseline_nontarget_mm)
    done = np.asarray(done, dtype=bool)
    new_lesion = np.asarray(new_lesion, dtype=bool)
    n_pat, n_scan = done.shape
    base = base_d.sum(axis=-1)
    measurable = (base_d >= measurable_min_mm - _EPS).any(axis=-1)
    nadir = base.copy()
    had_cr = np.zeros(n_pat, dtype=bool)
    off = np.zeros(n_pat, dtype=bool)
    codes = np.full((n_pat, n_scan), ND, dtype=np.int8)
    for s in range(n_scan):
        d = target_mm[:, s].sum(axis=-1)
        nt = nontarget_mm[:, s]
        active = done[:, s] & ~off
        target_pd = (d > 0) & (d >= nadir * (1.0 + pd_fraction) - _EPS) & (d - nadir >= pd_abs_mm - _EPS)
        nontarget_pd = (
            (nt > 0) & (nt_nadir > 0) & (nt**3 >= nontarget_pd_fold * nt_nadir**3 * (1 - 1e-12))
        ).any(-1)
        nt_present = (nt > 0).any(axis=-1)
        reappeared = had_cr & ((d > 0) | nt_present)
        pd = new_lesion[:, s] | target_pd | nontarget_pd | reappeared
        target_cr = d == 0
        cr = target_cr & ~nt_present
        pr = target_cr | (d <= base * (1.0 - pr_fraction) + _EPS)
        code = np.where(pd, PD, np.where(cr, CR, np.where(pr, PR, SD)))
        code = np.where(measurable, code, np.where(pd, PD, NE))  # non-measurable: only PD or NE
        codes[:, s] = np.where(active, code, ND)
        nadir = np.where(active, np.minimum(nadir, d), nadir)
        nt_nadir = np.where(active[:, None], np.minimum(nt_nadir, nt), nt_nadir)
        had_cr |= active & (code == CR)
        off |= active & (code == PD)
    return codes
