"""Process 15, the systemic antigen compartment: normal antigen-bearing cells of a circulating lineage (B cells for
a CD19/CD20 CAR) and a systemic tumor (marrow / blood leukemia carrying the CAR's antigen), which CAR cells of the
systemic pool meet without entering a lesion.

B: renewal at ``k_b`` (``f_bm`` B0 + (1 - ``f_bm``) B)(1 - B/B0): near rest the lineage relaxes at ``k_b``; once
depleted it is rebuilt from the marrow's output (a share ``f_bm`` of its renewal) and its own homeostatic division,
so a depleted lineage takes months to return (B cells after rituximab or CD19 CAR-T) and a few CAR cells suffice to
keep it away; depleted by chemotherapy (``w_kill_b``). T_sys: logistic growth
``r_tsys`` T (1 - T/``k_tsys``) (x the concomitant slowdown; below one cell no growth). Both are killed by one
ratio-dependent CAR law (the lesion law with K_s = ``f_comp`` (E^t + M^t): the long-lived pool carries the CAR and
lives in the marrow where the lineage is made; kills shared in proportion) and stimulate E^t
(the lesion form, R = (B + T)/E^t), which starts its division program (``act_t``, process 5). Kills and divisions add to the product ledger and
the inflammatory proxy; T_sys adds to the death hazard. Inert (``b_sys0`` = ``k_tsys`` = 0) for other constructs and
indications; the vector kernel then skips it.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State
from nksim.kinetics.processes.killing import kill_rate_per_target
from nksim.kinetics.processes.product import stimulation
from nksim.kinetics.processes.tumor import kill_fraction
from nksim.kinetics.symbolic import Expr, where

STATES = [
    State("B_sys", "cells", "normal antigen-bearing cells of a circulating lineage (B cells), total body",
          agent="systemic antigen-bearing cells"),
    State("cum_kill_sys", "cells", "cumulative normal antigen-bearing cells killed by the CAR pathway"),
    State("cum_bsys_ld", "cells", "cumulative normal antigen-bearing cells killed by lymphodepletion"),
    State("cum_bsys_net", "cells", "cumulative net homeostatic supply k_b (B0 - B) of the antigen-bearing lineage"),
    State("T_sys", "cells", "systemic tumor cells carrying the CAR antigen (marrow / blood leukemia), total body",
          agent="systemic tumor"),
    State("cum_kill_tsys", "cells", "cumulative systemic tumor cells killed by the CAR pathway"),
    State("cum_tsys_growth", "cells", "cumulative net growth of the systemic tumor"),
    State("cum_tsys_chemo", "cells", "cumulative systemic tumor cells killed by chemotherapy (events)"),
]
PARAMS = [
    Param("b_sys0", "cells", "normal antigen-bearing cells at rest (0: compartment inactive)",
          derived="b_blood_per_ul x V_b x 1000 / b_blood_share when the CAR targets a circulating lineage"),
    Param("k_b", "1/d", "turnover of the antigen-bearing lineage", registry="k_b"),
    Param("f_bm", "fraction", "share of the lineage's renewal that comes from the marrow's output of new cells",
          registry="b_marrow_share"),
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
    # the long-lived (memory) pool carries the CAR too and sits where the lineage is made (marrow): it kills there
    m.define("sys_killers", lambda m: m.p("f_comp") * (m.y("E_t") + m.y("M_t")))
    m.define("sys_kill_all", lambda m: kill_rate_per_target(
        m.q.sys_killers, m.p("car_sys") * m.y("q"), m.q.sys_killers, m.q.sys_antigen, m.p("k_r")) * m.q.sys_antigen)
    m.define("stim_sys", lambda m: _on(m, stimulation(m.y("q"), m.q.sys_antigen, m.y("E_t"), m.p("k_a")) * m.y("E_t")))


def _on(m: Model, value: Expr) -> Expr:
    """``value`` where the compartment is active, else 0 (computed only when some patient needs it)."""
    return where(m.q.sys_active, value, 0.0, lazy=True)


def rates(m: Model) -> None:
    q = m.q
    bsys, tsys, ag = m.y("B_sys"), m.y("T_sys"), q.sys_antigen
    kill_sys = where(ag > 0.0, q.sys_kill_all * (bsys / ag), 0.0)
    kill_t = where(ag > 0.0, q.sys_kill_all * (tsys / ag), 0.0)
    b0, f_bm = m.p("b_sys0"), m.p("f_bm")
    net_b = where(b0 > 0.0, m.p("k_b") * (f_bm * b0 + (1.0 - f_bm) * bsys) * (1.0 - bsys / b0), 0.0)
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
    m.alg("cytokine_pg_ml", _on(m, m.p("c_car") * q.sys_kill_all
                                / (m.p("V_b") * m.p("k_c"))))


def on_event(m: Model, kind: str) -> None:
    if kind not in ("lymphodepletion", "log_kill"):
        return
    frac = kill_fraction(m.arg_b if kind == "lymphodepletion" else m.arg_a)
    killed = m.y("T_sys") * frac
    m.assign("T_sys", m.raw("T_sys") - killed)
    m.assign("cum_tsys_chemo", m.raw("cum_tsys_chemo") + killed)
