"""Processes 4 and 5, the product's own life: survival, rejection, the long-lived pool, proliferation, CAR expression.

Per-cell death ``delta_0`` (1 - ``s_max`` S_cell) + host rejection ``k_rej`` H g_HLA (+ ``extra_death`` for
irradiated lines). The long-lived pool M forms from E at ``k_m`` S_cell^``n_m`` and dies at ``beta_m`` + rejection.
Homeostatic proliferation in E at ``rho_h`` S (1 - N_prod/``k_niche``), S the systemic signal (a cell's own
membrane / autocrine IL-15 supports its survival, not homeostatic expansion); antigen-driven proliferation of
transduced cells in a lesion at ``rho_a`` ``tgf_t`` q R/(``k_a`` + R) (TGF-beta blunts IL-15/mTOR-driven
proliferation of NK in the lesion: Viel 2016), R = targetable tumor cells per transduced cell there,
daughters split by ``f_comp``, x the share of the programmed clonal burst left (:func:`burst_capacity`) x the share of
the division timer left (:func:`destiny_capacity`: stimulated lymphocytes stop dividing once a timer started at
activation runs out, whatever the antigen; ``prog_t`` is the mean time the transduced cells have spent stimulated or
in their division program). Stimulation also starts a division program that runs on without antigen (autopilot):
``act_t``, the activated share of the transduced cells, rises at ``act_on`` x the mean stimulation and winds down at
``act_off``; cells of the systemic pool divide at ``rho_a`` x (their stimulation by circulating antigen + ``act_t``
for the rest) (x the program left), so T cells stimulated in a lesion or by circulating antigen keep dividing after
they leave it (Kaech & Ahmed 2001, van Stipdonk 2001); NK products (``act_on_nk``) divide where they are stimulated.
CAR expression q decays at ``k_q`` (transient, mRNA constructs).
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State
from nksim.kinetics.symbolic import Expr, pos, power, total, where

STATES = [
    State("E_t", "cells", "functional transduced product NK, blood + tissue (rapid equilibrium; blood share f_blood)"),
    State("E_u", "cells", "functional untransduced product NK, blood + tissue"),
    State("M_t", "cells", "long-lived transduced pool"),
    State("M_u", "cells", "long-lived untransduced pool"),
    State("q", "1", "mean CAR expression of the transduced pool", atol=1e-9),
    State("cum_prod_death", "cells", "cumulative product-cell deaths (all pools, lung included)"),
    State("cum_prod_div", "cells", "cumulative product-cell divisions"),
    State("cum_ag_div", "cells", "cumulative antigen-driven divisions"),
    State("cum_infused_t", "cells", "cumulative viable transduced cells infused"),
    State("act_t", "fraction", "activated share of the transduced product cells (division program running)", atol=1e-6,
          agent="activation"),
    State("prime_t", "fraction", "share of the transduced product cells through the first half of their time to "
          "first division (T cells)", atol=1e-6),
    State("ready_t", "fraction", "share of the transduced product cells past their time to first division (T cells)",
          atol=1e-6),
    State("prog_t", "d", "mean time the transduced product cells have spent stimulated or in their division program "
          "(division timer used)", atol=1e-4),
    State("K_t", "cells", "killing-competent transduced product NK in the lesion", scope="lesion"),
    State("K_u", "cells", "killing-competent untransduced product NK in the lesion", scope="lesion"),
    State("N_t", "cells", "non-killing transduced product NK in the lesion", scope="lesion"),
    State("N_u", "cells", "non-killing untransduced product NK in the lesion", scope="lesion"),
    State("X_t", "cells", "exhausted transduced product NK in the lesion", scope="lesion"),
    State("X_u", "cells", "exhausted untransduced product NK in the lesion", scope="lesion"),
]
PARAMS = [
    Param("delta_0", "1/d", "death rate of unsupported product NK", registry="delta_0"),
    Param("s_max", "fraction", "largest reduction of death by cytokine signal", registry="s_max"),
    Param("k_rej", "1/d", "host rejection rate at full alloreactivity", registry="k_rej"),
    Param("g_hla", "1", "HLA visibility of the product to the host",
          derived="g_hla_allogeneic / g_hla_hypoimmune / 0 (autologous)"),
    Param("extra_death", "1/d", "extra death of irradiated cell lines", derived="delta_irradiated or 0"),
    Param("beta_m", "1/d", "death rate of the long-lived pool", registry="beta_m"),
    Param("k_m", "1/d", "formation of the long-lived pool at full signal", registry="k_m"),
    Param("n_m", "1", "steepness of long-lived pool formation in the signal", registry="n_m"),
    Param("f_mb", "fraction", "blood share of the long-lived pool (readouts)", registry="f_mb"),
    Param("rho_h", "1/d", "homeostatic proliferation at full signal", registry="rho_h"),
    Param("k_niche", "cells", "niche capacity for homeostatic proliferation", registry="k_niche"),
    Param("rho_a", "1/d", "antigen-driven proliferation at saturation", registry="rho_a"),
    Param("k_a", "targets/cell", "targets per transduced cell at half-maximal stimulation", registry="k_a"),
    Param("burst", "divisions/cell", "programmed clonal burst: antigen-driven divisions per transduced cell infused at "
          "half the proliferation program", registry="burst_div"),
    Param("f_comp", "fraction", "killing-competent share of cells entering a lesion", registry="f_comp"),
    Param("act_on", "1/d", "start of the division program at full stimulation",
          derived="act_on for a T-cell product, act_on_nk for NK"),
    Param("act_off", "1/d", "end of the division program once stimulation stops (1 / its duration)", registry="act_off"),
    Param("t_fd", "d", "mean time from stimulation to the first division (0: cells divide as soon as stimulated)",
          derived="t_first_division_d for a T-cell product, else 0"),
    Param("g_dd", "d", "division timer: time in the division program at which half the transduced cells have "
          "stopped dividing", derived="division_timer_d x destiny_cd28 for a CD28-costimulated CAR T-cell product, "
          "else division_timer_d"),
    Param("n_dd", "1", "steepness of the division-timer cut-off (spread of timers between clones)",
          registry="division_destiny_hill"),
    Param("k_q", "1/d", "CAR expression decay (ln 2 / half-life; 0 stable)", derived="car_half_life_d"),
]


def stimulation(q: Expr, targets: Expr, cells: Expr, k_a: Expr) -> Expr:
    """Stimulation (0-1) of transduced cells meeting ``targets`` antigen-bearing cells, with ``cells`` transduced cells
    sharing them: q R/(k_a + R), R = targets/(cells + 1)."""
    r = targets / (cells + 1.0)
    return q * r / (k_a + r)


def antigen_driven_divisions(rho_a: Expr, q: Expr, targets: Expr, stimulated: Expr, cells: Expr,
                             k_a: Expr) -> Expr:
    """Divisions per day of ``stimulated`` transduced cells meeting ``targets`` antigen-bearing cells, with
    ``cells`` transduced cells sharing them: rho_a q R/(k_a + R) x stimulated, R = targets/(cells + 1)."""
    return rho_a * stimulation(q, targets, cells, k_a) * stimulated


def burst_capacity(ag_div: Expr, infused: Expr, burst: Expr) -> Expr:
    """Share of the antigen-driven proliferation program left: 1/(1 + (D/``burst``)^2), D = antigen-driven divisions
    so far per transduced cell infused. Stimulated cells run a programmed clonal burst of about ``burst``-fold and
    then stop dividing whatever the antigen (Kaech & Ahmed 2001; van Stipdonk 2001)."""
    d = ag_div / (infused + 1.0) / burst
    return 1.0 / (1.0 + d * d)


def destiny_capacity(used: Expr, timer: Expr, hill: Expr) -> Expr:
    """Share of transduced cells whose division timer has not run out: 1/(1 + (tau/``timer``)^``hill``), tau = mean
    time spent stimulated or in the division program so far. Activated lymphocytes divide until a Myc-dependent timer
    set at activation runs out, and then stop whatever the antigen (their division destiny: Hawkins 2007, Marchingo
    2014, Heinzel 2017). Time spent only replacing dying cells uses it up too, so a predator-prey balance with a
    renewing antigen (normal B cells) cannot last: the population contracts to its long-lived pool."""
    return 1.0 / (1.0 + power(pos(used) / timer, hill))


def quantities(m: Model) -> None:
    m.define_lesion("pool_t", lambda m, l: m.y("K_t", l) + m.y("N_t", l) + m.y("X_t", l))
    m.define_lesion("pool_u", lambda m, l: m.y("K_u", l) + m.y("N_u", l) + m.y("X_u", l))
    m.define("n_trans", lambda m: total([m.y("E_t"), m.y("M_t"), *(m.lq(l).pool_t for l in range(m.nl)),
                                         m.q.lung_t]))
    m.define("n_prod", lambda m: total([m.q.n_trans, m.y("E_u"), m.y("M_u"),
                                        *(m.lq(l).pool_u for l in range(m.nl)), m.q.lung_u]))
    m.define("rej", lambda m: m.p("k_rej") * m.y("H") * m.p("g_hla") + m.p("extra_death"))
    m.define("death_t", lambda m: m.p("delta_0") * (1.0 - m.p("s_max") * m.q.sig_t) + m.q.rej)
    m.define("death_u", lambda m: m.p("delta_0") * (1.0 - m.p("s_max") * m.q.sig) + m.q.rej)
    m.define("room", lambda m: pos(1.0 - m.q.n_prod / m.p("k_niche")))
    # homeostatic proliferation follows the systemic (trans-presented) cytokine signal S: membrane / autocrine IL-15
    # supports the survival of the cell that carries it (S_cell in death_t), not a homeostatic expansion
    m.define("prol_t", lambda m: m.p("rho_h") * m.q.sig * m.q.room)
    m.define("prol_u", lambda m: m.p("rho_h") * m.q.sig * m.q.room)
    m.define("mform_t", lambda m: m.p("k_m") * power(m.q.sig_t, m.p("n_m")))
    m.define("mform_u", lambda m: m.p("k_m") * power(m.q.sig, m.p("n_m")))
    m.define("mdeath", lambda m: m.p("beta_m") + m.q.rej)
    m.define("burst_left", lambda m: burst_capacity(m.y("cum_ag_div"), m.y("cum_infused_t"), m.p("burst"))
             * destiny_capacity(m.y("prog_t"), m.p("g_dd"), m.p("n_dd")))
    # with a time to first division (T cells), only the share past it divides (ready_t, a two-stage delay after
    # stimulation); without one (NK products, infused cycling), stimulated cells divide at once
    m.define("lagged", lambda m: m.p("t_fd") > 0.0)
    m.define("div_gate", lambda m: where(m.q.lagged, m.y("ready_t"), 1.0))
    m.define_lesion("div", lambda m, l: m.q.burst_left * m.q.div_gate * antigen_driven_divisions(
        m.p("rho_a") * m.p("tgf_t"), m.y("q"), m.lq(l).targ, m.y("K_t", l) + m.y("N_t", l), m.lq(l).pool_t, m.p("k_a")))
    m.define("div_lesion", lambda m: total(m.lq(l).div for l in range(m.nl)))
    # systemic cells divide when stimulated now (circulating antigen, process 15: share stim_sys / E_t) or, for the
    # rest, while their division program still runs (act_t, the autopilot)
    m.define("stim_sys_share", lambda m: m.q.stim_sys / (m.y("E_t") + 1.0))
    m.define("auto_div", lambda m: m.q.burst_left * m.q.div_gate * m.p("rho_a") * m.y("E_t")
             * (m.q.stim_sys_share + m.y("act_t") * (1.0 - m.q.stim_sys_share)))
    m.define("div_ag", lambda m: m.q.div_lesion + m.q.auto_div)
    m.define("stim_share", lambda m: (m.q.stim_lesion + m.q.stim_sys) / (m.q.n_trans + 1.0))
    m.define_lesion("stim_l", lambda m, l: stimulation(m.y("q"), m.lq(l).targ, m.lq(l).pool_t, m.p("k_a")))
    m.define("stim_lesion", lambda m: total(m.lq(l).stim_l * (m.y("K_t", l) + m.y("N_t", l)) for l in range(m.nl)))


def rates(m: Model) -> None:
    e_t, e_u, m_t, m_u = m.y("E_t"), m.y("E_u"), m.y("M_t"), m.y("M_u")
    q = m.q
    m.flux("E_t", (q.prol_t - q.death_t - q.mform_t) * e_t + q.auto_div)
    m.flux("act_t", m.p("act_on") * q.stim_share * (1.0 - m.y("act_t")) - m.p("act_off") * m.y("act_t"))
    # time to first division: two stages of t_fd / 2 each (a gamma-2 delay) from stimulation; a cell past it stays
    # in cycle. Shares of the pool (cumulative: ready within primed), diluted by fresh cells at an infusion and
    # enriched by the divisions of the cells in cycle: with D divisions per day in the pool (all of cells in cycle,
    # whose daughters are in cycle too), a share x of the pool that holds them grows at (D / E)(1 - x)
    k2 = where(q.lagged, 2.0 / where(q.lagged, m.p("t_fd"), 1.0), 0.0)
    prime, ready = m.y("prime_t"), m.y("ready_t")
    d_per_cell = q.auto_div / (m.y("E_t") + 1.0)  # systemic pool; 0 share change without a lag (ready_t stays 0)
    m.flux("prime_t", k2 * q.stim_share * pos(1.0 - prime) + d_per_cell * pos(1.0 - prime))
    m.flux("ready_t", k2 * pos(prime - ready) + d_per_cell * pos(1.0 - ready))
    m.flux("E_u", (q.prol_u - q.death_u - q.mform_u) * e_u)
    m.flux("M_t", q.mform_t * e_t - q.mdeath * m_t)
    m.flux("M_u", q.mform_u * e_u - q.mdeath * m_u)
    m.flux("q", -m.p("k_q") * m.y("q"))
    f_comp = m.p("f_comp")
    deaths = []
    for l in range(m.nl):
        div = m.lq(l).div
        m.flux("K_t", f_comp * div, l)
        m.flux("N_t", (1.0 - f_comp) * div, l)
        for name in ("K_t", "N_t", "X_t"):
            m.flux(name, -q.death_t * m.y(name, l), l)
        for name in ("K_u", "N_u", "X_u"):
            m.flux(name, -q.death_u * m.y(name, l), l)
        deaths.append(q.death_t * m.lq(l).pool_t + q.death_u * m.lq(l).pool_u)
    deaths += [q.death_t * e_t + q.death_u * e_u, q.mdeath * (m_t + m_u), q.lung_death * (q.lung_t + q.lung_u)]
    m.flux("cum_prod_death", total(deaths))
    m.flux("cum_prod_div", q.prol_t * e_t + q.prol_u * e_u + q.div_ag)
    m.flux("cum_ag_div", q.div_ag)
    # the timer runs for the stimulated share and, of the rest, the share whose program still runs
    m.flux("prog_t", q.stim_share + m.y("act_t") * (1.0 - q.stim_share))
