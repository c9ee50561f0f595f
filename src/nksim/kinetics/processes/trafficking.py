"""Process 2, trafficking: the lung first pass, blood -> lesion entry and lesion -> blood egress.

The lung pool is linear and fed only at i.v. infusions, so it is solved in closed form: it releases cells to blood
at ``k_LB`` and loses them at the unsupported death rate in transit. Blood -> lesion l at (Q_l V_l / V_b) ``e_x``
per blood cell (blood share ``f_blood`` of E; ``m_chemo_t`` for transduced cells whose chemokine receptor matches
the indication; ``m_home`` for T-cell products in lymph-node lesions, which T cells enter through high endothelial
venules and NK do not), entering cells split into killing-competent K (``f_comp``) and non-killing N; egress at
``k_exit``: ``k_out`` for NK, the lymph transit rate ``k_ln_exit`` for T cells in a lymph node (they recirculate).

Host access shell: NK that leave the host microvessels within ``d_access`` of the lesion's edge also reach its tumor
cells (a small avascular focus is fed from the surrounding parenchyma, Carmeliet & Jain 2000), so a lesion's
catchment is Q_l V_l + Q_host V_shell, V_shell = 4/3 pi ((r + d)^3 - r^3) of the equivalent sphere of radius r, with
Q_host the liver's perfusion for a lesion in the liver (``q_liver``) and the lesion's own elsewhere. Per tumor cell
the shell adds (Q_host/Q_l)((1 + d/r)^3 - 1): ~3 d/r for a large lesion (a few percent at 3 cm), many-fold for a
sub-millimetre focus (:func:`access_shell_volume`).
"""

from __future__ import annotations

import math

from nksim.kinetics.processes.base import Algebraic, Model, Param, Pool, State
from nksim.kinetics.symbolic import power, total

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
    Param("k_exit", "1/d", "lesion -> blood egress of the product",
          derived="k_ln_exit for a T-cell product in an indication whose lesions are lymph nodes, else k_out"),
    Param("m_chemo_t", "fold", "entry multiplier of transduced cells (matched chemokine receptor)",
          derived="m_chemo when the construct's receptor matches a chemokine of the indication, else 1"),
    Param("d_access", "cm", "depth of the host tissue around a lesion from which extravasated NK reach its tumor cells",
          derived="host_access_depth_um x 1e-4"),
    Param("q_liver", "mL/(mL d)", "perfusion of the liver parenchyma around a lesion in the liver",
          registry="liver_perfusion_ml_per_ml_d"),
    Param("m_home", "fold", "entry multiplier of the product into the indication's lesions by native homing",
          derived="m_hev for a T-cell product in an indication whose lesions are lymph nodes, else 1"),
    Param("ret_ln", "fraction", "share of the lesion egress of transduced cells blocked at full antigen stimulation",
          derived="ln_retention for a T-cell product in an indication whose lesions are lymph nodes, else 0"),
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
    m.define_lesion("v_shell", lambda m, l: access_shell_volume(m.lq(l).vol, m.p("d_access")))
    # host perfusion around the lesion: the liver's for a lesion in the liver (ia_share = 1), else the lesion's own
    m.define_lesion("q_host", lambda m, l: m.pl(l, "ia_share") * m.p("q_liver")
                    + (1.0 - m.pl(l, "ia_share")) * m.pl(l, "perfusion"))
    m.define_lesion("k_in", lambda m, l: (m.pl(l, "perfusion") * m.lq(l).vol + m.lq(l).q_host * m.lq(l).v_shell)
                    * m.q.inv_vb * m.p("e_x") * m.p("m_home"))
    # transduced cells stimulated by antigen in the lesion are held there (ret_ln: T cells in a lymph node)
    m.define_lesion("k_exit_t", lambda m, l: m.p("k_exit") * (1.0 - m.p("ret_ln") * m.lq(l).stim_l))
    m.define_lesion("fin_t", lambda m, l: m.lq(l).k_in * m.p("m_chemo_t") * m.p("f_blood") * m.y("E_t"))
    m.define_lesion("fin_u", lambda m, l: m.lq(l).k_in * m.p("f_blood") * m.y("E_u"))


def access_shell_volume(vol, depth):
    """Volume (mL) of the host shell of thickness ``depth`` (cm) around a sphere of volume ``vol`` (mL):
    4/3 pi ((r + d)^3 - r^3) = 4 pi (r^2 d + r d^2) + 4/3 pi d^3. Works on symbolic values and on numbers alike."""
    r = power(vol * (3.0 / (4.0 * math.pi)), 1.0 / 3.0) if not isinstance(vol, (int, float)) else \
        (vol * 3.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
    return 4.0 * math.pi * (r * r * depth + r * depth * depth) + 4.0 / 3.0 * math.pi * depth * depth * depth


def rates(m: Model) -> None:
    k_lb, k_out, f_comp = m.p("k_LB"), m.p("k_exit"), m.p("f_comp")
    m.flux("E_t", k_lb * m.q.lung_t)
    m.flux("E_u", k_lb * m.q.lung_u)
    m.flux("E_t", -total(m.lq(l).fin_t for l in range(m.nl)))
    m.flux("E_u", -total(m.lq(l).fin_u for l in range(m.nl)))
    m.flux("E_t", total(m.lq(l).k_exit_t * m.lq(l).pool_t for l in range(m.nl)))
    m.flux("E_u", total(k_out * m.lq(l).pool_u for l in range(m.nl)))
    for l in range(m.nl):
        q = m.lq(l)
        m.flux("K_t", f_comp * q.fin_t, l)
        m.flux("K_u", f_comp * q.fin_u, l)
        m.flux("N_t", (1.0 - f_comp) * q.fin_t, l)
        m.flux("N_u", (1.0 - f_comp) * q.fin_u, l)
        for name in ("K_t", "N_t", "X_t"):
            m.flux(name, -q.k_exit_t * m.y(name, l), l)
        for name in ("K_u", "N_u", "X_u"):
            m.flux(name, -k_out * m.y(name, l), l)
    m.flux("cum_lesion_entry", total(m.lq(l).fin_t + m.lq(l).fin_u for l in range(m.nl)))
    m.alg("lung_t", m.q.lung_t)
    m.alg("lung_u", m.q.lung_u)
