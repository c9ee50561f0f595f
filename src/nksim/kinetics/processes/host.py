"""Process 11, host: alloreactivity H and leukocytes.

H relaxes to ``h_max`` at ``k_h`` (1, or lower under immunosuppression); lymphodepletion drops it towards ``h_ld`` by
its intensity. Leukocytes relax to ``wbc0`` at ``k_wbc`` and are killed at ``w_kill`` x intensity x the decaying
chemotherapy exposure.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State
from nksim.kinetics.symbolic import minimum, where

STATES = [
    State("H", "1", "host alloreactivity", atol=1e-9),
    State("WBC", "cells/uL", "leukocytes", atol=1e-6),
]
PARAMS = [
    Param("h_ld", "1", "alloreactivity right after full-intensity lymphodepletion", registry="h_ld"),
    Param("k_h", "1/d", "recovery of alloreactivity", registry="k_h"),
    Param("h_max", "1", "alloreactivity at rest", derived="1, or h_max_is under immunosuppression"),
    Param("wbc0", "cells/uL", "leukocytes at rest", registry="wbc0_per_ul"),
    Param("k_wbc", "1/d", "leukocyte recovery", registry="k_wbc"),
    Param("w_kill", "1/d", "leukocyte kill by chemotherapy at unit intensity", registry="w_kill"),
]


def rates(m: Model) -> None:
    m.flux("H", m.p("k_h") * (m.p("h_max") - m.y("H")))
    wbc = m.y("WBC")
    m.flux("WBC", m.p("k_wbc") * (m.p("wbc0") - wbc) - m.p("w_kill") * m.p("ld_int") * m.q.chemo_f * wbc)


def on_event(m: Model, kind: str) -> None:
    if kind == "lymphodepletion":
        hh = m.raw("H")
        h_ld = m.p("h_ld")
        m.assign("H", where(hh > h_ld, hh - minimum(m.arg_a, 1.0) * (hh - h_ld), hh))
