"""Lesion size from tumor cell counts: volume, sphere-equivalent diameter, imaging limit.

Volume of a lesion = cells / cell density (1e8-1e9 cells/cm3, Del Monte 2009); diameter of the equal-volume
sphere d = (6 V / pi)^(1/3); a lesion below the imaging limit (about 5 mm) counts as gone (0 mm), as RECIST
1.1 records a lesion that has disappeared. RECIST uses viable + dead cells (the whole mass on CT); mRECIST the
viable (enhancing) cells only.
"""

from __future__ import annotations

import numpy as np


def volume_cm3(cells: np.ndarray, density_per_cm3: float) -> np.ndarray:
    """Tumor volume (cm3) of ``cells`` tumor cells at ``density_per_cm3``."""
    return np.asarray(cells, dtype=float) / density_per_cm3


def diameter_mm(cells: np.ndarray, density_per_cm3: float, imaging_limit_mm: float = 0.0) -> np.ndarray:
    """Sphere-equivalent diameter (mm); below ``imaging_limit_mm`` it is reported as 0 (not seen)."""
    v = np.clip(volume_cm3(cells, density_per_cm3), 0.0, None)
    d = 10.0 * np.cbrt(6.0 * v / np.pi)
    return np.where(d < imaging_limit_mm, 0.0, d)


def cells_for_diameter(d_mm: np.ndarray | float, density_per_cm3: float) -> np.ndarray:
    """Inverse of :func:`diameter_mm` (no imaging limit): cells in a sphere of diameter ``d_mm``."""
    d_cm = np.asarray(d_mm, dtype=float) / 10.0
    return np.pi / 6.0 * d_cm**3 * density_per_cm3
