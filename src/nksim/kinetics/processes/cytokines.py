"""Processes 3 and 10, cytokines: IL-15 and IL-2 in quasi-steady state and the signal S they give NK cells.

IL-15 production ``p_15`` (x (1 + ``a_ld`` intensity e^{-(t - t_LD)/tau_ld}) after lymphodepletion) + secretion by
IL-15-armored transduced cells + absorption from a s.c. depot; IL-2 from its s.c. depot; both cleared first-order and
consumed by product cells (saturating); IL-2 also by host regulatory T cells (:mod:`.tregs`), IL-15 not. Each follows
its production within hours, so each is the positive root of production - clearance - consumption = 0
(:func:`qss_cytokine`). S = u/(1 + u), u = (I15 + I15_eng)/EC50_15 + I2/EC50_2, I15_eng the IL-15-equivalent of an
engager's IL-15 moiety (:mod:`.engager`); cells with membrane or autocrine IL-15 see S_cell = 1 - (1 - s_cell)(1 - S).
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Algebraic, Event, Model, Param, State
from nksim.kinetics.processes.chemotherapy import LD_HORIZON
from nksim.kinetics.symbolic import Expr, exp, sqrt, where

STATES = [
    State("dep_il2", "pg", "s.c. IL-2 depot", atol=1.0, agent="IL-2 injections"),
    State("dep_il15", "pg", "s.c. IL-15 depot", atol=1.0, agent="IL-15 injections"),
]
PARAMS = [
    Param("p_15", "pg/(mL d)", "baseline IL-15 production", derived="il15_baseline_pg_ml x k_15"),
    Param("k_15", "1/d", "IL-15 clearance", registry="k_15"),
    Param("a_ld", "fold", "IL-15 surge after lymphodepletion per unit intensity", registry="a_ld"),
    Param("tau_ld", "d", "decay time of the lymphodepletion IL-15 surge", registry="tau_ld"),
    Param("ec50_15", "pg/mL", "IL-15 at half-maximal signal", registry="ec50_15"),
    Param("ec50_2", "pg/mL", "IL-2 at half-maximal signal", registry="ec50_2"),
    Param("u_cyt", "pg/(cell d)", "cytokine consumption per product cell", registry="u_cyt"),
    Param("k_u", "pg/mL", "cytokine level at half-maximal consumption", registry="k_u"),
    Param("s_cell_t", "1", "cell-intrinsic signal of transduced cells (membrane / autocrine IL-15)",
          derived="s_mem (membrane IL-15) or s_sec_auto (secreted) or 0"),
    Param("s_arm_t", "pg/(cell d)", "IL-15 secreted into blood per armored transduced cell",
          derived="s_arm for secreted IL-15, else 0"),
    Param("ka_il2", "1/d", "s.c. IL-2 absorption", registry="ka_il2"),
    Param("k_2", "1/d", "IL-2 clearance", registry="k_2"),
    Param("V_2", "mL", "IL-2 distribution volume", derived="il2_volume_ml_per_kg x weight"),
    Param("ka_il15", "1/d", "s.c. IL-15 absorption", registry="ka_il15"),
]
ALGEBRAIC = [
    Algebraic("il15_pg_ml", "pg/mL", "systemic IL-15 (quasi-steady state)"),
    Algebraic("il2_pg_ml", "pg/mL", "systemic IL-2 (quasi-steady state)"),
    Algebraic("signal", "1", "cytokine signal S of untransduced cells"),
]
EVENTS = [Event("il2", 3, a="pg absorbed into the IL-2 depot"), Event("il15", 4, a="pg into the IL-15 depot")]


def qss_cytokine(prod: Expr, k: Expr, c: Expr, ku: Expr) -> Expr:
    """Positive root I of prod - k I - c I/(I + ku) = 0 (pg/mL): production, first-order clearance, saturating use.
    Written as one division, the stable form for either sign of b."""
    b = k * ku + c - prod
    root = sqrt(b * b + 4.0 * k * prod * ku)
    num = where(b >= 0.0, 2.0 * prod * ku, -b + root)
    den = where(b >= 0.0, b + root, 2.0 * k)
    return where(prod > 0.0, num / den, 0.0)


def quantities(m: Model) -> None:
    def prod15(m: Model) -> Expr:
        age = m.q.ld_age
        surge = where(m.q.ld_on & (age < LD_HORIZON * m.p("tau_ld")), exp(-age / m.p("tau_ld")), 0.0, lazy=True)
        base = m.p("p_15") * (1.0 + m.p("a_ld") * m.p("ld_int") * surge)
        return base + (m.p("s_arm_t") * m.q.n_trans + m.p("ka_il15") * m.y("dep_il15")) * m.q.inv_vb

    m.define("prod15", prod15)
    m.define("consumption", lambda m: m.p("u_cyt") * m.q.n_prod * m.q.inv_vb)
    m.define("il15", lambda m: qss_cytokine(m.q.prod15, m.p("k_15"), m.q.consumption, m.p("k_u")))
    # IL-2 is also used by host Tregs (:mod:`.tregs`, high affinity); IL-15 is not
    m.define("il2", lambda m: qss_cytokine(m.p("ka_il2") * m.y("dep_il2") / m.p("V_2"), m.p("k_2"),
                                           m.q.consumption + m.q.treg_use_max, m.p("k_u")))
    m.define("u", lambda m: (m.q.il15 + m.q.eng_il15_pg_ml) / m.p("ec50_15")
             + where(m.q.il2 > 0.0, m.q.il2 / m.p("ec50_2"), 0.0))
    m.define("sig", lambda m: m.q.u / (1.0 + m.q.u))
    m.define("sig_t", lambda m: 1.0 - (1.0 - m.p("s_cell_t")) * (1.0 - m.q.sig))


def rates(m: Model) -> None:
    m.flux("dep_il2", -m.p("ka_il2") * m.y("dep_il2"))
    m.flux("dep_il15", -m.p("ka_il15") * m.y("dep_il15"))
    m.alg("il15_pg_ml", m.q.il15)
    m.alg("il2_pg_ml", m.q.il2)
    m.alg("signal", m.q.sig)


def on_event(m: Model, kind: str) -> None:
    if kind == "il2":
        m.assign("dep_il2", m.raw("dep_il2") + m.arg_a)
    elif kind == "il15":
        m.assign("dep_il15", m.raw("dep_il15") + m.arg_a)
