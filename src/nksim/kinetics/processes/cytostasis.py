"""Process 16, IFN-gamma cytostasis: killing-competent effectors in a lesion slow the growth of every tumor class there.

Activated NK (and CAR) cells that engage targets secrete IFN-gamma, which acts far beyond the synapse and arrests the
proliferation of bystander tumor cells, antigen-negative ones included (long-range IFN-gamma: Hoekstra 2020,
Thibaut 2020; the magnitude for NK in human tumors is an assumption). The lesion's growth is multiplied by
1 - ``g_ifn`` phi_l, phi_l = I_l/(I_l + ``k_ifn`` T_l + 1), I_l = ``ifn_t`` K^t_l + ``ifn_u`` K^u_l: secretion per
killing-competent effector relative to an unsuppressed NK (TGF-beta, potency and immunosuppression lower it;
dnTGFBR2 rescues transduced cells). It needs effectors in the lesion, so dose, number and spacing of infusions and
the route all move it.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Model, Param

PARAMS = [
    Param("g_ifn", "fraction", "largest growth slowdown by effector IFN-gamma", registry="g_ifn"),
    Param("k_ifn", "effectors/tumor cell", "killing-competent effectors per tumor cell at half-maximal slowdown",
          registry="k_ifn"),
    Param("ifn_u", "1", "IFN-gamma secretion of an untransduced effector relative to an unsuppressed NK",
          derived="TGF(tgf_ic50_fn) x f_is x potency"),
    Param("ifn_t", "1", "IFN-gamma secretion of a transduced effector relative to an unsuppressed NK",
          derived="as ifn_u, dnTGFBR2-rescued TGF-beta"),
]


def quantities(m: Model) -> None:
    def cytostasis(m: Model, l: int):
        ifn = m.p("ifn_t") * m.y("K_t", l) + m.p("ifn_u") * m.y("K_u", l)
        return 1.0 - m.p("g_ifn") * ifn / (ifn + m.p("k_ifn") * m.lq(l).tl + 1.0)

    m.define_lesion("cytostasis", cytostasis)
