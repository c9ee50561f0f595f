"""Process 14, on-target off-tumor activity: accumulates q x E^t x the normal-tissue expression of the CAR's
targets (``offtumor_w``; AND logic multiplies the expressions), in 1e9 cell-days."""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State

STATES = [State("cum_offtumor", "1e9 cell-days", "cumulative CAR activity against normal tissue x its antigen expression",
                atol=1e-9)]
PARAMS = [Param("offtumor_w", "1", "normal-tissue expression of the CAR's targets",
                derived="spec.catalog ANTIGENS normal_tissue_expression")]


def rates(m: Model) -> None:
    m.flux("cum_offtumor", m.p("offtumor_w") * m.y("q") * m.y("E_t") * 1e-9)
