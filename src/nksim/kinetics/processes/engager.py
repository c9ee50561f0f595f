"""Process 18, NK cell engagers (BiKE / TriKE / ANKET): PK, redirected killing by endogenous NK, IL-15 moiety.

PK: one compartment, ENG (ug/mL) eliminated at ``k_eng`` (ln 2 / half-life); an i.v. dose adds to ENG, a s.c. dose
to a depot absorbed at ``ka_eng``. Occupancy ENG/(ENG + ``ec50_eng``) scales the engager pathway of product NK in
the lesions (written in :mod:`.killing`, per-effector rates ``eng_t`` / ``eng_u`` resolved per patient with the
binding arm: CD16 x (1 + ``m_cd16``) for hnCD16 cells, NKp46 without the hnCD16 boost and with the hypoxia factor)
on the classes carrying the engager's target (``eng_w``). An IL-15 moiety adds ``eng_il15`` x ENG pg/mL of
IL-15-equivalent to the signal S (:mod:`.cytokines`). The model has no endogenous NK compartment: endogenous NK
redirected by the engager appear only as a per-capita kill rate ``k_eng_endo`` x occupancy x WBC/wbc0 of the
targeted classes (calibrated to AFM13 monotherapy in Hodgkin lymphoma, Rothe 2015; 0 = product NK only).
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Event, Model, Param, State
from nksim.kinetics.symbolic import minimum, total, where

STATES = [
    State("ENG", "ug/mL", "NK engager concentration", atol=1e-9, agent="engager"),
    State("dep_eng", "ug/mL", "s.c. engager depot (as plasma-concentration equivalent)", atol=1e-9,
          agent="engager"),
    State("cum_kill_eng", "cells", "cumulative tumor cells killed by engager-redirected NK (product and endogenous)"),
]
PARAMS = [
    Param("k_eng", "1/d", "engager elimination (ln 2 / half-life)", derived="regimen.engager.half_life_d or eng_half_life_d"),
    Param("ka_eng", "1/d", "s.c. engager absorption", registry="ka_eng"),
    Param("ec50_eng", "ug/mL", "engager at half-maximal redirected killing", registry="ec50_eng"),
    Param("eng_il15", "pg/ug", "IL-15-equivalent signal per engager concentration",
          derived="eng_il15_pg_per_ug x eng_il15_potency for an IL-15 moiety, else 0"),
    Param("k_eng_endo", "1/d", "per-capita kill of targeted tumor by engager-redirected endogenous NK at saturation",
          registry="k_eng_endo"),
    Param("eng_t", "1/d", "engager-redirected kill rate per transduced effector at saturating engager",
          derived="k_adcc x k_eng_rel x TGF(tgf_ic50_adcc) x f_is x potency x binding arm (hnCD16, hypoxia)"),
    Param("eng_u", "1/d", "engager-redirected kill rate per untransduced effector at saturating engager",
          derived="as eng_t without hnCD16"),
    Param("eng_w", "flag", "1 for a class carrying the engager's target", scope="class", derived="regimen.engager"),
]
EVENTS = [Event("engager", 10, a="ug/mL added to plasma (i.v.)", b="ug/mL added to the s.c. depot")]


def quantities(m: Model) -> None:
    m.define("engf", lambda m: where(m.y("ENG") > 0.0, m.y("ENG") / (m.y("ENG") + m.p("ec50_eng")), 0.0))
    m.define("eng_il15_pg_ml", lambda m: m.p("eng_il15") * m.y("ENG"))
    # endogenous NK follow the leukocytes (lymphodepletion removes them; assumption), capped at their resting level
    m.define("eng_endo_rate", lambda m: m.p("k_eng_endo") * m.q.engf * minimum(m.y("WBC") / m.p("wbc0"), 1.0))
    m.define_lesion("kills_eng_endo", lambda m, l: [m.q.eng_endo_rate * m.pc(a, "eng_w") * m.tumor(l, a)
                                                    for a in range(m.nc)])
    m.define("kill_eng_endo", lambda m: total(k for l in range(m.nl) for k in m.lq(l).kills_eng_endo))


def rates(m: Model) -> None:
    absorbed = m.p("ka_eng") * m.y("dep_eng")
    m.flux("dep_eng", -absorbed)
    m.flux("ENG", absorbed - m.p("k_eng") * m.y("ENG"))
    for l in range(m.nl):
        ks = m.lq(l).kills_eng_endo
        for a, k in enumerate(ks):
            m.flux("T", -k, l, a)
        m.flux("D", total(ks), l)
    m.flux("cum_kill_eng", m.q.kill_eng + m.q.kill_eng_endo)


def on_event(m: Model, kind: str) -> None:
    if kind == "engager":
        m.assign("ENG", m.raw("ENG") + m.arg_a)
        m.assign("dep_eng", m.raw("dep_eng") + m.arg_b)
