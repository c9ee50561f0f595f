"""Process 12, the inflammatory cytokine proxy C (IL-6-like, quasi-steady state), read by the CRS model:
C = ``c0`` + (``c_car`` CAR kills + ``c_nk`` other kills (natural, ADCC, engager) + ``c_div`` antigen-driven divisions)/(V_b ``k_c``)
+ ``c_il2`` I2/``k_c``. Other processes (the systemic antigen compartment) add their own release to C.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Algebraic, Model, Param

PARAMS = [
    Param("c0", "pg/mL", "baseline proxy level", registry="c0_pg_ml"),
    Param("k_c", "1/d", "proxy clearance", registry="k_c"),
    Param("c_car", "pg/cell", "release per CAR kill", derived="c_car x release (1 T cells, nk_t_release_ratio NK)"),
    Param("c_nk", "pg/cell", "release per natural or ADCC kill", derived="c_nk x release"),
    Param("c_div", "pg/cell", "release per antigen-driven division", derived="c_div x release"),
    Param("c_il2", "1/d", "proxy released per pg/mL IL-2", registry="c_il2"),
]
ALGEBRAIC = [
    Algebraic("cytokine_pg_ml", "pg/mL", "inflammatory cytokine proxy C, IL-6-like (quasi-steady state)"),
    Algebraic("kill_rate", "cells/d", "tumor cells killed per day, all pathways"),
]


def rates(m: Model) -> None:
    q = m.q
    other = q.kill_nat + q.kill_adcc + q.kill_eng + q.kill_eng_endo
    release = m.p("c_car") * q.kill_car + m.p("c_nk") * other + m.p("c_div") * q.div_ag
    m.alg("cytokine_pg_ml", m.p("c0") + (release * q.inv_vb + m.p("c_il2") * q.il2) * (1.0 / m.p("k_c")))
    m.alg("kill_rate", q.kill_car + other)
