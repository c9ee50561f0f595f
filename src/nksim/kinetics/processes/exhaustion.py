"""Process 7, exhaustion and serial killing: each kill moves a killing-competent cell 1/``kappa`` of the way to
exhaustion (K -> X at kills/``kappa``); cytokine signal brings exhausted cells back (X -> K at ``k_rec`` S_cell).
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param

PARAMS = [
    Param("kappa", "kills/cell", "serial kills per effector before exhaustion", registry="kappa"),
    Param("k_rec", "1/d", "recovery from exhaustion at full signal", registry="k_rec"),
]


def rates(m: Model) -> None:
    inv_kappa = 1.0 / m.p("kappa")
    for l in range(m.nl):
        q = m.lq(l)
        for g, kills, sig in (("t", q.kills_by_t, m.q.sig_t), ("u", q.kills_by_u, m.q.sig)):
            exh = kills * inv_kappa
            rec = m.p("k_rec") * sig * m.y("X_" + g, l)
            m.flux("K_" + g, rec - exh, l)
            m.flux("X_" + g, exh - rec, l)
