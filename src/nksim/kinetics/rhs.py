"""Right-hand side and dosing events of the reference NK / CAR-NK model (MODEL.md processes 1-14), compiled.

One patient at a time: ``rhs(t, y, p, nl, nc, seg, dy, alg)`` writes dy/dt into ``dy`` and the algebraic outputs
(cytokines in quasi-steady state, lung pool, kill rate) into ``alg``. ``seg = [t_seg, lung_t, lung_u]`` describes the
current between-event segment: its start time and the lung first-pass pool then (closed form inside the segment);
inputs that switch on at an event (lymphodepletion, concomitant treatment windows) are read against ``t_seg``, so a
segment never sees an event that happens at its own end. Model choices that differ from MODEL.md's literal state list are in docs/model.md (rapid blood-tissue
equilibrium, closed-form lung pool, quasi-steady-state cytokines) with the time-scale argument for each.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from nksim.kinetics import layout as L

LD_HORIZON = 30.0  # time constants after which exp(-age/tau) < 1e-13 is treated as 0
LUNG_HORIZON = 46.0  # exp(-46) < 1e-20: the lung pool is treated as empty after that many of its time constants


@njit(cache=True, inline="always")
def _pos(x: float) -> float:
    return x if x > 0.0 else 0.0


@njit(cache=True, inline="always")
def _power(x: float, n: float) -> float:
    """x**n for x >= 0; whole n by repeated multiplication (pow is the costliest call in the right-hand side)."""
    if x <= 0.0:
        return 0.0
    k = int(n)
    if k == n and 0 <= k <= 8:
        r = 1.0
        for _ in range(k):
            r *= x
        return r
    return x ** n


@njit(cache=True, error_model="numpy", inline="always")
def qss_cytokine(prod: float, k: float, c: float, ku: float) -> float:
    """Positive root of prod - k I - c I/(I + ku) = 0 (pg/mL): production, first-order clearance, saturating use."""
    if prod <= 0.0:
        return 0.0
    b = k * ku + c - prod
    disc = b * b + 4.0 * k * prod * ku
    if b >= 0.0:
        return 2.0 * prod * ku / (b + math.sqrt(disc))
    return (-b + math.sqrt(disc)) / (2.0 * k)


@njit(cache=True, error_model="numpy")
def lung_pool(t: float, t_seg: float, p: np.ndarray, ev_t: np.ndarray, ev_k: np.ndarray, ev_a: np.ndarray,
              ev_b: np.ndarray) -> tuple[float, float]:
    """Cells in the lung first-pass pool at t (closed form) from infusions up to t_seg: each i.v. infusion leaves
    f_lung there, released to blood at k_LB and dying at the unsupported rate."""
    lt = 0.0
    lu = 0.0
    if p[L.P_ROUTE_IA] > 0.5:
        return lt, lu
    rate = p[L.P_K_LB] + p[L.P_DELTA_0] + p[L.P_EXTRA_DEATH]
    fl = p[L.P_F_LUNG]
    for k in range(ev_t.shape[0]):
        if ev_k[k] == L.EV_INFUSION and ev_t[k] <= t_seg:
            e = math.exp(-rate * (t - ev_t[k]))
            lt += fl * ev_a[k] * e
            lu += fl * ev_b[k] * e
    return lt, lu


@njit(cache=True, inline="always")
def systemic_antigen(bsys: float, e_t: float, q: float, p: np.ndarray) -> tuple[float, float]:
    """CAR kills of systemic antigen-bearing cells (normal lineage + systemic tumor; cells/d) and the antigen-driven
    divisions they drive (cells/d) in the systemic pool: the lesion laws (ratio-dependent killing by the competent share, kills = K r B/(K_r K + B);
    stimulation rho_a q R/(K_a + R) with R = antigen-bearing cells per transduced cell), without a lesion entry step."""
    k_sys = p[L.P_F_COMP] * e_t
    kill = p[L.P_CAR_SYS] * q * k_sys * bsys / (p[L.P_K_R] * k_sys + bsys + 1.0)
    r_stim = bsys / (e_t + 1.0)
    div = p[L.P_RHO_A] * q * r_stim / (p[L.P_K_A] + r_stim) * e_t
    return kill, div


@njit(cache=True, error_model="numpy")
def rhs(t: float, y: np.ndarray, p: np.ndarray, nl: int, nc: int, seg: np.ndarray, dy: np.ndarray,
        alg: np.ndarray) -> None:
    lb = L.LES_FIXED + nc
    lpo = L.NPAR  # lesion parameter offset
    cpo = L.NPAR + nl * L.NLP  # class parameter offset
    vb = p[L.P_V_B]
    inv_vb = 1.0 / vb

    e_t = _pos(y[L.S_E_T])
    e_u = _pos(y[L.S_E_U])
    m_t = _pos(y[L.S_M_T])
    m_u = _pos(y[L.S_M_U])
    q = _pos(y[L.S_Q])
    hh = _pos(y[L.S_H])
    ab = _pos(y[L.S_AB])
    wbc = _pos(y[L.S_WBC])

    t_seg = seg[0]
    lung_t = 0.0
    lung_u = 0.0
    if seg[1] + seg[2] > 0.0:
        x = (p[L.P_K_LB] + p[L.P_DELTA_0] + p[L.P_EXTRA_DEATH]) * (t - t_seg)
        if x < LUNG_HORIZON:  # beyond it the pool is below 1e-20 of its size at the segment start
            decay = math.exp(-x)
            lung_t = seg[1] * decay
            lung_u = seg[2] * decay

    # product totals (niche, cytokine consumption, IL-15 secretion)
    les_t = 0.0
    les_u = 0.0
    tv_total = 0.0
    for l in range(nl):
        b0 = L.NSYS + l * lb
        les_t += _pos(y[b0 + L.L_K]) + _pos(y[b0 + L.L_N]) + _pos(y[b0 + L.L_X])
        les_u += _pos(y[b0 + L.L_K + 1]) + _pos(y[b0 + L.L_N + 1]) + _pos(y[b0 + L.L_X + 1])
        for a in range(nc):
            tv_total += _pos(y[b0 + L.LES_FIXED + a])
    n_trans = e_t + m_t + les_t + lung_t
    n_prod = n_trans + e_u + m_u + les_u + lung_u

    # cytokines in quasi-steady state (pg/mL)
    # lymphodepletion effects decay exponentially; past LD_HORIZON time constants (< 1e-13) they are dropped
    ld_age = t - p[L.P_T_LD]
    ld_on = t_seg >= p[L.P_T_LD]
    prod15 = p[L.P_P_15]
    if ld_on and ld_age < LD_HORIZON * p[L.P_TAU_LD]:
        prod15 *= 1.0 + p[L.P_A_LD] * p[L.P_LD_INT] * math.exp(-ld_age / p[L.P_TAU_LD])
    prod15 += (p[L.P_S_ARM_T] * n_trans + p[L.P_KA_IL15] * _pos(y[L.S_DEP_IL15])) * inv_vb
    cons = p[L.P_U_CYT] * n_prod * inv_vb
    il15 = qss_cytokine(prod15, p[L.P_K_15], cons, p[L.P_K_U])
    il2 = qss_cytokine(p[L.P_KA_IL2] * _pos(y[L.S_DEP_IL2]) / p[L.P_V_2], p[L.P_K_2], cons, p[L.P_K_U])
    u = il15 / p[L.P_EC50_15] + (il2 / p[L.P_EC50_2] if il2 > 0.0 else 0.0)
    sig = u / (1.0 + u)
    sig_t = 1.0 - (1.0 - p[L.P_S_CELL_T]) * (1.0 - sig)

    # per-cell rates of each group: 0 transduced, 1 untransduced
    rej = p[L.P_K_REJ] * hh * p[L.P_G_HLA] + p[L.P_EXTRA_DEATH]
    death_t = p[L.P_DELTA_0] * (1.0 - p[L.P_S_MAX] * sig_t) + rej
    death_u = p[L.P_DELTA_0] * (1.0 - p[L.P_S_MAX] * sig) + rej
    room = 1.0 - n_prod / p[L.P_K_NICHE]
    if room < 0.0:
        room = 0.0
    prol_t = p[L.P_RHO_H] * sig_t * room
    prol_u = p[L.P_RHO_H] * sig * room
    mform_t = p[L.P_K_M] * _power(sig_t, p[L.P_N_M])
    mform_u = p[L.P_K_M] * _power(sig, p[L.P_N_M])
    mdeath = p[L.P_BETA_M] + rej
    lung_rate = p[L.P_DELTA_0] + p[L.P_EXTRA_DEATH]

    abf = ab / (ab + p[L.P_EC50_AB]) if ab > 0.0 else 0.0
    f_comp = p[L.P_F_COMP]
    inv_kappa = 1.0 / p[L.P_KAPPA]
    fb = p[L.P_F_BLOOD]
    conv = 1.0
    if p[L.P_CONV_START] <= t_seg and t_seg < p[L.P_CONV_END]:
        conv = 1.0 - p[L.P_CONV_INHIB]

    cleared = 0.0
    kill_car = 0.0
    kill_nat = 0.0
    kill_adcc = 0.0
    div_ag = 0.0
    deaths = 0.0
    out_t = 0.0  # lesion -> blood (egress) and blood -> lesion (entry) fluxes, summed over lesions
    out_u = 0.0
    in_t = 0.0
    in_u = 0.0
    n_ag = 0
    while (1 << n_ag) < nc:
        n_ag += 1
    for l in range(nl):
        b0 = L.NSYS + l * lb
        pl = lpo + l * L.NLP
        k_t = _pos(y[b0 + L.L_K])
        k_u = _pos(y[b0 + L.L_K + 1])
        n_t = _pos(y[b0 + L.L_N])
        n_u = _pos(y[b0 + L.L_N + 1])
        x_t = _pos(y[b0 + L.L_X])
        x_u = _pos(y[b0 + L.L_X + 1])
        dead = _pos(y[b0 + L.L_D])
        tl = 0.0
        targ = 0.0
        for a in range(nc):
            ta = _pos(y[b0 + L.LES_FIXED + a])
            tl += ta
            targ += p[cpo + a * L.NCP + L.CP_CAR] * ta
        vol = (tl + dead) / p[L.P_DENSITY]
        k_in = p[pl + L.LP_Q] * vol * inv_vb * p[L.P_E_X]
        fin_t = k_in * p[L.P_M_CHEMO_T] * fb * e_t
        fin_u = k_in * fb * e_u
        in_t += fin_t
        in_u += fin_u

        inv_denom = 1.0 / (p[L.P_K_R] * (k_t + k_u) + tl + 1.0)
        # per-class kill rate per tumor cell, pathway by pathway (hoisted out of the class loop)
        w_car = k_t * p[L.P_CAR_T] * q * inv_denom
        w_nat_t = k_t * p[L.P_NAT_T] * inv_denom
        w_nat_u = k_u * p[L.P_NAT_U] * inv_denom
        w_ad_t = k_t * p[L.P_ADCC_T] * abf * inv_denom
        w_ad_u = k_u * p[L.P_ADCC_U] * abf * inv_denom
        kt_sum = 0.0
        ku_sum = 0.0
        grow = 0.0
        if tl >= 1.0:
            grow = p[pl + L.LP_R] * math.log(p[L.P_K_TUM] / tl) * conv
        ktot = 0.0
        for a in range(nc):
            dy[b0 + L.LES_FIXED + a] = 0.0
        for a in range(nc):
            ia = b0 + L.LES_FIXED + a
            ta = _pos(y[ia])
            cw = p[cpo + a * L.NCP + L.CP_CAR]
            aw = p[cpo + a * L.NCP + L.CP_AB]
            kc = w_car * cw * ta
            kn_t = w_nat_t * ta
            kn_u = w_nat_u * ta
            kd_t = w_ad_t * aw * ta
            kd_u = w_ad_u * aw * ta
            kill_car += kc
            kill_nat += kn_t + kn_u
            kill_adcc += kd_t + kd_u
            kt_sum += kc + kn_t + kd_t
            ku_sum += kn_u + kd_u
            ka = kc + kn_t + kn_u + kd_t + kd_u
            ktot += ka
            g = grow * ta if ta >= 1.0 else 0.0
            loss = 0.0
            for j in range(n_ag):
                bit = 1 << j
                if a & bit:
                    loss += p[L.P_MU_LOSS] * ta
                    dy[b0 + L.LES_FIXED + (a - bit)] += p[L.P_MU_LOSS] * ta
            dy[ia] += g - ka - loss
        dy[b0 + L.L_D] = ktot - p[L.P_K_CLEAR] * dead

        # antigen-driven proliferation of transduced cells (ratio-dependent stimulation)
        r_stim = targ / (k_t + n_t + x_t + 1.0)
        div = p[L.P_RHO_A] * q * r_stim / (p[L.P_K_A] + r_stim) * (k_t + n_t)
        div_ag += div
        exh_t = kt_sum * inv_kappa
        exh_u = ku_sum * inv_kappa
        rec_t = p[L.P_K_REC] * sig_t * x_t
        rec_u = p[L.P_K_REC] * sig * x_u
        lo_t = death_t + p[L.P_K_OUT]
        lo_u = death_u + p[L.P_K_OUT]
        dy[b0 + L.L_K] = f_comp * (fin_t + div) - exh_t + rec_t - lo_t * k_t
        dy[b0 + L.L_K + 1] = f_comp * fin_u - exh_u + rec_u - lo_u * k_u
        dy[b0 + L.L_N] = (1.0 - f_comp) * (fin_t + div) - lo_t * n_t
        dy[b0 + L.L_N + 1] = (1.0 - f_comp) * fin_u - lo_u * n_u
        dy[b0 + L.L_X] = exh_t - rec_t - lo_t * x_t
        dy[b0 + L.L_X + 1] = exh_u - rec_u - lo_u * x_u
        out_t += p[L.P_K_OUT] * (k_t + n_t + x_t)
        out_u += p[L.P_K_OUT] * (k_u + n_u + x_u)
        deaths += death_t * (k_t + n_t + x_t) + death_u * (k_u + n_u + x_u)
        cleared += p[L.P_K_CLEAR] * dead

    # systemic product pools
    dy[L.S_E_T] = p[L.P_K_LB] * lung_t + (prol_t - death_t - mform_t) * e_t - in_t + out_t
    dy[L.S_E_U] = p[L.P_K_LB] * lung_u + (prol_u - death_u - mform_u) * e_u - in_u + out_u
    dy[L.S_M_T] = mform_t * e_t - mdeath * m_t
    dy[L.S_M_U] = mform_u * e_u - mdeath * m_u
    deaths += death_t * e_t + death_u * e_u + mdeath * (m_t + m_u) + lung_rate * (lung_t + lung_u)

    dy[L.S_Q] = -p[L.P_K_Q] * q
    dy[L.S_DEP_IL2] = -p[L.P_KA_IL2] * _pos(y[L.S_DEP_IL2])
    dy[L.S_DEP_IL15] = -p[L.P_KA_IL15] * _pos(y[L.S_DEP_IL15])
    dy[L.S_H] = p[L.P_K_H] * (p[L.P_H_MAX] - hh)
    dy[L.S_AB] = -p[L.P_K_AB] * ab
    dw = p[L.P_K_WBC] * (p[L.P_WBC0] - wbc)
    chemo = ld_on and ld_age < LD_HORIZON * p[L.P_TAU_CHEMO]  # chemotherapy still acting (WBC, normal B cells)
    chemo_f = math.exp(-ld_age / p[L.P_TAU_CHEMO]) if chemo else 0.0
    if chemo:
        dw -= p[L.P_W_KILL] * p[L.P_LD_INT] * chemo_f * wbc
    dy[L.S_WBC] = dw

    dy[L.S_CUM_CLEARED] = cleared
    dy[L.S_CUM_CHEMO_KILLED] = 0.0  # changes only at chemotherapy events
    dy[L.S_CUM_KILL_CAR] = kill_car
    dy[L.S_CUM_KILL_NAT] = kill_nat
    dy[L.S_CUM_KILL_ADCC] = kill_adcc
    dy[L.S_CUM_PROD_DEATH] = deaths
    dy[L.S_CUM_PROD_DIV] = prol_t * e_t + prol_u * e_u + div_ag
    dy[L.S_CUM_AG_DIV] = div_ag
    dy[L.S_CUM_OFFTUMOR] = p[L.P_OFFTUMOR_W] * q * e_t * 1e-9
    dy[L.S_CUM_NEW_LESION_HAZARD] = p[L.P_H_NEW] * tv_total * 1e-10
    dy[L.S_CUM_DEATH_HAZARD] = p[L.P_H_DEATH] * tv_total * 1e-11

    alg[L.A_IL15] = il15
    alg[L.A_IL2] = il2
    inv_kc = 1.0 / p[L.P_K_C]
    alg[L.A_C] = (p[L.P_C0] + ((p[L.P_C_CAR] * kill_car + p[L.P_C_NK] * (kill_nat + kill_adcc) + p[L.P_C_DIV] * div_ag)
                               * inv_vb + p[L.P_C_IL2] * il2) * inv_kc)
    alg[L.A_S] = sig
    alg[L.A_LUNG_T] = lung_t
    alg[L.A_LUNG_U] = lung_u
    alg[L.A_KILL] = kill_car + kill_nat + kill_adcc

    # ---- systemic antigen compartment (docs/model.md process 15): a normal antigen-bearing lineage (B cells for a
    # CD19/CD20 CAR) with homeostatic supply and turnover, depleted by lymphodepletion, and a systemic tumor (marrow /
    # blood leukemia carrying the CAR antigen) with logistic growth; CAR cells of the systemic pool kill both with one
    # ratio-dependent law (kills shared in proportion) and divide on both. b_sys0 = 0 and k_tsys = 0: inert. Its
    # divisions join the product ledger and the c_div release, its kills the c_car release; the systemic tumor adds
    # to the burden-dependent death hazard.
    dy[L.S_B_SYS] = 0.0
    dy[L.S_CUM_KILL_SYS] = 0.0
    dy[L.S_CUM_BSYS_LD] = 0.0
    dy[L.S_CUM_BSYS_NET] = 0.0
    dy[L.S_T_SYS] = 0.0
    dy[L.S_CUM_KILL_TSYS] = 0.0
    dy[L.S_CUM_TSYS_GROWTH] = 0.0
    dy[L.S_CUM_TSYS_CHEMO] = 0.0
    if p[L.P_B_SYS0] > 0.0 or p[L.P_K_TSYS] > 0.0:
        bsys = _pos(y[L.S_B_SYS])
        tsys = _pos(y[L.S_T_SYS])
        ag = bsys + tsys
        kill_all, div_sys = systemic_antigen(ag, e_t, q, p)
        kill_sys = 0.0
        kill_t = 0.0
        if ag > 0.0:  # shared in proportion; exactly 0 for an absent pool
            kill_sys = kill_all * (bsys / ag)
            kill_t = kill_all * (tsys / ag)
        net_b = p[L.P_K_B] * (p[L.P_B_SYS0] - bsys)
        ld_b = 0.0
        if chemo:
            ld_b = p[L.P_W_KILL_B] * p[L.P_LD_INT] * chemo_f * bsys
        grow_t = 0.0
        if tsys >= 1.0:  # a systemic tumor below one cell does not grow (the lesion rule)
            grow_t = p[L.P_R_TSYS] * tsys * (1.0 - tsys / p[L.P_K_TSYS]) * conv
        dy[L.S_B_SYS] = net_b - kill_sys - ld_b
        dy[L.S_CUM_KILL_SYS] = kill_sys
        dy[L.S_CUM_BSYS_LD] = ld_b
        dy[L.S_CUM_BSYS_NET] = net_b
        dy[L.S_T_SYS] = grow_t - kill_t
        dy[L.S_CUM_KILL_TSYS] = kill_t
        dy[L.S_CUM_TSYS_GROWTH] = grow_t
        dy[L.S_CUM_DEATH_HAZARD] += p[L.P_H_DEATH] * tsys * 1e-11
        dy[L.S_E_T] += div_sys
        dy[L.S_CUM_PROD_DIV] += div_sys
        dy[L.S_CUM_AG_DIV] += div_sys
        alg[L.A_C] += (p[L.P_C_CAR] * kill_all + p[L.P_C_DIV] * div_sys) / (vb * p[L.P_K_C])
    # ---- end of the systemic antigen compartment


@njit(cache=True, error_model="numpy")
def _tumor_logkill(y: np.ndarray, nl: int, nc: int, log10_kill: float) -> None:
    if log10_kill <= 0.0:
        return
    frac = 1.0 - 10.0 ** (-log10_kill)
    lb = L.LES_FIXED + nc
    for l in range(nl):
        b0 = L.NSYS + l * lb
        for a in range(nc):
            ia = b0 + L.LES_FIXED + a
            killed = _pos(y[ia]) * frac
            y[ia] -= killed
            y[b0 + L.L_D] += killed
            y[L.S_CUM_CHEMO_KILLED] += killed


@njit(cache=True, error_model="numpy")
def _systemic_logkill(y: np.ndarray, log10_kill: float) -> None:
    """The same one-time log-kill on the systemic tumor (docs/model.md process 15); nothing when there is none."""
    if log10_kill <= 0.0 or y[L.S_T_SYS] <= 0.0:
        return
    killed = y[L.S_T_SYS] * (1.0 - 10.0 ** (-log10_kill))
    y[L.S_T_SYS] -= killed
    y[L.S_CUM_TSYS_CHEMO] += killed


@njit(cache=True, error_model="numpy")
def apply_event(t: float, y: np.ndarray, p: np.ndarray, nl: int, nc: int, kind: int, a: float, b: float,
                ev_t: np.ndarray, ev_k: np.ndarray, ev_a: np.ndarray, ev_b: np.ndarray) -> None:
    """Apply one dosing/treatment event at time t (state jumps in place)."""
    lb = L.LES_FIXED + nc
    if kind == L.EV_INFUSION:
        # CAR expression of the transduced pool: weighted mean with fresh cells (q = 1)
        if a > 0.0:
            lt, lu = lung_pool(t, t - 1e-12, p, ev_t, ev_k, ev_a, ev_b)
            old = _pos(y[L.S_E_T]) + _pos(y[L.S_M_T]) + lt
            for l in range(nl):
                b0 = L.NSYS + l * lb
                old += _pos(y[b0 + L.L_K]) + _pos(y[b0 + L.L_N]) + _pos(y[b0 + L.L_X])
            y[L.S_Q] = (_pos(y[L.S_Q]) * old + a) / (old + a)
        if p[L.P_ROUTE_IA] > 0.5:
            # hepatic artery: a share to the liver lesions, split by perfusion x volume, the rest systemic
            wsum = 0.0
            for l in range(nl):
                b0 = L.NSYS + l * lb
                vol = 0.0
                for c in range(L.LES_FIXED, lb):
                    vol += _pos(y[b0 + c])
                wsum += p[L.NPAR + l * L.NLP + L.LP_IA] * p[L.NPAR + l * L.NLP + L.LP_Q] * vol
            fia = p[L.P_F_IA] if wsum > 0.0 else 0.0
            for l in range(nl):
                b0 = L.NSYS + l * lb
                vol = 0.0
                for c in range(L.LES_FIXED, lb):
                    vol += _pos(y[b0 + c])
                share = fia * p[L.NPAR + l * L.NLP + L.LP_IA] * p[L.NPAR + l * L.NLP + L.LP_Q] * vol / wsum if wsum > 0 else 0.0
                y[b0 + L.L_K] += share * a * p[L.P_F_COMP]
                y[b0 + L.L_N] += share * a * (1.0 - p[L.P_F_COMP])
                y[b0 + L.L_K + 1] += share * b * p[L.P_F_COMP]
                y[b0 + L.L_N + 1] += share * b * (1.0 - p[L.P_F_COMP])
            y[L.S_E_T] += (1.0 - fia) * a
            y[L.S_E_U] += (1.0 - fia) * b
        else:
            y[L.S_E_T] += (1.0 - p[L.P_F_LUNG]) * a
            y[L.S_E_U] += (1.0 - p[L.P_F_LUNG]) * b
    elif kind == L.EV_LD:
        hh = y[L.S_H]
        y[L.S_H] = hh - min(a, 1.0) * (hh - p[L.P_H_LD]) if hh > p[L.P_H_LD] else hh
        _tumor_logkill(y, nl, nc, b)
        _systemic_logkill(y, b)
    elif kind == L.EV_IL2:
        y[L.S_DEP_IL2] += a
    elif kind == L.EV_IL15:
        y[L.S_DEP_IL15] += a
    elif kind == L.EV_AB:
        y[L.S_AB] += a
    elif kind == L.EV_LOGKILL:
        _tumor_logkill(y, nl, nc, a)
        _systemic_logkill(y, a)
