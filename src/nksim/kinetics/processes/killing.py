"""Process 6, killing: natural cytotoxicity, the CAR and ADCC, ratio-dependent, pathway by pathway.

Kills of antigen class a in lesion l = sum over groups g of K^g r^g_a T_a / (k_r (K^t + K^u) + T_l + 1 cell), with
r the per-effector pathway rates (already containing ligand, missing self, hypoxia, TGF-beta, potency and
immunosuppression, resolved per patient in ``nksim.kinetics.inputs``): natural (both groups), CAR (transduced
cells, x CAR expression q x the class's targeting weight), ADCC (x antibody occupancy AB/(AB + EC50) on classes
carrying the antibody's target), engager-redirected (x engager occupancy, :mod:`.engager`, on classes carrying the
engager's target). :func:`kill_rate_per_target` is the law itself; the release-assay model
(``nksim.assay``) evaluates the same function on numbers.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param, State
from nksim.kinetics.symbolic import total

STATES = [
    State("cum_kill_car", "cells", "cumulative tumor cells killed by the CAR pathway"),
    State("cum_kill_nat", "cells", "cumulative tumor cells killed by natural cytotoxicity"),
    State("cum_kill_adcc", "cells", "cumulative tumor cells killed by ADCC"),
]
PARAMS = [
    Param("nat_u", "1/d", "natural kill rate per untransduced effector",
          derived="k_nat x ligand x (1 - i_self HLA KIR) x (1 - hyp_supp hypoxia) x TGF(tgf_ic50_nat) x f_is x potency"),
    Param("nat_t", "1/d", "natural kill rate per transduced effector", derived="as nat_u, dnTGFBR2-rescued TGF-beta"),
    Param("car_t", "1/d", "CAR kill rate per transduced effector at full expression",
          derived="k_car x TGF(tgf_ic50_car) x f_is x potency (x cd28_effector for a CD28 CAR T cell)"),
    Param("adcc_u", "1/d", "ADCC rate per untransduced effector at saturating antibody",
          derived="k_adcc x TGF(tgf_ic50_adcc) x f_is x potency"),
    Param("adcc_t", "1/d", "ADCC rate per transduced effector at saturating antibody",
          derived="as adcc_u (1 + m_cd16 for hnCD16)"),
    Param("tgf_t", "1", "cell-intrinsic TGF-beta factor of transduced effectors in lesions (granules, IFN-gamma, "
          "proliferation)", derived="TGF(tgf_ic50_fn), dnTGFBR2-rescued TGF-beta"),
    Param("tgf_u", "1", "cell-intrinsic TGF-beta factor of untransduced effectors in lesions",
          derived="TGF(tgf_ic50_fn) = 1/(1 + TGFb/tgf_ic50_fn)"),
    Param("k_r", "1", "effector interference in the ratio-dependent law", registry="k_r"),
    Param("car_w", "1", "CAR targeting weight of the class (ligand level for an NKG2D CAR)", scope="class",
          derived="construct targets and logic, antigen bits of the class"),
    Param("ab_w", "flag", "1 for a class carrying the antibody's target", scope="class", derived="regimen.antibody"),
]


def kill_rate_per_target(effectors, rate, all_effectors, targets, k_r):
    """Kills per target cell per unit time by ``effectors`` killing at ``rate`` each, when ``all_effectors``
    killing-competent effectors share ``targets`` target cells (ratio-dependent; the + 1 keeps it finite at zero).
    Works on symbolic values and on numbers alike."""
    return effectors * rate / (k_r * all_effectors + targets + 1.0)


def quantities(m: Model) -> None:
    m.define_lesion("targ", lambda m, l: total(m.pc(a, "car_w") * m.tumor(l, a) for a in range(m.nc)))
    m.define_lesion("kills", _kills)
    m.define_lesion("kill_car", lambda m, l: total(k[0] for k in m.lq(l).kills))
    m.define_lesion("kill_nat", lambda m, l: total(k[1] + k[2] for k in m.lq(l).kills))
    m.define_lesion("kill_adcc", lambda m, l: total(k[3] + k[4] for k in m.lq(l).kills))
    m.define_lesion("kill_eng", lambda m, l: total(k[5] + k[6] for k in m.lq(l).kills))
    m.define_lesion("kills_by_t", lambda m, l: total(k[0] + k[1] + k[3] + k[5] for k in m.lq(l).kills))
    m.define_lesion("kills_by_u", lambda m, l: total(k[2] + k[4] + k[6] for k in m.lq(l).kills))
    m.define_lesion("ktot", lambda m, l: total(_sum(k) for k in m.lq(l).kills))
    m.define("kill_car", lambda m: total(m.lq(l).kill_car for l in range(m.nl)))
    m.define("kill_nat", lambda m: total(m.lq(l).kill_nat for l in range(m.nl)))
    m.define("kill_adcc", lambda m: total(m.lq(l).kill_adcc for l in range(m.nl)))
    m.define("kill_eng", lambda m: total(m.lq(l).kill_eng for l in range(m.nl)))


def _sum(k):
    return total(k)


def _kills(m: Model, l: int) -> list[tuple]:
    """Per class: (CAR, natural by t, natural by u, ADCC by t, ADCC by u, engager by t, engager by u) kills per
    day."""
    k_t, k_u = m.y("K_t", l), m.y("K_u", l)
    tl = m.lq(l).tl
    k_r = m.p("k_r")
    abf = m.q.abf
    w_car = kill_rate_per_target(k_t, m.p("car_t") * m.y("q"), k_t + k_u, tl, k_r)
    w_nat_t = kill_rate_per_target(k_t, m.p("nat_t"), k_t + k_u, tl, k_r)
    w_nat_u = kill_rate_per_target(k_u, m.p("nat_u"), k_t + k_u, tl, k_r)
    w_ad_t = kill_rate_per_target(k_t, m.p("adcc_t") * abf, k_t + k_u, tl, k_r)
    w_ad_u = kill_rate_per_target(k_u, m.p("adcc_u") * abf, k_t + k_u, tl, k_r)
    engf = m.q.engf
    w_eng_t = kill_rate_per_target(k_t, m.p("eng_t") * engf, k_t + k_u, tl, k_r)
    w_eng_u = kill_rate_per_target(k_u, m.p("eng_u") * engf, k_t + k_u, tl, k_r)
    out = []
    for a in range(m.nc):
        ta = m.tumor(l, a)
        aw = m.pc(a, "ab_w")
        ew = m.pc(a, "eng_w")
        out.append((w_car * m.pc(a, "car_w") * ta, w_nat_t * ta, w_nat_u * ta, w_ad_t * aw * ta, w_ad_u * aw * ta,
                    w_eng_t * ew * ta, w_eng_u * ew * ta))
    return out


def rates(m: Model) -> None:
    for l in range(m.nl):
        q = m.lq(l)
        for a, k in enumerate(q.kills):
            m.flux("T", -_sum(k), l, a)
        m.flux("D", q.ktot, l)
    m.flux("cum_kill_car", m.q.kill_car)
    m.flux("cum_kill_nat", m.q.kill_nat)
    m.flux("cum_kill_adcc", m.q.kill_adcc)
