"""Process 7, exhaustion and serial killing: each kill moves a killing-competent cell 1/(``kappa`` x ``tgf_g``) of the
way to exhaustion (K -> X at kills/(kappa tgf_g)); cytokine signal brings exhausted cells back (X -> K at ``k_rec``
S_cell). TGF-beta lowers the granule (perforin) content a killer starts with (Yvon 2017), so it spends its serial-kill
budget sooner: ``tgf_g`` is the cell-intrinsic TGF-beta factor of the group (:mod:`.killing`).
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param

PARAMS = [
    Param("kappa", "kills/cell", "serial kills per effector before exhaustion",
          derived="kappa for an NK product, kappa_t for a T-cell product"),
    Param("k_rec", "1/d", "recovery from exhaustion at full signal", registry="k_rec"),
]


def rates(m: Model) -> None:
    inv_kappa = {g: 1.0 / (m.p("kappa") * m.p("tgf_" + g)) for g in ("t", "u")}
    for l in range(m.nl):
        q = m.lq(l)
        for g, kills, sig in (("t", q.kills_by_t, m.q.sig_t), ("u", q.kills_by_u, m.q.sig)):
            exh = kills * inv_kappa[g]
            rec = m.p("k_rec") * sig * m.y("X_" + g, l)
            m.flux("K_" + g, rec - exh, l)
            m.flux("X_" + g, exh - rec, l)
