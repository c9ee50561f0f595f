"""Process 11, host: alloreactivity H and leukocytes.

H relaxes to ``h_max`` at ``k_h`` (1, or lower under immunosuppression); lymphodepletion drops it towards ``h_ld`` by
its intensity. Leukocytes follow the semi-mechanistic myelosuppression model of Friberg et al. 2002 (J Clin Oncol
20:4713): proliferating marrow progenitors -> three maturing transit compartments -> circulating leukocytes (WBC), each
step at ``k_wbc`` (4 / the mean transit time), progenitor proliferation with the feedback (``wbc0``/WBC)^``wbc_gamma``;
lymphodepleting chemotherapy kills progenitors at ``w_kill_marrow`` x intensity x the decaying exposure, so the
leukocyte nadir comes about a week after it and recovery follows the marrow (all compartments in cells/uL-equivalents,
equal to ``wbc0`` at rest).
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State, TransitChain
from nksim.kinetics.symbolic import minimum, pos, power, where

STATES = [
    State("H", "1", "host alloreactivity", atol=1e-9),
    State("WBC", "cells/uL", "leukocytes", atol=1e-6),
    State("WBC_prol", "cells/uL", "proliferating marrow progenitors of leukocytes (cells/uL-equivalent)"),
    State("WBC_tr1", "cells/uL", "maturing leukocyte precursors, first transit compartment"),
    State("WBC_tr2", "cells/uL", "maturing leukocyte precursors, second transit compartment"),
    State("WBC_tr3", "cells/uL", "maturing leukocyte precursors, third transit compartment"),
]
PARAMS = [
    Param("h_ld", "1", "alloreactivity right after full-intensity lymphodepletion", registry="h_ld"),
    Param("k_h", "1/d", "recovery of alloreactivity", registry="k_h"),
    Param("h_max", "1", "alloreactivity at rest", derived="1, or h_max_is under immunosuppression"),
    Param("wbc0", "cells/uL", "leukocytes at rest", registry="wbc0_per_ul"),
    Param("k_wbc", "1/d", "leukocyte maturation transit rate (4 / mean transit time)", registry="k_wbc"),
    Param("wbc_gamma", "1", "feedback of circulating leukocytes on progenitor proliferation", registry="wbc_gamma"),
    Param("w_kill_marrow", "1/d", "kill of proliferating progenitors by chemotherapy at unit intensity",
          registry="w_kill_marrow"),
]

# the maturation chain's transit terms (below) are solved exactly by the integrator: with the feedback its linear
# modes (-0.8 to -1.2 /d) would otherwise limit explicit steps to ~3 d for the whole year
CHAINS = [TransitChain(("WBC_prol", "WBC_tr1", "WBC_tr2", "WBC_tr3", "WBC"), "k_wbc", "Friberg leukocyte maturation")]


def rates(m: Model) -> None:
    m.flux("H", m.p("k_h") * (m.p("h_max") - m.y("H")))
    ktr, wbc, prol = m.p("k_wbc"), m.y("WBC"), m.y("WBC_prol")
    feedback = power(m.p("wbc0") / (pos(wbc) + 1.0), m.p("wbc_gamma"))
    kill = m.p("w_kill_marrow") * m.p("ld_int") * m.q.chemo_f
    m.flux("WBC_prol", ktr * prol * feedback - ktr * prol - kill * prol)
    m.flux("WBC_tr1", ktr * (prol - m.y("WBC_tr1")))
    m.flux("WBC_tr2", ktr * (m.y("WBC_tr1") - m.y("WBC_tr2")))
    m.flux("WBC_tr3", ktr * (m.y("WBC_tr2") - m.y("WBC_tr3")))
    m.flux("WBC", ktr * (m.y("WBC_tr3") - wbc))


def on_event(m: Model, kind: str) -> None:
    if kind == "lymphodepletion":
        hh = m.raw("H")
        h_ld = m.p("h_ld")
        m.assign("H", where(hh > h_ld, hh - minimum(m.arg_a, 1.0) * (hh - h_ld), hh))
