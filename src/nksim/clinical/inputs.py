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

``tracked`` (optional): the kernel-tracked summaries of the continuous solution (``nksim.clinical.tracked``: event
times, maxima, minima, threshold crossings, durations, per patient), which the readouts then use instead of the
time courses (these may then hold only the scan days); ``ok`` marks the patients whose solve finished (the others get
NaN/None readouts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import xarray as xr

from nksim.clinical import _grid
from nksim.errors import InputError

REQUIRED_VARS = ("viable_cells", "dead_cells", "nk_blood_per_ul", "wbc_per_ul", "cytokine_pg_ml")
ZERO_IF_ABSENT = ("new_lesion_hazard", "death_hazard", "offtumor_activity")
_PT, _PTL = ("patient", "time"), ("patient", "time", "lesion")
#: the trajectory variables the readouts read, with their dims
READOUT_DIMS: dict[str, tuple[str, ...]] = {
    "viable_cells": _PTL, "dead_cells": _PTL, "nk_blood_per_ul": _PT, "wbc_per_ul": _PT, "cytokine_pg_ml": _PT,
    "new_lesion_hazard": _PT, "death_hazard": _PT, "offtumor_activity": _PT, "car_nk_blood_per_ul": _PT,
    "tsys_marrow_fraction": _PT}


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
    #: kernel-tracked summaries (name -> (patient, ...) array; ``nksim.clinical.tracked``) or None: the grid
    tracked: Mapping[str, np.ndarray] | None = None
    #: the patients' readout draws (``outcomes.patient_draws``, (patient, 4)) when the caller has them, or None
    draws: np.ndarray | None = None

    def subset(self, rows: np.ndarray) -> "ReadoutInputs":
        """The same inputs for the patients ``rows`` (a boolean mask or indices)."""
        out = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if name == "tracked" and v is not None:
                out[name] = {k: a[rows] for k, a in v.items()}
            else:
                out[name] = v if name in ("t", "scan_times", "is_target") or v is None else v[rows]
        return ReadoutInputs(**out)

    @classmethod
    def from_trajectories(cls, ds: xr.Dataset, scan_times: np.ndarray, ok: np.ndarray | None = None,
                          marrow: bool = False) -> "ReadoutInputs":
        """Read a trajectories Dataset (docs/clinical.md data contract); ``scan_times`` = baseline then scans.

        Values must be finite and >= 0 for the patients in ``ok`` (all if None); ``marrow``: read
        ``tsys_marrow_fraction`` (required then)."""
        check_dataset(ds)
        arrays: dict[str, np.ndarray] = {}
        for name, dims in READOUT_DIMS.items():
            if name in ds and (name != "tsys_marrow_fraction" or marrow):
                arrays[name] = _arr(ds, name, dims)
        if marrow and "tsys_marrow_fraction" not in ds:
            raise InputError("trajectories", "tsys_marrow_fraction", "present for the ALL-marrow criteria")
        is_target = (np.asarray(ds["is_target"].values, dtype=bool) if "is_target" in ds
                     else np.ones(ds.sizes["lesion"], dtype=bool))
        return cls.from_arrays(ds["patient"].values.astype(np.int64), ds["time"].values.astype(float), scan_times,
                               arrays, is_target, ok=ok, marrow=marrow)

    @classmethod
    def from_arrays(cls, patient: np.ndarray, t: np.ndarray, scan_times: np.ndarray, arrays: dict[str, np.ndarray],
                    is_target: np.ndarray, ok: np.ndarray | None = None, marrow: bool = False,
                    tracked: Mapping[str, np.ndarray] | None = None, draws: np.ndarray | None = None
                    ) -> "ReadoutInputs":
        """From trajectory variables as arrays (``READOUT_DIMS`` names and dims, numeric unit prefixes multiplied
        in; the ``ZERO_IF_ABSENT`` ones and ``car_nk_blood_per_ul`` may be missing) on the grid ``t``; the checks
        of ``from_trajectories``; ``tracked``: kernel-tracked summaries, ``draws``: readout draws (see the class)."""
        n_pat = len(patient)
        good = np.ones(n_pat, dtype=bool) if ok is None else np.asarray(ok, dtype=bool)
        for name in REQUIRED_VARS:
            if name not in arrays:
                raise InputError("trajectories", name, f"variables {', '.join(REQUIRED_VARS)} (missing)")
        n_les = arrays["viable_cells"].shape[2]
        shape = {"patient": n_pat, "time": t.size, "lesion": n_les}
        out: dict[str, np.ndarray | None] = {}
        for key, name in (("viable", "viable_cells"), ("dead", "dead_cells"), ("nk", "nk_blood_per_ul"),
                          ("wbc", "wbc_per_ul"), ("cytokine", "cytokine_pg_ml"),
                          ("new_lesion_hazard", "new_lesion_hazard"), ("death_hazard", "death_hazard"),
                          ("offtumor", "offtumor_activity"), ("car_nk", "car_nk_blood_per_ul")):
            if name not in arrays:
                out[key] = None if key == "car_nk" else np.zeros(tuple(shape[d] for d in READOUT_DIMS[name]))
                continue
            out[key] = _checked(name, arrays[name], good)
        is_target = np.asarray(is_target, dtype=bool)
        if not is_target.any():
            raise InputError("trajectories.is_target", is_target.tolist(), "at least one target lesion")
        if marrow and "tsys_marrow_fraction" not in arrays:
            raise InputError("trajectories", "tsys_marrow_fraction", "present for the ALL-marrow criteria")
        viable, dead = out.pop("viable"), out.pop("dead")
        marrow_at = _grid.interp_at(arrays["tsys_marrow_fraction"], t, scan_times) if marrow else None
        return cls(patient=np.asarray(patient, dtype=np.int64), t=t, scan_times=np.asarray(scan_times, float),
                   viable_at=_grid.interp_at(viable, t, scan_times), dead_at=_grid.interp_at(dead, t, scan_times),
                   is_target=is_target, burden=_grid.last_axis_sum(viable), marrow_at=marrow_at, ok=ok, tracked=tracked,
                   draws=draws, **out)


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
