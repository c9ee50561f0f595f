"""nksim.spatial: lattice agent-based model of NK / CAR-NK cells in the tumor microenvironment.

Public API: :class:`Simulation` (create / run / resume / dataset), :func:`simulate`, :func:`run_to_folder`,
:func:`coarse_grain`, :func:`load_spatial_spec`.
"""

from nksim.spatial.model import Simulation, simulate
from nksim.spec.spatial import SpatialSpec, load_spatial_spec

__all__ = ["Simulation", "simulate", "SpatialSpec", "load_spatial_spec"]
