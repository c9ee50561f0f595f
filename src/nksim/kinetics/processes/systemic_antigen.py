"""Process 15, the systemic antigen compartment: normal antigen-bearing cells of a circulating lineage (B cells for
a CD19/CD20 CAR) and a systemic tumor (marrow / blood leukemia carrying the CAR's antigen), which CAR cells of the
systemic pool meet without entering a lesion.

B: homeostatic supply and turnover ``k_b`` (B0 - B), depleted by chemotherapy (``w_kill_b``). T_sys: logistic growth
``r_tsys`` T (1 - T/``k_tsys``) (x the concomitant slowdown; below one cell no growth). Both are killed by one
ratio-dependent CAR law (the lesion law with K_s = ``f_comp`` E^t, kills shared in proportion) and drive
antigen-driven divisions of E^t (the lesion form, R = (B + T)/E^t). Kills and divisions add to the product ledger and
the inflammatory proxy; T_sys adds to the death hazard. Inert (``b_sys0`` = ``k_tsys`` = 0) for other constructs and
indications; the vector kernel then skips it.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State
from nksim.kinetics.processes.killing import kill_rate_per_target
from nksim.kinetics.processes.product import antigen_driven_divisions
from nksim.kinetics.processes.tumor import kill_fraction
from nksim.kinetics.symbolic import Expr, where

STATES = [
    State("B_sys", "cells", "normal antigen-bearing cells of a circulating lineage (B cells), total body"),
    State("cum_kill_sys", "cells", "cumulative normal antigen-bearing cells killed by the CAR pathway"),
    State("cum_bsys_ld", "cells", "cumulative normal antigen-bearing cells killed by lymphodepletion"),
    State("cum_bsys_net", "cells", "cumulative net homeostatic supply k_b (B0 - B) of the antigen-bearing lineage"),
    State("T_sys", "cells", "systemic tumor cells carrying the CAR antigen (marrow / blood leukemia), total body"),
    State("cum_kill_tsys", "cells", "cumulative systemic tumor cells killed by the CAR pathway"),
    State("cum_tsys_growth", "cells", "cumulative net growth of the systemic tumor"),
    State("cum_tsys_chemo", "cells", "cumulative systemic tumor cells killed by chemotherapy (events)"),
]
PARAMS = [
    Param("b_sys0", "cells", "normal antigen-bearing cells at rest (0: compartment inactive)",
          derived="b_blood_per_ul x V_b x 1000 / b_blood_share when the CAR targets a circulating lineage"),
    Param("k_b", "1/d", "turnover of the antigen-bearing lineage", registry="k_b"),
    Param("w_kill_b", "1/d", "kill of the lineage by chemotherapy at unit intensity", registry="w_kill_b"),
    Param("car_sys", "1/d", "CAR kill rate on systemic targets", derived="k_car x f_is x potency (no TGF-beta)"),
    Param("f_b_blood", "fraction", "blood share of the lineage (readouts)", registry="b_blood_share"),
    Param("r_tsys", "1/d", "net growth rate of the systemic tumor", derived="tsys_growth_rate when present"),
    Param("k_tsys", "cells", "marrow capacity of the systemic tumor (0: none)",
          derived="tsys_marrow_cells_per_kg x weight when present"),
]


def quantities(m: Model) -> None:
    m.define("sys_active", lambda m: (m.p("b_sys0") > 0.0) | (m.p("k_tsys") > 0.0))
    m.define("sys_antigen", lambda m: m.y("B_sys") + m.y("T_sys"))
    m.define("sys_kill_all", lambda m: kill_rate_per_target(
        m.p("f_comp") * m.y("E_t"), m.p("car_sys") * m.y("q"), m.p("f_comp") * m.y("E_t"), m.q.sys_antigen,
        m.p("k_r")) * m.q.sys_antigen)
    m.define("sys_div", lambda m: m.q.burst_left * antigen_driven_divisions(
        m.p("rho_a"), m.y("q"), m.q.sys_antigen, m.y("E_t"), m.y("E_t"), m.p("k_a")))


def _on(m: Model, value: Expr) -> Expr:
    """``value`` where the compartment is active, else 0 (computed only when some patient needs it)."""
    return where(m.q.sys_active, value, 0.0, lazy=True)


def rates(m: Model) -> None:
    q = m.q
    bsys, tsys, ag = m.y("B_sys"), m.y("T_sys"), q.sys_antigen
    kill_sys = where(ag > 0.0, q.sys_kill_all * (bsys / ag), 0.0)
    kill_t = where(ag > 0.0, q.sys_kill_all * (tsys / ag), 0.0)
    net_b = m.p("k_b") * (m.p("b_sys0") - bsys)
    ld_b = m.p("w_kill_b") * m.p("ld_int") * q.chemo_f * bsys
    grow_t = where(tsys >= 1.0, m.p("r_tsys") * tsys * (1.0 - tsys / m.p("k_tsys")) * q.conv, 0.0)
    m.flux("B_sys", _on(m, net_b - kill_sys - ld_b))
    m.flux("cum_kill_sys", _on(m, kill_sys))
    m.flux("cum_bsys_ld", _on(m, ld_b))
    m.flux("cum_bsys_net", _on(m, net_b))
    m.flux("T_sys", _on(m, grow_t - kill_t))
    m.flux("cum_kill_tsys", _on(m, kill_t))
    m.flux("cum_tsys_growth", _on(m, grow_t))
    m.flux("cum_death_hazard", _on(m, m.p("h_death") * tsys * 1e-11))
    m.flux("E_t", _on(m, q.sys_div))
    m.flux("cum_prod_div", _on(m, q.sys_div))
    m.flux("cum_ag_div", _on(m, q.sys_div))
    m.alg("cytokine_pg_ml", _on(m, (m.p("c_car") * q.sys_kill_all + m.p("c_div") * q.sys_div)
                                / (m.p("V_b") * m.p("k_c"))))


def on_event(m: Model, kind: str) -> None:
    if kind not in ("lymphodepletion", "log_kill"):
        return
    frac = kill_fraction(m.arg_b if kind == "lymphodepletion" else m.arg_a)
    killed = m.y("T_sys") * frac
    m.assign("T_sys", m.raw("T_sys") - killed)
    m.assign("cum_tsys_chemo", m.raw("cum_tsys_chemo") + killed)
