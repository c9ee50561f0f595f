"""Process 2, trafficking: the lung first pass, blood -> lesion entry and lesion -> blood egress.

The lung pool is linear and fed only at i.v. infusions, so it is solved in closed form: it releases cells to blood
at ``k_LB`` and loses them at the unsupported death rate in transit. Blood -> lesion l at (Q_l V_l / V_b) ``e_x``
per blood cell (blood share ``f_blood`` of E; ``m_chemo_t`` for transduced cells whose chemokine receptor matches
the indication), entering cells split into killing-competent K (``f_comp``) and non-killing N; egress at ``k_out``.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Algebraic, Model, Param, Pool, State
from nksim.kinetics.symbolic import total

STATES = [
    State("cum_lesion_entry", "cells", "cumulative product cells entering the lesions (from blood and by hepatic-artery "
          "delivery)"),
]
PARAMS = [
    Param("V_b", "mL", "blood volume", derived="blood_volume_ml_per_kg x weight"),
    Param("f_lung", "fraction", "first-pass lung retention of an i.v. dose", registry="f_lung"),
    Param("k_LB", "1/d", "lung -> blood release", registry="k_LB"),
    Param("f_blood", "fraction", "blood share of the functional systemic pool", registry="f_blood"),
    Param("e_x", "fraction", "extravasation efficiency per pass of blood through a lesion", registry="e_x"),
    Param("k_out", "1/d", "lesion -> blood egress", registry="k_out"),
    Param("m_chemo_t", "fold", "entry multiplier of transduced cells (matched chemokine receptor)",
          derived="m_chemo when the construct's receptor matches a chemokine of the indication, else 1"),
    Param("perfusion", "mL/(mL d)", "lesion perfusion Q_l", scope="lesion",
          derived="tumor_perfusion_ml_per_ml_d (lesion-level variability)"),
]
POOLS = [
    Pool("lung_t", "cells", "transduced cells in the lung first-pass pool", rate="lung_rate"),
    Pool("lung_u", "cells", "untransduced cells in the lung first-pass pool", rate="lung_rate"),
]
ALGEBRAIC = [
    Algebraic("lung_t", "cells", "transduced cells in the lung first-pass pool"),
    Algebraic("lung_u", "cells", "untransduced cells in the lung first-pass pool"),
]


def quantities(m: Model) -> None:
    m.define("inv_vb", lambda m: 1.0 / m.p("V_b"))
    m.define("lung_death", lambda m: m.p("delta_0") + m.p("extra_death"))
    m.define("lung_rate", lambda m: m.p("k_LB") + m.q.lung_death)
    m.define("lung_t", lambda m: m.pool("lung_t"))
    m.define("lung_u", lambda m: m.pool("lung_u"))
    m.define_lesion("k_in", lambda m, l: m.pl(l, "perfusion") * m.lq(l).vol * m.q.inv_vb * m.p("e_x"))
    m.define_lesion("fin_t", lambda m, l: m.lq(l).k_in * m.p("m_chemo_t") * m.p("f_blood") * m.y("E_t"))
    m.define_lesion("fin_u", lambda m, l: m.lq(l).k_in * m.p("f_blood") * m.y("E_u"))


def rates(m: Model) -> None:
    k_lb, k_out, f_comp = m.p("k_LB"), m.p("k_out"), m.p("f_comp")
    m.flux("E_t", k_lb * m.q.lung_t)
    m.flux("E_u", k_lb * m.q.lung_u)
    m.flux("E_t", -total(m.lq(l).fin_t for l in range(m.nl)))
    m.flux("E_u", -total(m.lq(l).fin_u for l in range(m.nl)))
    m.flux("E_t", total(k_out * m.lq(l).pool_t for l in range(m.nl)))
    m.flux("E_u", total(k_out * m.lq(l).pool_u for l in range(m.nl)))
    for l in range(m.nl):
        q = m.lq(l)
        m.flux("K_t", f_comp * q.fin_t, l)
        m.flux("K_u", f_comp * q.fin_u, l)
        m.flux("N_t", (1.0 - f_comp) * q.fin_t, l)
        m.flux("N_u", (1.0 - f_comp) * q.fin_u, l)
        for name in ("K_t", "K_u", "N_t", "N_u", "X_t", "X_u"):
            m.flux(name, -k_out * m.y(name, l), l)
    m.flux("cum_lesion_entry", total(m.lq(l).fin_t + m.lq(l).fin_u for l in range(m.nl)))
    m.alg("lung_t", m.q.lung_t)
    m.alg("lung_u", m.q.lung_u)
