"""What a simulation returns besides the patient table: ``simulate(..., outputs=...)``.

- ``"daily"``: every trajectory variable on the scenario's save grid (``simulation.save_every_d``); the default
  (no ``outputs``) gives the same, built on first access of ``.trajectories`` (the cohort is solved for its patient
  table first, then again with the grid saved when asked: the same numbers, memory O(chunk) until then);
- ``"scans"``: every variable at the baseline and the scan days only;
- ``"summary"``: no trajectories (the per-patient table only; memory O(chunk));
- a grid of days (increasing, within the horizon): every variable at those days;
- a list of variable names: those variables on the save grid.

The readouts (``nksim.clinical.outcomes``) are the same whatever the choice: the solver's steps do not depend on the
save times (values between steps come from the dense output), so a value at a given time is the same bit for bit
whatever other times are saved; the compiled engine's readouts come from the readout days and the summaries its
kernel tracks on the continuous solution (``nksim.engine.solve_summaries``, ``nksim.clinical.tracked``), the
reference backend's from the variables they read (``READOUT_VARIABLES``) on the save grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nksim.errors import InputError
from nksim.kinetics.trajectories import VARIABLES

KINDS = ("daily", "scans", "summary")
#: the trajectory variables ``nksim.clinical.outcomes`` reads (and the lesion coordinate ``is_target``)
READOUT_VARIABLES = ("viable_cells", "dead_cells", "nk_blood_per_ul", "car_nk_blood_per_ul", "wbc_per_ul",
                     "cytokine_pg_ml", "offtumor_activity", "new_lesion_hazard", "death_hazard",
                     "tsys_marrow_fraction")
OutputsSpec = str | Sequence[float] | Sequence[str] | np.ndarray


@dataclass(frozen=True)
class Outputs:
    """A parsed ``outputs`` choice: ``kind`` one of daily / scans / summary / grid / variables."""

    kind: str
    times: tuple[float, ...] = ()
    variables: tuple[str, ...] = ()
    lazy: bool = False  #: daily trajectories built on first access (``simulate``'s default in memory)

    @classmethod
    def parse(cls, spec: OutputsSpec | Outputs | None) -> Outputs:
        """Check a user's ``outputs`` (InputError naming what is allowed)."""
        if spec is None:
            return cls("daily")
        if isinstance(spec, Outputs):
            return spec
        allowed = ('"daily", "scans", "summary", an increasing list of days or a list of trajectory variable '
                   "names")
        if isinstance(spec, str):
            if spec not in KINDS:
                raise InputError("outputs", spec, allowed)
            return cls(spec)
        items = list(np.asarray(spec).ravel()) if isinstance(spec, np.ndarray) else list(spec)
        if not items:
            raise InputError("outputs", spec, allowed + " (not empty)")
        if all(isinstance(v, str) for v in items):
            unknown = [v for v in items if v not in VARIABLES]
            if unknown:
                raise InputError("outputs", unknown[0], f"a trajectory variable: {', '.join(VARIABLES)}")
            return cls("variables", variables=tuple(dict.fromkeys(items)))
        try:
            days = np.asarray(items, dtype=float)
        except (TypeError, ValueError):
            raise InputError("outputs", spec, allowed) from None
        if not np.all(np.isfinite(days)) or np.any(np.diff(days) <= 0):
            raise InputError("outputs", days[:5].tolist(), "finite days in strictly increasing order")
        return cls("grid", times=tuple(float(d) for d in days))

    def times_for(self, save_grid: np.ndarray, scan_times: np.ndarray, t0: float, t_end: float) -> np.ndarray | None:
        """The days of the returned trajectories (None for ``summary``)."""
        if self.kind == "summary":
            return None
        if self.kind == "scans":
            return np.unique(np.asarray(scan_times, dtype=float))
        if self.kind == "grid":
            days = np.asarray(self.times)
            if days[0] < t0 or days[-1] > t_end:
                raise InputError("outputs", [days[0], days[-1]], f"days within the simulated span [{t0}, {t_end}]")
            return days
        return np.asarray(save_grid, dtype=float)


def merged_grid(readout_grid: np.ndarray, out_times: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray | slice, np.ndarray | slice]:
    """(solver save grid: the union of both, positions of ``readout_grid`` in it, positions of ``out_times``);
    positions are a slice where they are a contiguous run (a view of the solver's output, not a copy)."""
    if out_times is None:
        return readout_grid, slice(0, readout_grid.size), slice(0, 0)
    grid = np.union1d(readout_grid, out_times)
    return grid, _as_slice(np.searchsorted(grid, readout_grid)), _as_slice(np.searchsorted(grid, out_times))


def _as_slice(idx: np.ndarray) -> np.ndarray | slice:
    if idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx
