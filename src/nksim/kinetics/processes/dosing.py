"""Process 1, dosing: an infusion puts viable cells into the body by its route.

Two event kinds: ``infusion`` goes by the patient's ``route_ia`` flag (the regimen's route), ``infusion_ia`` always
into the hepatic artery (an infusion whose own route is the hepatic artery, ``regimen.per_infusion.routes``).
Intravenous: a share ``f_lung`` is held in the lung first-pass pool (:mod:`.trafficking`), the rest joins the
functional systemic pool E. Hepatic artery: a share ``f_ia`` goes straight to the liver lesions, split by perfusion x
volume (into killing-competent K and non-killing N by ``f_comp``), the rest joins E. Fresh transduced cells carry
full CAR expression: the pool's mean expression q becomes the cell-weighted mean with q = 1. Fresh cells also start
with an unused division timer and at rest: ``prog_t`` and ``act_t`` become cell-weighted means with them at 0.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Event, Model, Param
from nksim.kinetics.symbolic import lift, total, where

PARAMS = [
    Param("route_ia", "flag", "1 for a hepatic-artery infusion, 0 for i.v.", derived="regimen.route"),
    Param("f_ia", "fraction", "share of a hepatic-artery dose retained by liver lesions", registry="f_ia"),
    Param("ia_share", "flag", "1 for a lesion in the liver (reached by a hepatic-artery dose)", scope="lesion",
          derived="tumor.lesions_in_liver"),
]
EVENTS = [Event("infusion", 1, a="viable transduced cells", b="viable untransduced cells"),
          Event("infusion_ia", 8, a="viable transduced cells, hepatic artery",
                b="viable untransduced cells, hepatic artery")]


def quantities(m: Model) -> None:
    pass


def rates(m: Model) -> None:
    pass


def _product_cells_transduced(m: Model) -> object:
    """Transduced product cells now (event mode: before this infusion), lung pool included."""
    lesions = [m.y("K_t", l) + m.y("N_t", l) + m.y("X_t", l) for l in range(m.nl)]
    return total([m.y("E_t"), m.y("M_t"), m.pool("lung_t"), *lesions])


def on_event(m: Model, kind: str) -> None:
    if kind not in ("infusion", "infusion_ia"):
        return
    a, b = m.arg_a, m.arg_b
    old = _product_cells_transduced(m)
    m.assign("q", where(a > 0.0, (m.y("q") * old + a) / (old + a), m.raw("q")))
    m.assign("prog_t", where(a > 0.0, m.y("prog_t") * old / (old + a), m.raw("prog_t")))
    m.assign("act_t", where(a > 0.0, m.y("act_t") * old / (old + a), m.raw("act_t")))
    m.assign("prime_t", where(a > 0.0, m.y("prime_t") * old / (old + a), m.raw("prime_t")))
    m.assign("ready_t", where(a > 0.0, m.y("ready_t") * old / (old + a), m.raw("ready_t")))
    m.assign("cum_infused_t", m.raw("cum_infused_t") + a)
    ia = m.p("route_ia") > 0.5 if kind == "infusion" else lift(1.0) > 0.5
    weights = [m.pl(l, "ia_share") * m.pl(l, "perfusion") * total(m.tumor(l, c) for c in range(m.nc))
               for l in range(m.nl)]
    wsum = total(weights)
    f_ia = where(wsum > 0.0, m.p("f_ia"), 0.0)
    f_comp = m.p("f_comp")
    m.assign("cum_lesion_entry", m.raw("cum_lesion_entry") + where(ia & (wsum > 0.0), f_ia * (a + b), 0.0))
    for l in range(m.nl):
        share = where(ia & (wsum > 0.0), f_ia * weights[l] / wsum, 0.0)
        m.assign("K_t", m.raw("K_t", l) + share * a * f_comp, l)
        m.assign("N_t", m.raw("N_t", l) + share * a * (1.0 - f_comp), l)
        m.assign("K_u", m.raw("K_u", l) + share * b * f_comp, l)
        m.assign("N_u", m.raw("N_u", l) + share * b * (1.0 - f_comp), l)
    systemic = where(ia, 1.0 - f_ia, 1.0 - m.p("f_lung"))
    m.assign("E_t", m.raw("E_t") + systemic * a)
    m.assign("E_u", m.raw("E_u") + systemic * b)
    m.assign_pool("lung_t", m.pool("lung_t") + where(ia, 0.0, m.p("f_lung") * a))
    m.assign_pool("lung_u", m.pool("lung_u") + where(ia, 0.0, m.p("f_lung") * b))
