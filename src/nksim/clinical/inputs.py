"""The narrow input of the readouts: per-variable arrays at the times the readouts need.

``ReadoutInputs`` is all ``nksim.clinical.outcomes`` reads of a cohort's trajectories, so it can be filled either
from the daily trajectories (``from_trajectories``) or from kernel-tracked summaries:

- tumor cells per lesion at the baseline and at each scan day, ``viable_at``/``dead_at`` (patient, 1 + scan,
  lesion), the marrow blast fraction there ``marrow_at`` (patient, 1 + scan) for the ALL criteria;
- time courses on a grid ``t`` (days, increasing), (patient, time): the total viable tumor cells ``burden``
  (lethal-burden crossing), the cumulative hazards ``new_lesion_hazard`` and ``death_hazard`` (event times are
  their first crossings of a per-patient Exp(1) draw, linear between grid points), the cytokine proxy
  ``cytokine`` (CRS from its running maximum after the first fever, ICANS from its value ``icans_delay_days``
  earlier), host leukocytes ``wbc`` (nadir, time below the cytopenia threshold, DLT durations), product cells
  ``nk`` and transduced product cells ``car_nk`` (peak and its day, detection by the assay) and the cumulative
  off-tumor activity ``offtumor`` (its maximum and first crossing of the grade 1 threshold).

A summaries-fed input may pass a coarse ``t`` holding exactly the samples that decide each readout (the grid
readouts are maxima, minima, first crossings and durations on a piecewise-linear course); ``ok`` marks the
patients whose solve finished (the others get NaN/None readouts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import xarray as xr

from nksim.clinical import _grid
from nksim.errors import InputError

REQUIRED_VARS = ("viable_cells", "dead_cells", "nk_blood_per_ul", "wbc_per_ul", "cytokine_pg_ml")
ZERO_IF_ABSENT = ("new_lesion_hazard", "death_hazard", "offtumor_activity")


@dataclass(frozen=True)
class ReadoutInputs:
    """Arrays the readouts read (see the module docstring); every (patient, ...) array has one row per patient."""

    patient: np.ndarray
    t: np.ndarray
    scan_times: np.ndarray
    viable_at: np.ndarray
    dead_at: np.ndarray
    is_target: np.ndarray
    burden: np.ndarray
    new_lesion_hazard: np.ndarray
    death_hazard: np.ndarray
    cytokine: np.ndarray
    wbc: np.ndarray
    nk: np.ndarray
    offtumor: np.ndarray
    car_nk: np.ndarray | None = None
    marrow_at: np.ndarray | None = None
    ok: np.ndarray | None = None

    def subset(self, rows: np.ndarray) -> "ReadoutInputs":
        """The same inputs for the patients ``rows`` (a boolean mask or indices)."""
        out = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            out[name] = v if name in ("t", "scan_times", "is_target") or v is None else v[rows]
        return ReadoutInputs(**out)

    @classmethod
    def from_trajectories(cls, ds: xr.Dataset, scan_times: np.ndarray, ok: np.ndarray | None = None,
                          marrow: bool = False) -> "ReadoutInputs":
        """Read a trajectories Dataset (docs/clinical.md data contract); ``scan_times`` = baseline then scans.

        Values must be finite and >= 0 for the patients in ``ok`` (all if None); ``marrow``: read
        ``tsys_marrow_fraction`` (required then)."""
        check_dataset(ds)
        t = ds["time"].values.astype(float)
        good = np.ones(ds.sizes["patient"], dtype=bool) if ok is None else np.asarray(ok, dtype=bool)
        arrays: dict[str, np.ndarray | None] = {}
        for key, name, dims in (("viable", "viable_cells", ("patient", "time", "lesion")),
                                ("dead", "dead_cells", ("patient", "time", "lesion")),
                                ("nk", "nk_blood_per_ul", ("patient", "time")),
                                ("wbc", "wbc_per_ul", ("patient", "time")),
                                ("cytokine", "cytokine_pg_ml", ("patient", "time")),
                                ("new_lesion_hazard", "new_lesion_hazard", ("patient", "time")),
                                ("death_hazard", "death_hazard", ("patient", "time")),
                                ("offtumor", "offtumor_activity", ("patient", "time")),
                                ("car_nk", "car_nk_blood_per_ul", ("patient", "time"))):
            if name not in ds:
                arrays[key] = None if key == "car_nk" else np.zeros(tuple(ds.sizes[d] for d in dims))
                continue
            arrays[key] = _checked(name, _arr(ds, name, dims), good)
        if marrow and "tsys_marrow_fraction" not in ds:
            raise InputError("trajectories", "tsys_marrow_fraction", "present for the ALL-marrow criteria")
        is_target = (np.asarray(ds["is_target"].values, dtype=bool) if "is_target" in ds
                     else np.ones(ds.sizes["lesion"], dtype=bool))
        if not is_target.any():
            raise InputError("trajectories.is_target", is_target.tolist(), "at least one target lesion")
        viable, dead = arrays.pop("viable"), arrays.pop("dead")
        marrow_at = (_grid.interp_at(_arr(ds, "tsys_marrow_fraction", ("patient", "time")), t, scan_times)
                     if marrow else None)
        return cls(patient=ds["patient"].values.astype(np.int64), t=t, scan_times=np.asarray(scan_times, float),
                   viable_at=_grid.interp_at(viable, t, scan_times), dead_at=_grid.interp_at(dead, t, scan_times),
                   is_target=is_target, burden=viable.sum(axis=2), marrow_at=marrow_at, ok=ok, **arrays)


def check_dataset(ds: xr.Dataset) -> None:
    """Dimensions, required variables and the time axis of the data contract (InputError naming what is wrong)."""
    for dim in ("patient", "time", "lesion"):
        if dim not in ds.dims:
            raise InputError("trajectories.dims", sorted(ds.dims), f"dimensions patient, time and lesion ({dim} missing)")
    for name in REQUIRED_VARS:
        if name not in ds:
            raise InputError("trajectories", name, f"a Dataset with variables {', '.join(REQUIRED_VARS)} (missing)")
    t = ds["time"].values.astype(float)
    if t.size < 2 or not np.all(np.diff(t) > 0):
        raise InputError("trajectories.time", t[:5].tolist(), "at least two strictly increasing times (days)")


def _checked(name: str, v: np.ndarray, good: np.ndarray) -> np.ndarray:
    """``v`` after checking finite and >= 0 on the rows ``good`` (two reductions, no full-size temporaries)."""
    w = v if good.all() else v[good]
    if w.size and not (w.min() >= 0 and np.isfinite(w.max())):
        bad = ~np.isfinite(w) | (w < 0)
        raise InputError(f"trajectories.{name}", w[bad].flat[0], "finite values >= 0")
    return v


def unit_factor(units: str | None) -> float:
    """Numeric prefix of a units string ('1e9 cell-days' -> 1e9; 'cells/uL' or None -> 1)."""
    m = re.match(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s+\S", units or "")
    return float(m.group(1)) if m else 1.0


def _arr(ds: xr.Dataset, name: str, dims: tuple[str, ...]) -> np.ndarray:
    """Variable as a float array in ``dims`` order; a numeric units prefix is multiplied in."""
    # contiguous (the engine's variables can be strided views of its state array): every pass below reads rows
    values = np.ascontiguousarray(ds[name].transpose(*dims).values, dtype=float)
    factor = unit_factor(ds[name].attrs.get("units"))
    return values * factor if factor != 1.0 else values
