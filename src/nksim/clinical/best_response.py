"""Confirmation of response and best overall response (BOR).

RECIST 1.1 (Eisenhauer 2009, section 4.4 and Table 3): in single-arm trials a CR or PR must be confirmed by a
repeat assessment at least 4 weeks (28 days) after the criteria were first met; SD must be met at least once
at or after a minimum interval from the start of treatment (protocol-defined, "in general not less than 6-8
weeks":
unverified, from memory). Here:
- confirmed CR: a CR at scan i and a CR at a later scan j with t_j - t_i >= min days, all scans i..j CR;
- confirmed PR: a PR or CR at scan i and a later scan j with t_j - t_i >= min days, all scans i..j PR or CR;
- BOR = CR if a confirmed CR, else PR if a confirmed PR, else SD if any SD-or-better scan at day >=
  sd_min_days (an unconfirmed CR/PR counts as SD), else PD if any PD, else NE. Without confirmation the best
  per-scan response is taken (SD still needs sd_min_days).
"""

from __future__ import annotations

import numpy as np

from nksim.clinical.codes import CR, NE, PD, PR, SD


def best_overall_response(
    codes: np.ndarray,
    scan_days: np.ndarray,
    *,
    confirmation: bool,
    confirmation_min_days: float = 28.0,
    sd_min_days: float = 42.0,
) -> np.ndarray:
    """BOR code per patient from per-scan codes (patient, scan); scans not done are ND (-1)."""
    codes = np.asarray(codes)
    t = np.asarray(scan_days, dtype=float)
    n_pat, n_scan = codes.shape
    if confirmation:
        conf_cr = np.zeros(n_pat, dtype=bool)
        conf_pr = np.zeros(n_pat, dtype=bool)
        for i in range(n_scan):
            all_cr = np.ones(n_pat, dtype=bool)
            all_resp = np.ones(n_pat, dtype=bool)
            for j in range(i, n_scan):
                all_cr &= codes[:, j] == CR
                all_resp &= codes[:, j] >= PR
                if j > i and t[j] - t[i] >= confirmation_min_days:
                    conf_cr |= all_cr
                    conf_pr |= all_resp
        top = np.where(conf_cr, CR, np.where(conf_pr, PR, NE))
    else:
        top = np.where((codes == CR).any(axis=1), CR, np.where((codes == PR).any(axis=1), PR, NE))
    sd_ok = ((codes >= SD) & (t[None, :] >= sd_min_days)).any(axis=1)
    any_pd = (codes == PD).any(axis=1)
    fallback = np.where(sd_ok, SD, np.where(any_pd, PD, NE))
    return np.where(top >= PR, top, fallback).astype(np.int8)


def continuing_partial_response(
    codes: np.ndarray,
    scan_days: np.ndarray,
    *,
    confirmation: bool,
    confirmation_min_days: float = 28.0,
) -> np.ndarray:
    """Per-scan codes with SD read as continuing PR once a PR has been assigned and, if required, confirmed.

    EORTC RECIST FAQ (recist.eortc.org, retrieved): "once a PR has been assigned, and confirmed (if required),
    then the best response is always PR even if subsequent time-point measurements no longer quite meet the
    criteria (providing that the criteria for PD are not met)"; e.g. sums 100 -> 70, 70, 80, 80 read PR at
    every time point. PD and CR are kept; only the per-scan labels change (the best overall response is the
    same).
    """
    out = np.array(codes, copy=True)
    t = np.asarray(scan_days, dtype=float)
    n_pat, n_scan = out.shape
    established = np.zeros(n_pat, dtype=bool)
    for j in range(n_scan):
        out[:, j] = np.where(established & (out[:, j] == SD), PR, out[:, j])
        if not confirmation:
            established |= out[:, j] >= PR
            continue
        held = out[:, j] >= PR
        for i in range(j - 1, -1, -1):
            held &= out[:, i] >= PR
            if t[j] - t[i] >= confirmation_min_days:
                established |= held
                break
    return out
