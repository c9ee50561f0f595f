"""Process 8, tumor: Gompertz growth per lesion, antigen loss between classes, dead-cell clearance, hazards.

Every class of lesion l grows at r_l ln(``k_tum``/T_l) (x the concomitant slowdown, x the IFN-gamma cytostasis of
:mod:`.cytostasis`); a class below one cell does not grow. A class carrying antigen j loses it at ``mu_loss`` (moves
to the class without bit j). A lesion's volume is its tumor cells (viable and dead) over ``density``, the tumor cells
per mL of lesion: all cells x the malignant share, which is small where the tumor cells sustain a reactive
infiltrate that makes up most of the lesion (Hodgkin lymphoma). Killed cells go to D_l, cleared at ``k_clear``
(within days in a lymph node, weeks in a solid tumor). New lesions appear at ``h_new`` x (burden / 1e10)^``a_new``
(shedding from a surface: Iwata 2000) and death at ``h_death`` x burden.
Chemotherapy log-kills (:func:`log_kill`) move a share of every class to D at once.
"""

from __future__ import annotations

import math

from nksim.kinetics.processes.base import Model, Param, State
from nksim.kinetics.symbolic import Expr, exp, log, pos, power, total, where

STATES = [
    State("D", "cells", "dead tumor cells not yet cleared", scope="lesion"),
    State("T", "cells", "viable tumor cells of the antigen class", scope="class"),
    State("cum_cleared", "cells", "cumulative dead tumor cells cleared"),
    State("cum_new_lesion_hazard", "1", "cumulative new-lesion hazard", atol=1e-12),
    State("cum_death_hazard", "1", "cumulative burden-dependent death hazard", atol=1e-12),
    State("cum_chemo_killed", "cells", "cumulative tumor cells killed by chemotherapy (events)"),
]
PARAMS = [
    Param("density", "cells/mL", "tumor cells per mL of lesion (a reactive infiltrate the tumor cells sustain fills "
          "the rest)", derived="tumor_cell_density x malignant_fraction"),
    Param("k_tum", "cells", "Gompertz carrying capacity", registry="k_tum"),
    Param("mu_loss", "1/d", "antigen loss per antigen", registry="mu_loss"),
    Param("k_clear", "1/d", "clearance of dead tumor cells",
          derived="in lymph nodes malignant_fraction x k_clear_lymphoid + (1 - malignant_fraction) x k_clear (the "
          "reactive share of the lesion clears at the tissue rate), else k_clear"),
    Param("h_new", "1/d", "new-lesion hazard at a burden of 1e10 cells", registry="h_new_lesion"),
    Param("a_new", "1", "exponent of the burden in the new-lesion hazard (metastatic shedding from a surface, Iwata "
          "2000)", registry="new_lesion_exponent"),
    Param("h_death", "1/(1e11 cell d)", "death hazard per burden", registry="h_death"),
    Param("r_growth", "1/d", "Gompertz rate of the lesion", scope="lesion",
          derived="ln2/tvdt_d x growth deviation / max(ln(k_tum/T0), 1)"),
    Param("is_target", "flag", "1 for a target lesion (readouts)", scope="lesion", derived="tumor.n_target_lesions"),
    Param("mask", "bits", "antigen bits of the class (readouts)", scope="class", derived="class index"),
]


def quantities(m: Model) -> None:
    m.define_lesion("tl", lambda m, l: total(m.tumor(l, a) for a in range(m.nc)))
    m.define_lesion("vol", lambda m, l: (m.lq(l).tl + m.y("D", l)) / m.p("density"))
    m.define_lesion("grow", lambda m, l: where(m.lq(l).tl >= 1.0, m.pl(l, "r_growth") * log(m.p("k_tum") / m.lq(l).tl)
                                               * m.q.conv * m.lq(l).cytostasis, 0.0))
    m.define("burden", lambda m: total(m.lq(l).tl for l in range(m.nl)))


def rates(m: Model) -> None:
    mu = m.p("mu_loss")
    k_clear = m.p("k_clear")
    for l in range(m.nl):
        grow = m.lq(l).grow
        for a in range(m.nc):
            ta = m.tumor(l, a)
            m.flux("T", where(ta >= 1.0, grow * ta, 0.0), l, a)
            for j in range(m.n_antigens):
                bit = 1 << j
                if a & bit:
                    m.flux("T", -mu * ta, l, a)
                    m.flux("T", mu * ta, l, a - bit)
        m.flux("D", -k_clear * m.y("D", l), l)
    m.flux("cum_cleared", total(k_clear * m.y("D", l) for l in range(m.nl)))
    m.flux("cum_new_lesion_hazard", m.p("h_new") * power(pos(m.q.burden) * 1e-10, m.p("a_new")))
    m.flux("cum_death_hazard", m.p("h_death") * m.q.burden * 1e-11)


def kill_fraction(log10_kill: Expr) -> Expr:
    """Share of cells a log10 kill removes (0 for a kill <= 0)."""
    return where(log10_kill > 0.0, 1.0 - exp(-math.log(10.0) * log10_kill), 0.0)


def log_kill(m: Model, log10_kill: Expr) -> None:
    frac = kill_fraction(log10_kill)
    killed_all = []
    for l in range(m.nl):
        for a in range(m.nc):
            killed = m.tumor(l, a) * frac
            m.assign("T", m.raw("T", l, a) - killed, l, a)
            m.assign("D", m.raw("D", l) + killed, l)
            killed_all.append(killed)
    m.assign("cum_chemo_killed", m.raw("cum_chemo_killed") + total(killed_all))


def on_event(m: Model, kind: str) -> None:
    if kind == "lymphodepletion":
        log_kill(m, m.arg_b)
    elif kind == "log_kill":
        log_kill(m, m.arg_a)
