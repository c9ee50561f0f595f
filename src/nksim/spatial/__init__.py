"""nksim.spatial: lattice agent-based model of NK / CAR-NK cells in the tumor microenvironment (docs/spatial.md).

Public API
- :class:`Simulation`: ``Simulation.create(spec, seed, days).run(checkpoint=..., checkpoint_every_steps=...)``,
  ``Simulation.resume(path)``, ``.dataset()`` (xarray), ``.kill_distribution()``, ``.depth_profile()``.
- :func:`simulate` (spec -> Dataset), :func:`load_spatial_spec` / :class:`SpatialSpec` (scenarios).
- :func:`write_outputs` (run folder: NetCDF, PNG, GIF, summary).
- :func:`coarse_grain` -> DataFrame of e_x, k_nat_eff, k_car_eff, exhausted_fraction, f_comp per condition;
  :func:`load_coarse_table`, :func:`lookup_coarse` (nearest condition), :func:`lesion_ode`.
- :data:`CLAIMS`, :func:`compare` (the seeds' qualitative claims over seeds).
"""

import nksim.rng as _rng
from nksim.numba_cache import refresh as _refresh_numba_cache

_refresh_numba_cache(__file__, also=(_rng.__file__,))  # the ABM's generator compiles nksim.rng's SplitMix64 code

from nksim.spatial.model import Simulation, simulate  # noqa: E402
from nksim.spec.spatial import SpatialSpec, load_spatial_spec  # noqa: E402


def __getattr__(name: str):
    # heavier helpers load on first use (pandas, matplotlib, scipy)
    if name == "write_outputs":
        from nksim.spatial.outputs import write_outputs

        return write_outputs
    if name in ("coarse_grain", "lesion_ode"):
        from nksim.spatial import coarse

        return getattr(coarse, name)
    if name == "load_coarse_table":
        from nksim.spatial.coarse import load_table

        return load_table
    if name == "lookup_coarse":
        from nksim.spatial.coarse import lookup

        return lookup
    if name in ("CLAIMS", "compare"):
        from nksim.spatial import claims

        return getattr(claims, name)
    raise AttributeError(name)


__all__ = ["Simulation", "simulate", "SpatialSpec", "load_spatial_spec", "write_outputs", "coarse_grain",
           "lesion_ode", "load_coarse_table", "lookup_coarse", "CLAIMS", "compare"]
