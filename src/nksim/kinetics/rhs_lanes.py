"""The right-hand side of :mod:`nksim.kinetics.rhs` for W patients at once, one per vector lane.

``rhs4(t, Y, P, nl, nc, SEG, DY, ALG)``: the arrays are lane arrays (rows x 4; see :mod:`nksim.kinetics.lanes`), t the
vector of the lanes' times. Every expression is the scalar model's, evaluated in the same order with the same
IEEE operations; only exp and log are the lane versions (within a few units in the last place of libm's), so each
lane equals :func:`nksim.kinetics.rhs.rhs` for its patient to ~1e-15 relative (tested on every built-in scenario).
A branch of the scalar code becomes a lane-wise select, and the costly branches (lymphodepletion and lung-pool
exponentials, the systemic antigen compartment) are skipped when no lane needs them. The scalar function stays the
readable reference and serves the scipy backend.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nksim.kinetics import layout as L
from nksim.kinetics.lanes import (
    W,
    add,
    any_gt,
    div,
    lane,
    ld,
    mul,
    pos,
    splat,
    sqrt,
    st,
    sub,
    vexp,
    vfrom,
    vlog,
    where_ge,
    where_gt,
    where_lt,
)
from nksim.kinetics.rhs import LD_HORIZON, LUNG_HORIZON, _power


@njit(cache=True)
def _neg(a):
    return sub(splat(0.0), a)


@njit(cache=True)
def _any_ge_lt(a, b, c, d) -> bool:
    """True when a >= b and c < d in at least one lane."""
    for i in range(W):
        if lane(a, i) >= lane(b, i) and lane(c, i) < lane(d, i):
            return True
    return False


@njit(cache=True)
def _qss4(prod, k, c, ku):
    """:func:`nksim.kinetics.rhs.qss_cytokine` lane by lane."""
    zero = splat(0.0)
    two = splat(2.0)
    b = sub(add(mul(k, ku), c), prod)
    disc = add(mul(b, b), mul(mul(mul(splat(4.0), k), prod), ku))
    root = sqrt(disc)
    # the scalar code's two branches, 2 prod ku / (b + root) and (root - b) / (2 k), as one division
    num = where_ge(b, zero, mul(mul(two, prod), ku), add(_neg(b), root))
    den = where_ge(b, zero, add(b, root), mul(two, k))
    return where_gt(prod, zero, div(num, den), zero)


@njit(cache=True)
def _power4(x, n):
    """:func:`nksim.kinetics.rhs._power` lane by lane (repeated multiplication when all lanes share a whole n)."""
    n0 = lane(n, 0)
    k = int(n0)
    same = k == n0 and 0 <= k <= 8
    for i in range(1, W):
        same = same and lane(n, i) == n0
    if same:
        r = splat(1.0)
        for _ in range(k):
            r = mul(r, x)
        return where_gt(x, splat(0.0), r, splat(0.0))
    return _power_each(x, n)


@njit(cache=True)
def _power_each(x, n):
    """Lanes with different or fractional exponents (not used by the built-in scenarios), one at a time; a function
    of its own so that the common path above stays small enough to inline."""
    out = np.empty(W)
    for i in range(W):
        out[i] = _power(lane(x, i), lane(n, i))
    return vfrom(out)


@njit(cache=True)
def _ld_factor(t_seg, t_ld, age, tau, need: bool):
    """exp(-age / tau) where lymphodepletion has started before the segment and age < LD_HORIZON tau, else 0."""
    zero = splat(0.0)
    if not need:
        return zero
    e = vexp(div(_neg(age), tau))
    return where_ge(t_seg, t_ld, where_lt(age, mul(splat(LD_HORIZON), tau), e, zero), zero)


@njit(cache=True, error_model="numpy")
def rhs4(t, Y: np.ndarray, P: np.ndarray, nl: int, nc: int, SEG: np.ndarray, DY: np.ndarray,
         ALG: np.ndarray) -> None:
    lb = L.LES_FIXED + nc
    lpo = L.NPAR
    cpo = L.NPAR + nl * L.NLP
    zero = splat(0.0)
    one = splat(1.0)
    vb = ld(P, L.P_V_B)
    inv_vb = div(one, vb)

    e_t = pos(ld(Y, L.S_E_T))
    e_u = pos(ld(Y, L.S_E_U))
    m_t = pos(ld(Y, L.S_M_T))
    m_u = pos(ld(Y, L.S_M_U))
    q = pos(ld(Y, L.S_Q))
    hh = pos(ld(Y, L.S_H))
    ab = pos(ld(Y, L.S_AB))
    wbc = pos(ld(Y, L.S_WBC))

    t_seg = ld(SEG, 0)
    seg_t = ld(SEG, 1)
    seg_u = ld(SEG, 2)
    lung_t = zero
    lung_u = zero
    lsum = add(seg_t, seg_u)
    if any_gt(lsum, zero):
        x = mul(add(add(ld(P, L.P_K_LB), ld(P, L.P_DELTA_0)), ld(P, L.P_EXTRA_DEATH)), sub(t, t_seg))
        decay = vexp(_neg(x))
        lung_t = where_gt(lsum, zero, where_lt(x, splat(LUNG_HORIZON), mul(seg_t, decay), zero), zero)
        lung_u = where_gt(lsum, zero, where_lt(x, splat(LUNG_HORIZON), mul(seg_u, decay), zero), zero)

    les_t = zero
    les_u = zero
    tv_total = zero
    for l in range(nl):
        b0 = L.NSYS + l * lb
        les_t = add(les_t, add(add(pos(ld(Y, b0 + L.L_K)), pos(ld(Y, b0 + L.L_N))), pos(ld(Y, b0 + L.L_X))))
        les_u = add(les_u, add(add(pos(ld(Y, b0 + L.L_K + 1)), pos(ld(Y, b0 + L.L_N + 1))),
                               pos(ld(Y, b0 + L.L_X + 1))))
        for a in range(nc):
            tv_total = add(tv_total, pos(ld(Y, b0 + L.LES_FIXED + a)))
    n_trans = add(add(add(e_t, m_t), les_t), lung_t)
    n_prod = add(add(add(add(n_trans, e_u), m_u), les_u), lung_u)

    # cytokines in quasi-steady state
    t_ld = ld(P, L.P_T_LD)
    ld_age = sub(t, t_ld)
    tau_ld = ld(P, L.P_TAU_LD)
    tau_chemo = ld(P, L.P_TAU_CHEMO)
    ld_f = _ld_factor(t_seg, t_ld, ld_age, tau_ld, _any_ge_lt(t_seg, t_ld, ld_age, mul(splat(LD_HORIZON), tau_ld)))
    need_chemo = _any_ge_lt(t_seg, t_ld, ld_age, mul(splat(LD_HORIZON), tau_chemo))
    chemo_f = _ld_factor(t_seg, t_ld, ld_age, tau_chemo, need_chemo)
    prod15 = ld(P, L.P_P_15)
    ld_int = ld(P, L.P_LD_INT)
    boosted = mul(prod15, add(one, mul(mul(ld(P, L.P_A_LD), ld_int), ld_f)))
    prod15 = where_ge(t_seg, t_ld, where_lt(ld_age, mul(splat(LD_HORIZON), tau_ld), boosted, prod15), prod15)
    prod15 = add(prod15, mul(add(mul(ld(P, L.P_S_ARM_T), n_trans), mul(ld(P, L.P_KA_IL15), pos(ld(Y, L.S_DEP_IL15)))),
                             inv_vb))
    cons = mul(mul(ld(P, L.P_U_CYT), n_prod), inv_vb)
    k_u_cyt = ld(P, L.P_K_U)
    il15 = _qss4(prod15, ld(P, L.P_K_15), cons, k_u_cyt)
    il2 = _qss4(div(mul(ld(P, L.P_KA_IL2), pos(ld(Y, L.S_DEP_IL2))), ld(P, L.P_V_2)), ld(P, L.P_K_2), cons, k_u_cyt)
    u = add(div(il15, ld(P, L.P_EC50_15)), where_gt(il2, zero, div(il2, ld(P, L.P_EC50_2)), zero))
    sig = div(u, add(one, u))
    sig_t = sub(one, mul(sub(one, ld(P, L.P_S_CELL_T)), sub(one, sig)))

    # per-cell rates
    rej = add(mul(mul(ld(P, L.P_K_REJ), hh), ld(P, L.P_G_HLA)), ld(P, L.P_EXTRA_DEATH))
    delta_0 = ld(P, L.P_DELTA_0)
    s_max = ld(P, L.P_S_MAX)
    death_t = add(mul(delta_0, sub(one, mul(s_max, sig_t))), rej)
    death_u = add(mul(delta_0, sub(one, mul(s_max, sig))), rej)
    room = sub(one, div(n_prod, ld(P, L.P_K_NICHE)))
    room = where_lt(room, zero, zero, room)
    rho_h = ld(P, L.P_RHO_H)
    prol_t = mul(mul(rho_h, sig_t), room)
    prol_u = mul(mul(rho_h, sig), room)
    k_m = ld(P, L.P_K_M)
    n_m = ld(P, L.P_N_M)
    mform_t = mul(k_m, _power4(sig_t, n_m))
    mform_u = mul(k_m, _power4(sig, n_m))
    mdeath = add(ld(P, L.P_BETA_M), rej)
    lung_rate = add(delta_0, ld(P, L.P_EXTRA_DEATH))

    abf = where_gt(ab, zero, div(ab, add(ab, ld(P, L.P_EC50_AB))), zero)
    f_comp = ld(P, L.P_F_COMP)
    inv_kappa = div(one, ld(P, L.P_KAPPA))
    fb = ld(P, L.P_F_BLOOD)
    conv = where_ge(t_seg, ld(P, L.P_CONV_START),
                    where_lt(t_seg, ld(P, L.P_CONV_END), sub(one, ld(P, L.P_CONV_INHIB)), one), one)
    k_r = ld(P, L.P_K_R)
    k_out = ld(P, L.P_K_OUT)
    k_clear = ld(P, L.P_K_CLEAR)
    k_rec = ld(P, L.P_K_REC)
    mu_loss = ld(P, L.P_MU_LOSS)
    rho_a = ld(P, L.P_RHO_A)
    k_a = ld(P, L.P_K_A)

    cleared = zero
    kill_car = zero
    kill_nat = zero
    kill_adcc = zero
    div_ag = zero
    deaths = zero
    out_t = zero
    out_u = zero
    in_t = zero
    in_u = zero
    n_ag = 0
    while (1 << n_ag) < nc:
        n_ag += 1
    for l in range(nl):
        b0 = L.NSYS + l * lb
        pl = lpo + l * L.NLP
        k_t = pos(ld(Y, b0 + L.L_K))
        k_u = pos(ld(Y, b0 + L.L_K + 1))
        n_t = pos(ld(Y, b0 + L.L_N))
        n_u = pos(ld(Y, b0 + L.L_N + 1))
        x_t = pos(ld(Y, b0 + L.L_X))
        x_u = pos(ld(Y, b0 + L.L_X + 1))
        dead = pos(ld(Y, b0 + L.L_D))
        tl = zero
        targ = zero
        for a in range(nc):
            ta = pos(ld(Y, b0 + L.LES_FIXED + a))
            tl = add(tl, ta)
            targ = add(targ, mul(ld(P, cpo + a * L.NCP + L.CP_CAR), ta))
        vol = div(add(tl, dead), ld(P, L.P_DENSITY))
        k_in = mul(mul(mul(ld(P, pl + L.LP_Q), vol), inv_vb), ld(P, L.P_E_X))
        fin_t = mul(mul(mul(k_in, ld(P, L.P_M_CHEMO_T)), fb), e_t)
        fin_u = mul(mul(k_in, fb), e_u)
        in_t = add(in_t, fin_t)
        in_u = add(in_u, fin_u)

        inv_denom = div(one, add(add(mul(k_r, add(k_t, k_u)), tl), one))
        w_car = mul(mul(mul(k_t, ld(P, L.P_CAR_T)), q), inv_denom)
        w_nat_t = mul(mul(k_t, ld(P, L.P_NAT_T)), inv_denom)
        w_nat_u = mul(mul(k_u, ld(P, L.P_NAT_U)), inv_denom)
        w_ad_t = mul(mul(mul(k_t, ld(P, L.P_ADCC_T)), abf), inv_denom)
        w_ad_u = mul(mul(mul(k_u, ld(P, L.P_ADCC_U)), abf), inv_denom)
        kt_sum = zero
        ku_sum = zero
        grow = where_ge(tl, one, mul(mul(ld(P, pl + L.LP_R), vlog(div(ld(P, L.P_K_TUM), tl))), conv), zero)
        ktot = zero
        for a in range(nc):
            st(DY, b0 + L.LES_FIXED + a, zero)
        for a in range(nc):
            ia = b0 + L.LES_FIXED + a
            ta = pos(ld(Y, ia))
            cw = ld(P, cpo + a * L.NCP + L.CP_CAR)
            aw = ld(P, cpo + a * L.NCP + L.CP_AB)
            kc = mul(mul(w_car, cw), ta)
            kn_t = mul(w_nat_t, ta)
            kn_u = mul(w_nat_u, ta)
            kd_t = mul(mul(w_ad_t, aw), ta)
            kd_u = mul(mul(w_ad_u, aw), ta)
            kill_car = add(kill_car, kc)
            kill_nat = add(kill_nat, add(kn_t, kn_u))
            kill_adcc = add(kill_adcc, add(kd_t, kd_u))
            kt_sum = add(kt_sum, add(add(kc, kn_t), kd_t))
            ku_sum = add(ku_sum, add(kn_u, kd_u))
            ka = add(add(add(add(kc, kn_t), kn_u), kd_t), kd_u)
            ktot = add(ktot, ka)
            g = where_ge(ta, one, mul(grow, ta), zero)
            loss = zero
            for j in range(n_ag):
                bit = 1 << j
                if a & bit:
                    lost = mul(mu_loss, ta)
                    loss = add(loss, lost)
                    st(DY, b0 + L.LES_FIXED + (a - bit), add(ld(DY, b0 + L.LES_FIXED + (a - bit)), lost))
            st(DY, ia, add(ld(DY, ia), sub(sub(g, ka), loss)))
        st(DY, b0 + L.L_D, sub(ktot, mul(k_clear, dead)))

        r_stim = div(targ, add(add(add(k_t, n_t), x_t), one))
        dv = mul(div(mul(mul(rho_a, q), r_stim), add(k_a, r_stim)), add(k_t, n_t))
        div_ag = add(div_ag, dv)
        exh_t = mul(kt_sum, inv_kappa)
        exh_u = mul(ku_sum, inv_kappa)
        rec_t = mul(mul(k_rec, sig_t), x_t)
        rec_u = mul(mul(k_rec, sig), x_u)
        lo_t = add(death_t, k_out)
        lo_u = add(death_u, k_out)
        fin_dv = add(fin_t, dv)
        st(DY, b0 + L.L_K, sub(add(sub(mul(f_comp, fin_dv), exh_t), rec_t), mul(lo_t, k_t)))
        st(DY, b0 + L.L_K + 1, sub(add(sub(mul(f_comp, fin_u), exh_u), rec_u), mul(lo_u, k_u)))
        st(DY, b0 + L.L_N, sub(mul(sub(one, f_comp), fin_dv), mul(lo_t, n_t)))
        st(DY, b0 + L.L_N + 1, sub(mul(sub(one, f_comp), fin_u), mul(lo_u, n_u)))
        st(DY, b0 + L.L_X, sub(sub(exh_t, rec_t), mul(lo_t, x_t)))
        st(DY, b0 + L.L_X + 1, sub(sub(exh_u, rec_u), mul(lo_u, x_u)))
        out_t = add(out_t, mul(k_out, add(add(k_t, n_t), x_t)))
        out_u = add(out_u, mul(k_out, add(add(k_u, n_u), x_u)))
        deaths = add(deaths, add(mul(death_t, add(add(k_t, n_t), x_t)), mul(death_u, add(add(k_u, n_u), x_u))))
        cleared = add(cleared, mul(k_clear, dead))

    k_lb = ld(P, L.P_K_LB)
    st(DY, L.S_E_T, add(sub(add(mul(k_lb, lung_t), mul(sub(sub(prol_t, death_t), mform_t), e_t)), in_t), out_t))
    st(DY, L.S_E_U, add(sub(add(mul(k_lb, lung_u), mul(sub(sub(prol_u, death_u), mform_u), e_u)), in_u), out_u))
    st(DY, L.S_M_T, sub(mul(mform_t, e_t), mul(mdeath, m_t)))
    st(DY, L.S_M_U, sub(mul(mform_u, e_u), mul(mdeath, m_u)))
    deaths = add(deaths, add(add(add(mul(death_t, e_t), mul(death_u, e_u)), mul(mdeath, add(m_t, m_u))),
                             mul(lung_rate, add(lung_t, lung_u))))

    st(DY, L.S_Q, mul(_neg(ld(P, L.P_K_Q)), q))
    st(DY, L.S_DEP_IL2, mul(_neg(ld(P, L.P_KA_IL2)), pos(ld(Y, L.S_DEP_IL2))))
    st(DY, L.S_DEP_IL15, mul(_neg(ld(P, L.P_KA_IL15)), pos(ld(Y, L.S_DEP_IL15))))
    st(DY, L.S_H, mul(ld(P, L.P_K_H), sub(ld(P, L.P_H_MAX), hh)))
    st(DY, L.S_AB, mul(_neg(ld(P, L.P_K_AB)), ab))
    dw = mul(ld(P, L.P_K_WBC), sub(ld(P, L.P_WBC0), wbc))
    dw_ld = sub(dw, mul(mul(mul(ld(P, L.P_W_KILL), ld_int), chemo_f), wbc))
    dw = where_ge(t_seg, t_ld, where_lt(ld_age, mul(splat(LD_HORIZON), tau_chemo), dw_ld, dw), dw)
    st(DY, L.S_WBC, dw)

    st(DY, L.S_CUM_CLEARED, cleared)
    st(DY, L.S_CUM_CHEMO_KILLED, zero)
    st(DY, L.S_CUM_KILL_CAR, kill_car)
    st(DY, L.S_CUM_KILL_NAT, kill_nat)
    st(DY, L.S_CUM_KILL_ADCC, kill_adcc)
    st(DY, L.S_CUM_PROD_DEATH, deaths)
    st(DY, L.S_CUM_PROD_DIV, add(add(mul(prol_t, e_t), mul(prol_u, e_u)), div_ag))
    st(DY, L.S_CUM_AG_DIV, div_ag)
    st(DY, L.S_CUM_OFFTUMOR, mul(mul(mul(ld(P, L.P_OFFTUMOR_W), q), e_t), splat(1e-9)))
    st(DY, L.S_CUM_NEW_LESION_HAZARD, mul(mul(ld(P, L.P_H_NEW), tv_total), splat(1e-10)))
    h_death = ld(P, L.P_H_DEATH)
    st(DY, L.S_CUM_DEATH_HAZARD, mul(mul(h_death, tv_total), splat(1e-11)))

    st(ALG, L.A_IL15, il15)
    st(ALG, L.A_IL2, il2)
    c_car = ld(P, L.P_C_CAR)
    c_div = ld(P, L.P_C_DIV)
    inv_kc = div(one, ld(P, L.P_K_C))
    release = add(add(mul(c_car, kill_car), mul(ld(P, L.P_C_NK), add(kill_nat, kill_adcc))), mul(c_div, div_ag))
    st(ALG, L.A_C, add(ld(P, L.P_C0), mul(add(mul(release, inv_vb), mul(ld(P, L.P_C_IL2), il2)), inv_kc)))
    st(ALG, L.A_S, sig)
    st(ALG, L.A_LUNG_T, lung_t)
    st(ALG, L.A_LUNG_U, lung_u)
    st(ALG, L.A_KILL, add(add(kill_car, kill_nat), kill_adcc))

    # systemic antigen compartment (docs/model.md process 15), in the lanes where it is active
    for i in (L.S_B_SYS, L.S_CUM_KILL_SYS, L.S_CUM_BSYS_LD, L.S_CUM_BSYS_NET, L.S_T_SYS, L.S_CUM_KILL_TSYS,
              L.S_CUM_TSYS_GROWTH, L.S_CUM_TSYS_CHEMO):
        st(DY, i, zero)
    b_sys0 = ld(P, L.P_B_SYS0)
    k_tsys = ld(P, L.P_K_TSYS)
    if any_gt(b_sys0, zero) or any_gt(k_tsys, zero):
        on = where_gt(b_sys0, zero, one, where_gt(k_tsys, zero, one, zero))
        bsys = pos(ld(Y, L.S_B_SYS))
        tsys = pos(ld(Y, L.S_T_SYS))
        ag = add(bsys, tsys)
        k_sys = mul(f_comp, e_t)
        kill_all = div(mul(mul(mul(ld(P, L.P_CAR_SYS), q), k_sys), ag), add(add(mul(k_r, k_sys), ag), one))
        r_sys = div(ag, add(e_t, one))
        div_sys = mul(div(mul(mul(rho_a, q), r_sys), add(k_a, r_sys)), e_t)
        kill_sys = where_gt(ag, zero, mul(kill_all, div(bsys, ag)), zero)
        kill_t = where_gt(ag, zero, mul(kill_all, div(tsys, ag)), zero)
        net_b = mul(ld(P, L.P_K_B), sub(b_sys0, bsys))
        ld_b = where_ge(t_seg, t_ld, where_lt(ld_age, mul(splat(LD_HORIZON), tau_chemo),
                                              mul(mul(mul(ld(P, L.P_W_KILL_B), ld_int), chemo_f), bsys), zero), zero)
        grow_t = where_ge(tsys, one, mul(mul(mul(ld(P, L.P_R_TSYS), tsys), sub(one, div(tsys, k_tsys))), conv), zero)
        _set_on(DY, L.S_B_SYS, on, sub(sub(net_b, kill_sys), ld_b))
        _set_on(DY, L.S_CUM_KILL_SYS, on, kill_sys)
        _set_on(DY, L.S_CUM_BSYS_LD, on, ld_b)
        _set_on(DY, L.S_CUM_BSYS_NET, on, net_b)
        _set_on(DY, L.S_T_SYS, on, sub(grow_t, kill_t))
        _set_on(DY, L.S_CUM_KILL_TSYS, on, kill_t)
        _set_on(DY, L.S_CUM_TSYS_GROWTH, on, grow_t)
        _set_on(DY, L.S_CUM_DEATH_HAZARD, on, add(ld(DY, L.S_CUM_DEATH_HAZARD), mul(mul(h_death, tsys), splat(1e-11))))
        _set_on(DY, L.S_E_T, on, add(ld(DY, L.S_E_T), div_sys))
        _set_on(DY, L.S_CUM_PROD_DIV, on, add(ld(DY, L.S_CUM_PROD_DIV), div_sys))
        _set_on(DY, L.S_CUM_AG_DIV, on, add(ld(DY, L.S_CUM_AG_DIV), div_sys))
        _set_on(ALG, L.A_C, on, add(ld(ALG, L.A_C), div(add(mul(c_car, kill_all), mul(c_div, div_sys)),
                                                         mul(vb, ld(P, L.P_K_C)))))


@njit(cache=True)
def _set_on(arr: np.ndarray, row: int, on, val) -> None:
    """Row ``row`` becomes ``val`` in the lanes where ``on`` > 0; the other lanes keep their value."""
    st(arr, row, where_gt(on, splat(0.0), val, ld(arr, row)))
