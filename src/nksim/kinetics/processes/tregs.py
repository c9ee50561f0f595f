"""Process 17, host regulatory T cells: depleted by lymphodepletion, rebounding, expanded by IL-2, competing with NK
for IL-2 (not IL-15), and depleted by an IL-2-diphtheria-toxin fusion (Bachanova 2014).

Treg (blood cells/uL) relaxes to ``treg0`` at ``k_treg``, proliferates at ``rho_treg`` x IL-2/(IL-2 + ``ec50_2_treg``)
(high-affinity CD25: far lower EC50 than NK's intermediate-affinity receptor) and is killed by chemotherapy at
``w_kill`` x intensity x exposure like other leukocytes. Each Treg in the body (blood count / ``f_treg_blood``)
consumes IL-2 at up to ``u_treg`` (saturating), which the IL-2 balance of :mod:`.cytokines` subtracts; IL-15 is not
touched. A depletion dose (event) removes the fraction ``a`` of Tregs at once.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Algebraic, Event, Model, Param, State
from nksim.kinetics.symbolic import where

STATES = [State("Treg", "cells/uL", "host regulatory T cells in blood", atol=1e-6)]
PARAMS = [
    Param("w_kill", "1/d", "kill of circulating lymphocytes by chemotherapy at unit intensity", registry="w_kill"),
    Param("treg0", "cells/uL", "blood Tregs at rest", registry="treg0_per_ul"),
    Param("k_treg", "1/d", "homeostatic return of Tregs", registry="k_treg"),
    Param("rho_treg", "1/d", "IL-2-driven Treg proliferation at saturation", registry="rho_treg"),
    Param("ec50_2_treg", "pg/mL", "IL-2 at half-maximal Treg proliferation (high-affinity receptor)",
          registry="ec50_2_treg"),
    Param("u_treg", "pg/(cell d)", "IL-2 consumption per Treg at saturation", registry="u_treg"),
    Param("f_treg_blood", "fraction", "blood share of the body's Tregs", registry="f_treg_blood"),
]
ALGEBRAIC = [Algebraic("treg_il2_use", "pg/(mL d)", "IL-2 consumed by host Tregs")]
EVENTS = [Event("treg_depletion", 9, a="fraction of Tregs removed")]


def quantities(m: Model) -> None:
    # Treg body count per mL of blood volume: blood count x 1000 uL/mL / blood share
    m.define("treg_use_max", lambda m: m.p("u_treg") * m.y("Treg") * 1000.0 / m.p("f_treg_blood"))


def rates(m: Model) -> None:
    treg = m.y("Treg")
    il2 = m.q.il2
    stim = where(il2 > 0.0, il2 / (il2 + m.p("ec50_2_treg")), 0.0)
    m.flux("Treg", m.p("k_treg") * (m.p("treg0") - treg) + m.p("rho_treg") * stim * treg
           - m.p("w_kill") * m.p("ld_int") * m.q.chemo_f * treg)
    m.alg("treg_il2_use", where(il2 > 0.0, m.q.treg_use_max * il2 / (il2 + m.p("k_u")), 0.0))


def on_event(m: Model, kind: str) -> None:
    if kind == "treg_depletion":
        m.assign("Treg", m.raw("Treg") * (1.0 - m.arg_a))
