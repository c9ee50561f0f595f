"""Lytic units (Bryant 1992 convention): the number of effectors that lyse x% of the targets, per 10^7 effectors.

LU_x per 10^7 = 10^7 / (E:T_x x targets per well), with E:T_x the ratio giving x% specific lysis, read off the
titration by linear interpolation in log E:T between the two bracketing points (below the first tested ratio,
linear interpolation from the origin: 0 effectors lyse nothing). A curve that never reaches x% gives NaN (the
activity is below 10^7 / (largest E:T x targets) LU, reported as "< " that bound by the CLI).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.registry import load_registry


def et_at_lysis(et: np.ndarray, lysis: np.ndarray, percent: float) -> float:
    """E:T ratio at which the titration first reaches ``percent`` % specific lysis (NaN if never)."""
    order = np.argsort(et)
    x = np.asarray(et, float)[order]
    y = np.asarray(lysis, float)[order]
    keep = x > 0
    x, y = x[keep], y[keep]
    if x.size == 0:
        return math.nan
    hit = np.nonzero(y >= percent)[0]
    if hit.size == 0:
        return math.nan
    i = int(hit[0])
    if i == 0:
        return float(x[0] * percent / y[0]) if y[0] > 0 else float(x[0])
    lx0, lx1 = math.log(x[i - 1]), math.log(x[i])
    f = (percent - y[i - 1]) / (y[i] - y[i - 1])
    return float(math.exp(lx0 + f * (lx1 - lx0)))


def lytic_units(curve: pd.DataFrame, percent: float | None = None, per_cells: float | None = None,
                targets_per_well: float | None = None) -> float:
    """Lytic units per ``per_cells`` effectors (default registry ``assay_lu_per_cells``, 1e7) at ``percent`` %
    lysis (default registry ``assay_lu_percent``, 20; 30 is the other common choice).

    ``curve`` needs columns ``et_ratio`` and ``pct_specific_lysis`` (as ``release_assay`` returns, or measured
    data); the targets per well come from ``targets_per_well``, a ``targets`` column or ``curve.attrs``."""
    reg = load_registry()
    percent = reg["assay_lu_percent"].default if percent is None else float(percent)
    per_cells = reg["assay_lu_per_cells"].default if per_cells is None else float(per_cells)
    if not (0.0 < percent < 100.0):
        raise InputError("percent", percent, "a lysis percentage in (0, 100), usually 20 or 30")
    if not (per_cells > 0 and math.isfinite(per_cells)):
        raise InputError("per_cells", per_cells, "a number of effectors > 0 (Bryant 1992: 1e7)")
    for col in ("et_ratio", "pct_specific_lysis"):
        if col not in curve.columns:
            raise InputError("curve", list(curve.columns), f"a table with columns et_ratio and pct_specific_lysis")
    if targets_per_well is None:
        if "targets" in curve.columns:
            targets_per_well = float(curve["targets"].iloc[0])
        else:
            targets_per_well = curve.attrs.get("targets_per_well")
    if targets_per_well is None or not float(targets_per_well) > 0:
        raise InputError("targets_per_well", targets_per_well, "the number of target cells per well (> 0)")
    et_x = et_at_lysis(curve["et_ratio"].to_numpy(float), curve["pct_specific_lysis"].to_numpy(float), percent)
    if math.isnan(et_x):
        return math.nan
    return per_cells / (et_x * float(targets_per_well))
