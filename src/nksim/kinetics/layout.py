"""Index layout of the state vector and of the per-patient parameter vector.

The compiled right-hand side reads these module-level integer constants (numba freezes them at compile time), so one
compiled kernel serves every configuration: the number of lesions and antigen classes are runtime sizes.

State vector of one patient = systemic block (``NSYS``) + one block per lesion (``LES_FIXED + n_classes``).
Parameter vector = scalar block (``NPAR``) + lesion block (``NLP`` per lesion) + class block (``NCP`` per class).
"""

from __future__ import annotations

# ---- systemic states ---------------------------------------------------------------------------------------------
SYSTEMIC_STATES: list[tuple[str, str, str]] = [
    ("E_t", "cells", "functional transduced product NK, blood + tissue (rapid equilibrium; blood share f_blood)"),
    ("E_u", "cells", "functional untransduced product NK, blood + tissue"),
    ("M_t", "cells", "long-lived transduced pool"),
    ("M_u", "cells", "long-lived untransduced pool"),
    ("q", "1", "mean CAR expression of the transduced pool"),
    ("dep_il2", "pg", "s.c. IL-2 depot"),
    ("dep_il15", "pg", "s.c. IL-15 depot"),
    ("H", "1", "host alloreactivity"),
    ("AB", "ug/mL", "antibody / engager concentration"),
    ("WBC", "cells/uL", "leukocytes"),
    ("cum_kill_car", "cells", "cumulative tumor cells killed by the CAR pathway"),
    ("cum_kill_nat", "cells", "cumulative tumor cells killed by natural cytotoxicity"),
    ("cum_kill_adcc", "cells", "cumulative tumor cells killed by ADCC"),
    ("cum_prod_death", "cells", "cumulative product-cell deaths (all pools, lung included)"),
    ("cum_prod_div", "cells", "cumulative product-cell divisions"),
    ("cum_cleared", "cells", "cumulative dead tumor cells cleared"),
    ("cum_offtumor", "1e9 cell-days", "cumulative CAR activity against normal tissue x its antigen expression"),
    ("cum_new_lesion_hazard", "1", "cumulative new-lesion hazard"),
    ("cum_death_hazard", "1", "cumulative burden-dependent death hazard"),
    ("cum_chemo_killed", "cells", "cumulative tumor cells killed by chemotherapy (events)"),
    ("cum_ag_div", "cells", "cumulative antigen-driven divisions"),
    # systemic antigen compartment (normal antigen-bearing lineage, e.g. B cells for a CD19 CAR; 0 when inactive)
    ("B_sys", "cells", "normal antigen-bearing cells of a circulating lineage (B cells), total body"),
    ("cum_kill_sys", "cells", "cumulative normal antigen-bearing cells killed by the CAR pathway"),
    ("cum_bsys_ld", "cells", "cumulative normal antigen-bearing cells killed by lymphodepletion"),
    ("cum_bsys_net", "cells", "cumulative net homeostatic supply k_b (B0 - B) of the antigen-bearing lineage"),
    # systemic tumor (marrow / blood leukemia carrying the CAR antigen; 0 unless the indication is systemic)
    ("T_sys", "cells", "systemic tumor cells carrying the CAR antigen (marrow / blood leukemia), total body"),
    ("cum_kill_tsys", "cells", "cumulative systemic tumor cells killed by the CAR pathway"),
    ("cum_tsys_growth", "cells", "cumulative net growth of the systemic tumor"),
    ("cum_tsys_chemo", "cells", "cumulative systemic tumor cells killed by chemotherapy (events)"),
]
for _i, (_n, _u, _d) in enumerate(SYSTEMIC_STATES):
    globals()["S_" + _n.upper()] = _i
NSYS = len(SYSTEMIC_STATES)
S_E_T: int
S_E_U: int
S_M_T: int
S_M_U: int
S_Q: int
S_DEP_IL2: int
S_DEP_IL15: int
S_H: int
S_AB: int
S_WBC: int
S_CUM_KILL_CAR: int
S_CUM_KILL_NAT: int
S_CUM_KILL_ADCC: int
S_CUM_PROD_DEATH: int
S_CUM_PROD_DIV: int
S_CUM_CLEARED: int
S_CUM_OFFTUMOR: int
S_CUM_NEW_LESION_HAZARD: int
S_CUM_DEATH_HAZARD: int
S_CUM_CHEMO_KILLED: int
S_CUM_AG_DIV: int
S_B_SYS: int
S_CUM_KILL_SYS: int
S_CUM_BSYS_LD: int
S_CUM_BSYS_NET: int
S_T_SYS: int
S_CUM_KILL_TSYS: int
S_CUM_TSYS_GROWTH: int
S_CUM_TSYS_CHEMO: int

# ---- per-lesion states (offsets inside a lesion block) ------------------------------------------------------------
LESION_STATES = ["K_t", "K_u", "N_t", "N_u", "X_t", "X_u", "D"]
L_K = 0  # + group (0 transduced, 1 untransduced)
L_N = 2
L_X = 4
L_D = 6
LES_FIXED = 7  # then one tumor state per antigen class


def lesion_block(n_classes: int) -> int:
    return LES_FIXED + n_classes


def n_states(n_lesions: int, n_classes: int) -> int:
    return NSYS + n_lesions * lesion_block(n_classes)


# ---- scalar parameters --------------------------------------------------------------------------------------------
SCALAR_PARAMS = [
    # physiology / transport
    "V_b", "f_lung", "k_LB", "f_blood", "e_x", "k_out", "m_chemo_t", "route_ia", "f_ia",
    # cytokines
    "p_15", "k_15", "a_ld", "tau_ld", "ec50_15", "ec50_2", "u_cyt", "k_u", "s_max", "s_cell_t", "s_arm_t",
    "ka_il2", "k_2", "V_2", "ka_il15",
    # death / proliferation
    "delta_0", "k_rej", "g_hla", "extra_death", "beta_m", "k_m", "n_m", "f_mb", "rho_h", "k_niche", "rho_a", "k_a",
    # killing
    "nat_u", "nat_t", "car_t", "adcc_u", "adcc_t", "ec50_ab", "k_r", "f_comp", "kappa", "k_rec",
    # tumor
    "density", "k_tum", "mu_loss", "k_clear", "h_new", "h_death", "conv_inhib", "conv_start", "conv_end",
    # host, WBC, LD
    "t_ld", "ld_int", "h_ld", "k_h", "h_max", "wbc0", "k_wbc", "w_kill", "tau_chemo",
    # cytokine proxy, antibody, CAR expression
    "c0", "k_c", "c_car", "c_nk", "c_div", "c_il2", "k_ab", "k_q", "offtumor_w",
    # systemic antigen compartment: steady-state cells (0 = inactive), turnover, lymphodepletion kill, CAR kill rate
    # on systemic targets, blood share
    "b_sys0", "k_b", "w_kill_b", "car_sys", "f_b_blood",
    # systemic tumor (marrow / blood leukemia): logistic net growth rate and capacity (0 = no systemic tumor)
    "r_tsys", "k_tsys",
]
for _i, _n in enumerate(SCALAR_PARAMS):
    globals()["P_" + _n.upper()] = _i
NPAR = len(SCALAR_PARAMS)

# per-lesion parameters (offsets inside a lesion parameter block)
LESION_PARAMS = ["r_growth", "perfusion", "ia_share", "is_target"]
LP_R = 0
LP_Q = 1
LP_IA = 2
LP_TARGET = 3
NLP = len(LESION_PARAMS)

# per-class parameters: CAR targeting weight (0..; ligand level for an NKG2D CAR), antibody target flag,
# and for antigen loss: the bitmask of the class
CLASS_PARAMS = ["car_w", "ab_w", "mask"]
CP_CAR = 0
CP_AB = 1
CP_MASK = 2
NCP = len(CLASS_PARAMS)


def n_params(n_lesions: int, n_classes: int) -> int:
    return NPAR + n_lesions * NLP + n_classes * NCP


# ---- events -------------------------------------------------------------------------------------------------------
EV_NONE = 0
EV_INFUSION = 1  # a = transduced viable cells, b = untransduced viable cells
EV_LD = 2  # a = intensity, b = log10 kill of tumor
EV_IL2 = 3  # a = pg absorbed into the depot
EV_IL15 = 4  # a = pg into the depot
EV_AB = 5  # a = ug/mL added
EV_LOGKILL = 6  # a = log10 kill of tumor
EV_BOUNDARY = 7  # a discontinuity of a piecewise-constant input (no state change)

# ---- algebraic outputs the right-hand side reports ----------------------------------------------------------------
ALGEBRAIC = [
    ("il15_pg_ml", "pg/mL", "systemic IL-15 (quasi-steady state)"),
    ("il2_pg_ml", "pg/mL", "systemic IL-2 (quasi-steady state)"),
    ("cytokine_pg_ml", "pg/mL", "inflammatory cytokine proxy C, IL-6-like (quasi-steady state)"),
    ("signal", "1", "cytokine signal S of untransduced cells"),
    ("lung_t", "cells", "transduced cells in the lung first-pass pool"),
    ("lung_u", "cells", "untransduced cells in the lung first-pass pool"),
    ("kill_rate", "cells/d", "tumor cells killed per day, all pathways"),
]
A_IL15, A_IL2, A_C, A_S, A_LUNG_T, A_LUNG_U, A_KILL = range(len(ALGEBRAIC))
NALG = len(ALGEBRAIC)
