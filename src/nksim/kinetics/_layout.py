# ruff: noqa: E501
"""Index layout of the state, parameter, segment and algebraic vectors, and the event codes.

GENERATED from the declarations in nksim.kinetics.processes by nksim.kinetics.codegen.layout_file:
do not edit by hand. State vector of a patient = systemic block (NSYS) + per lesion (LES_FIXED lesion
states + one tumor state per antigen class). Parameter vector = scalar block (NPAR) + NLP per lesion +
NCP per class. Segment description = [start time, one value per closed-form pool]."""

from __future__ import annotations

# ---- systemic states -------------------------------------------------------------------------------------
SYSTEMIC_STATES: list[tuple[str, str, str]] = [
    ('cum_lesion_entry', 'cells', 'cumulative product cells entering the lesions (from blood and by hepatic-artery delivery)'),  # trafficking
    ('dep_il2', 'pg', 's.c. IL-2 depot'),  # cytokines
    ('dep_il15', 'pg', 's.c. IL-15 depot'),  # cytokines
    ('E_t', 'cells', 'functional transduced product NK, blood + tissue (rapid equilibrium; blood share f_blood)'),  # product
    ('E_u', 'cells', 'functional untransduced product NK, blood + tissue'),  # product
    ('M_t', 'cells', 'long-lived transduced pool'),  # product
    ('M_u', 'cells', 'long-lived untransduced pool'),  # product
    ('q', '1', 'mean CAR expression of the transduced pool'),  # product
    ('cum_prod_death', 'cells', 'cumulative product-cell deaths (all pools, lung included)'),  # product
    ('cum_prod_div', 'cells', 'cumulative product-cell divisions'),  # product
    ('cum_ag_div', 'cells', 'cumulative antigen-driven divisions'),  # product
    ('cum_infused_t', 'cells', 'cumulative viable transduced cells infused'),  # product
    ('act_t', 'fraction', 'activated share of the transduced product cells (division program running)'),  # product
    ('prime_t', 'fraction', 'share of the transduced product cells through the first half of their time to first division (T cells)'),  # product
    ('ready_t', 'fraction', 'share of the transduced product cells past their time to first division (T cells)'),  # product
    ('prog_t', 'd', 'mean time the transduced product cells have spent stimulated or in their division program (division timer used)'),  # product
    ('cum_kill_car', 'cells', 'cumulative tumor cells killed by the CAR pathway'),  # killing
    ('cum_kill_nat', 'cells', 'cumulative tumor cells killed by natural cytotoxicity'),  # killing
    ('cum_kill_adcc', 'cells', 'cumulative tumor cells killed by ADCC'),  # killing
    ('cum_cleared', 'cells', 'cumulative dead tumor cells cleared'),  # tumor
    ('cum_new_lesion_hazard', '1', 'cumulative new-lesion hazard'),  # tumor
    ('cum_death_hazard', '1', 'cumulative burden-dependent death hazard'),  # tumor
    ('cum_chemo_killed', 'cells', 'cumulative tumor cells killed by chemotherapy (events)'),  # tumor
    ('H', '1', 'host alloreactivity'),  # host
    ('WBC', 'cells/uL', 'leukocytes'),  # host
    ('WBC_prol', 'cells/uL', 'proliferating marrow progenitors of leukocytes (cells/uL-equivalent)'),  # host
    ('WBC_tr1', 'cells/uL', 'maturing leukocyte precursors, first transit compartment'),  # host
    ('WBC_tr2', 'cells/uL', 'maturing leukocyte precursors, second transit compartment'),  # host
    ('WBC_tr3', 'cells/uL', 'maturing leukocyte precursors, third transit compartment'),  # host
    ('AB', 'ug/mL', 'antibody / engager concentration'),  # antibody
    ('cum_offtumor', '1e9 cell-days', 'cumulative CAR activity against normal tissue x its antigen expression'),  # off_tumor
    ('B_sys', 'cells', 'normal antigen-bearing cells of a circulating lineage (B cells), total body'),  # systemic_antigen
    ('cum_kill_sys', 'cells', 'cumulative normal antigen-bearing cells killed by the CAR pathway'),  # systemic_antigen
    ('cum_bsys_ld', 'cells', 'cumulative normal antigen-bearing cells killed by lymphodepletion'),  # systemic_antigen
    ('cum_bsys_net', 'cells', 'cumulative net homeostatic supply k_b (B0 - B) of the antigen-bearing lineage'),  # systemic_antigen
    ('T_sys', 'cells', 'systemic tumor cells carrying the CAR antigen (marrow / blood leukemia), total body'),  # systemic_antigen
    ('cum_kill_tsys', 'cells', 'cumulative systemic tumor cells killed by the CAR pathway'),  # systemic_antigen
    ('cum_tsys_growth', 'cells', 'cumulative net growth of the systemic tumor'),  # systemic_antigen
    ('cum_tsys_chemo', 'cells', 'cumulative systemic tumor cells killed by chemotherapy (events)'),  # systemic_antigen
    ('Treg', 'cells/uL', 'host regulatory T cells in blood'),  # tregs
    ('ENG', 'ug/mL', 'NK engager concentration'),  # engager
    ('dep_eng', 'ug/mL', 's.c. engager depot (as plasma-concentration equivalent)'),  # engager
    ('cum_kill_eng', 'cells', 'cumulative tumor cells killed by engager-redirected NK (product and endogenous)'),  # engager
]
S_CUM_LESION_ENTRY = 0
S_DEP_IL2 = 1
S_DEP_IL15 = 2
S_E_T = 3
S_E_U = 4
S_M_T = 5
S_M_U = 6
S_Q = 7
S_CUM_PROD_DEATH = 8
S_CUM_PROD_DIV = 9
S_CUM_AG_DIV = 10
S_CUM_INFUSED_T = 11
S_ACT_T = 12
S_PRIME_T = 13
S_READY_T = 14
S_PROG_T = 15
S_CUM_KILL_CAR = 16
S_CUM_KILL_NAT = 17
S_CUM_KILL_ADCC = 18
S_CUM_CLEARED = 19
S_CUM_NEW_LESION_HAZARD = 20
S_CUM_DEATH_HAZARD = 21
S_CUM_CHEMO_KILLED = 22
S_H = 23
S_WBC = 24
S_WBC_PROL = 25
S_WBC_TR1 = 26
S_WBC_TR2 = 27
S_WBC_TR3 = 28
S_AB = 29
S_CUM_OFFTUMOR = 30
S_B_SYS = 31
S_CUM_KILL_SYS = 32
S_CUM_BSYS_LD = 33
S_CUM_BSYS_NET = 34
S_T_SYS = 35
S_CUM_KILL_TSYS = 36
S_CUM_TSYS_GROWTH = 37
S_CUM_TSYS_CHEMO = 38
S_TREG = 39
S_ENG = 40
S_DEP_ENG = 41
S_CUM_KILL_ENG = 42
NSYS = 43

# ---- per-lesion states (offsets inside a lesion block; the tumor classes follow) -------------------------
LESION_STATE_TABLE: list[tuple[str, str, str]] = [
    ('K_t', 'cells', 'killing-competent transduced product NK in the lesion'),  # product
    ('K_u', 'cells', 'killing-competent untransduced product NK in the lesion'),  # product
    ('N_t', 'cells', 'non-killing transduced product NK in the lesion'),  # product
    ('N_u', 'cells', 'non-killing untransduced product NK in the lesion'),  # product
    ('X_t', 'cells', 'exhausted transduced product NK in the lesion'),  # product
    ('X_u', 'cells', 'exhausted untransduced product NK in the lesion'),  # product
    ('D', 'cells', 'dead tumor cells not yet cleared'),  # tumor
]
L_K_T = 0
L_K_U = 1
L_N_T = 2
L_N_U = 3
L_X_T = 4
L_X_U = 5
L_D = 6
LES_FIXED = 7

LESION_STATES = [name for name, _, _ in LESION_STATE_TABLE]
CLASS_STATE = ('T', 'cells', 'viable tumor cells of the antigen class')

# ---- scalar parameters -----------------------------------------------------------------------------------
SCALAR_PARAM_TABLE: list[tuple[str, str, str]] = [
    ('route_ia', 'flag', '1 for a hepatic-artery infusion, 0 for i.v.'),  # dosing
    ('f_ia', 'fraction', 'share of a hepatic-artery dose retained by liver lesions'),  # dosing
    ('V_b', 'mL', 'blood volume'),  # trafficking
    ('f_lung', 'fraction', 'first-pass lung retention of an i.v. dose'),  # trafficking
    ('k_LB', '1/d', 'lung -> blood release'),  # trafficking
    ('f_blood', 'fraction', 'blood share of the functional systemic pool'),  # trafficking
    ('e_x', 'fraction', 'extravasation efficiency per pass of blood through a lesion'),  # trafficking
    ('k_exit', '1/d', 'lesion -> blood egress of the product'),  # trafficking
    ('m_chemo_t', 'fold', 'entry multiplier of transduced cells (matched chemokine receptor)'),  # trafficking
    ('d_access', 'cm', 'depth of the host tissue around a lesion from which extravasated NK reach its tumor cells'),  # trafficking
    ('q_liver', 'mL/(mL d)', 'perfusion of the liver parenchyma around a lesion in the liver'),  # trafficking
    ('m_home', 'fold', "entry multiplier of the product into the indication's lesions by native homing"),  # trafficking
    ('ret_ln', 'fraction', 'share of the lesion egress of transduced cells blocked at full antigen stimulation'),  # trafficking
    ('p_15', 'pg/(mL d)', 'baseline IL-15 production'),  # cytokines
    ('k_15', '1/d', 'IL-15 clearance'),  # cytokines
    ('a_ld', 'fold', 'IL-15 surge after lymphodepletion per unit intensity'),  # cytokines
    ('tau_ld', 'd', 'decay time of the lymphodepletion IL-15 surge'),  # cytokines
    ('ec50_15', 'pg/mL', 'IL-15 at half-maximal signal'),  # cytokines
    ('ec50_2', 'pg/mL', 'IL-2 at half-maximal signal'),  # cytokines
    ('u_cyt', 'pg/(cell d)', 'cytokine consumption per product cell'),  # cytokines
    ('k_u', 'pg/mL', 'cytokine level at half-maximal consumption'),  # cytokines
    ('s_cell_t', '1', 'cell-intrinsic signal of transduced cells (membrane / autocrine IL-15)'),  # cytokines
    ('s_arm_t', 'pg/(cell d)', 'IL-15 secreted into blood per armored transduced cell'),  # cytokines
    ('ka_il2', '1/d', 's.c. IL-2 absorption'),  # cytokines
    ('k_2', '1/d', 'IL-2 clearance'),  # cytokines
    ('V_2', 'mL', 'IL-2 distribution volume'),  # cytokines
    ('ka_il15', '1/d', 's.c. IL-15 absorption'),  # cytokines
    ('delta_0', '1/d', 'death rate of unsupported product NK'),  # product
    ('s_max', 'fraction', 'largest reduction of death by cytokine signal'),  # product
    ('k_rej', '1/d', 'host rejection rate at full alloreactivity'),  # product
    ('g_hla', '1', 'HLA visibility of the product to the host'),  # product
    ('extra_death', '1/d', 'extra death of irradiated cell lines'),  # product
    ('beta_m', '1/d', 'death rate of the long-lived pool'),  # product
    ('k_m', '1/d', 'formation of the long-lived pool at full signal'),  # product
    ('n_m', '1', 'steepness of long-lived pool formation in the signal'),  # product
    ('f_mb', 'fraction', 'blood share of the long-lived pool (readouts)'),  # product
    ('rho_h', '1/d', 'homeostatic proliferation at full signal'),  # product
    ('k_niche', 'cells', 'niche capacity for homeostatic proliferation'),  # product
    ('rho_a', '1/d', 'antigen-driven proliferation at saturation'),  # product
    ('k_a', 'targets/cell', 'targets per transduced cell at half-maximal stimulation'),  # product
    ('burst', 'divisions/cell', 'programmed clonal burst: antigen-driven divisions per transduced cell infused at half the proliferation program'),  # product
    ('f_comp', 'fraction', 'killing-competent share of cells entering a lesion'),  # product
    ('act_on', '1/d', 'start of the division program at full stimulation'),  # product
    ('act_off', '1/d', 'end of the division program once stimulation stops (1 / its duration)'),  # product
    ('t_fd', 'd', 'mean time from stimulation to the first division (0: cells divide as soon as stimulated)'),  # product
    ('g_dd', 'd', 'division timer: time in the division program at which half the transduced cells have stopped dividing'),  # product
    ('n_dd', '1', 'steepness of the division-timer cut-off (spread of timers between clones)'),  # product
    ('k_q', '1/d', 'CAR expression decay (ln 2 / half-life; 0 stable)'),  # product
    ('nat_u', '1/d', 'natural kill rate per untransduced effector'),  # killing
    ('nat_t', '1/d', 'natural kill rate per transduced effector'),  # killing
    ('car_t', '1/d', 'CAR kill rate per transduced effector at full expression'),  # killing
    ('adcc_u', '1/d', 'ADCC rate per untransduced effector at saturating antibody'),  # killing
    ('adcc_t', '1/d', 'ADCC rate per transduced effector at saturating antibody'),  # killing
    ('tgf_t', '1', 'cell-intrinsic TGF-beta factor of transduced effectors in lesions (granules, IFN-gamma, proliferation)'),  # killing
    ('tgf_u', '1', 'cell-intrinsic TGF-beta factor of untransduced effectors in lesions'),  # killing
    ('k_r', '1', 'effector interference in the ratio-dependent law'),  # killing
    ('kappa', 'kills/cell', 'serial kills per effector before exhaustion'),  # exhaustion
    ('k_rec', '1/d', 'recovery from exhaustion at full signal'),  # exhaustion
    ('density', 'cells/mL', 'tumor cells per mL of lesion (a reactive infiltrate the tumor cells sustain fills the rest)'),  # tumor
    ('k_tum', 'cells', 'Gompertz carrying capacity'),  # tumor
    ('mu_loss', '1/d', 'antigen loss per antigen'),  # tumor
    ('k_clear', '1/d', 'clearance of dead tumor cells'),  # tumor
    ('h_new', '1/d', 'new-lesion hazard at a burden of 1e10 cells'),  # tumor
    ('a_new', '1', 'exponent of the burden in the new-lesion hazard (metastatic shedding from a surface, Iwata 2000)'),  # tumor
    ('h_death', '1/(1e11 cell d)', 'death hazard per burden'),  # tumor
    ('t_ld', 'd', 'day of lymphodepletion (inf: none)'),  # chemotherapy
    ('ld_int', '1', 'lymphodepletion intensity'),  # chemotherapy
    ('tau_chemo', 'd', 'decay time of chemotherapy exposure'),  # chemotherapy
    ('conv_inhib', 'fraction', 'growth slowdown by concomitant treatment'),  # chemotherapy
    ('conv_start', 'd', 'start of the concomitant window'),  # chemotherapy
    ('conv_end', 'd', 'end of the concomitant window'),  # chemotherapy
    ('h_ld', '1', 'alloreactivity right after full-intensity lymphodepletion'),  # host
    ('k_h', '1/d', 'recovery of alloreactivity'),  # host
    ('h_max', '1', 'alloreactivity at rest'),  # host
    ('wbc0', 'cells/uL', 'leukocytes at rest'),  # host
    ('k_wbc', '1/d', 'leukocyte maturation transit rate (4 / mean transit time)'),  # host
    ('wbc_gamma', '1', 'feedback of circulating leukocytes on progenitor proliferation'),  # host
    ('w_kill_marrow', '1/d', 'kill of proliferating progenitors by chemotherapy at unit intensity'),  # host
    ('k_ab', '1/d', 'antibody elimination (ln 2 / half-life)'),  # antibody
    ('ec50_ab', 'ug/mL', 'antibody at half-maximal ADCC'),  # antibody
    ('c0', 'pg/mL', 'baseline proxy level'),  # inflammation
    ('k_c', '1/d', 'proxy clearance'),  # inflammation
    ('c_car', 'pg/cell', 'release per CAR kill'),  # inflammation
    ('c_nk', 'pg/cell', 'release per natural or ADCC kill'),  # inflammation
    ('c_div', 'pg/cell', 'release per antigen-driven division'),  # inflammation
    ('c_il2', '1/d', 'proxy released per pg/mL IL-2'),  # inflammation
    ('offtumor_w', '1', "normal-tissue expression of the CAR's targets"),  # off_tumor
    ('b_sys0', 'cells', 'normal antigen-bearing cells at rest (0: compartment inactive)'),  # systemic_antigen
    ('k_b', '1/d', 'turnover of the antigen-bearing lineage'),  # systemic_antigen
    ('f_bm', 'fraction', "share of the lineage's renewal that comes from the marrow's output of new cells"),  # systemic_antigen
    ('w_kill_b', '1/d', 'kill of the lineage by chemotherapy at unit intensity'),  # systemic_antigen
    ('car_sys', '1/d', 'CAR kill rate on systemic targets'),  # systemic_antigen
    ('f_b_blood', 'fraction', 'blood share of the lineage (readouts)'),  # systemic_antigen
    ('r_tsys', '1/d', 'net growth rate of the systemic tumor'),  # systemic_antigen
    ('k_tsys', 'cells', 'marrow capacity of the systemic tumor (0: none)'),  # systemic_antigen
    ('g_ifn', 'fraction', 'largest growth slowdown by effector IFN-gamma'),  # cytostasis
    ('k_ifn', 'effectors/tumor cell', 'killing-competent effectors per tumor cell at half-maximal slowdown'),  # cytostasis
    ('ifn_u', '1', 'IFN-gamma secretion of an untransduced effector relative to an unsuppressed NK'),  # cytostasis
    ('ifn_t', '1', 'IFN-gamma secretion of a transduced effector relative to an unsuppressed NK'),  # cytostasis
    ('w_kill', '1/d', 'kill of circulating lymphocytes by chemotherapy at unit intensity'),  # tregs
    ('treg0', 'cells/uL', 'blood Tregs at rest'),  # tregs
    ('k_treg', '1/d', 'homeostatic return of Tregs'),  # tregs
    ('rho_treg', '1/d', 'IL-2-driven Treg proliferation at saturation'),  # tregs
    ('ec50_2_treg', 'pg/mL', 'IL-2 at half-maximal Treg proliferation (high-affinity receptor)'),  # tregs
    ('u_treg', 'pg/(cell d)', 'IL-2 consumption per Treg at saturation'),  # tregs
    ('f_treg_blood', 'fraction', "blood share of the body's Tregs"),  # tregs
    ('k_eng', '1/d', 'engager elimination (ln 2 / half-life)'),  # engager
    ('ka_eng', '1/d', 's.c. engager absorption'),  # engager
    ('ec50_eng', 'ug/mL', 'engager at half-maximal redirected killing'),  # engager
    ('eng_il15', 'pg/ug', 'IL-15-equivalent signal per engager concentration'),  # engager
    ('k_eng_endo', '1/d', 'per-capita kill of targeted tumor by engager-redirected endogenous NK at saturation'),  # engager
    ('eng_t', '1/d', 'engager-redirected kill rate per transduced effector at saturating engager'),  # engager
    ('eng_u', '1/d', 'engager-redirected kill rate per untransduced effector at saturating engager'),  # engager
]
P_ROUTE_IA = 0
P_F_IA = 1
P_V_B = 2
P_F_LUNG = 3
P_K_LB = 4
P_F_BLOOD = 5
P_E_X = 6
P_K_EXIT = 7
P_M_CHEMO_T = 8
P_D_ACCESS = 9
P_Q_LIVER = 10
P_M_HOME = 11
P_RET_LN = 12
P_P_15 = 13
P_K_15 = 14
P_A_LD = 15
P_TAU_LD = 16
P_EC50_15 = 17
P_EC50_2 = 18
P_U_CYT = 19
P_K_U = 20
P_S_CELL_T = 21
P_S_ARM_T = 22
P_KA_IL2 = 23
P_K_2 = 24
P_V_2 = 25
P_KA_IL15 = 26
P_DELTA_0 = 27
P_S_MAX = 28
P_K_REJ = 29
P_G_HLA = 30
P_EXTRA_DEATH = 31
P_BETA_M = 32
P_K_M = 33
P_N_M = 34
P_F_MB = 35
P_RHO_H = 36
P_K_NICHE = 37
P_RHO_A = 38
P_K_A = 39
P_BURST = 40
P_F_COMP = 41
P_ACT_ON = 42
P_ACT_OFF = 43
P_T_FD = 44
P_G_DD = 45
P_N_DD = 46
P_K_Q = 47
P_NAT_U = 48
P_NAT_T = 49
P_CAR_T = 50
P_ADCC_U = 51
P_ADCC_T = 52
P_TGF_T = 53
P_TGF_U = 54
P_K_R = 55
P_KAPPA = 56
P_K_REC = 57
P_DENSITY = 58
P_K_TUM = 59
P_MU_LOSS = 60
P_K_CLEAR = 61
P_H_NEW = 62
P_A_NEW = 63
P_H_DEATH = 64
P_T_LD = 65
P_LD_INT = 66
P_TAU_CHEMO = 67
P_CONV_INHIB = 68
P_CONV_START = 69
P_CONV_END = 70
P_H_LD = 71
P_K_H = 72
P_H_MAX = 73
P_WBC0 = 74
P_K_WBC = 75
P_WBC_GAMMA = 76
P_W_KILL_MARROW = 77
P_K_AB = 78
P_EC50_AB = 79
P_C0 = 80
P_K_C = 81
P_C_CAR = 82
P_C_NK = 83
P_C_DIV = 84
P_C_IL2 = 85
P_OFFTUMOR_W = 86
P_B_SYS0 = 87
P_K_B = 88
P_F_BM = 89
P_W_KILL_B = 90
P_CAR_SYS = 91
P_F_B_BLOOD = 92
P_R_TSYS = 93
P_K_TSYS = 94
P_G_IFN = 95
P_K_IFN = 96
P_IFN_U = 97
P_IFN_T = 98
P_W_KILL = 99
P_TREG0 = 100
P_K_TREG = 101
P_RHO_TREG = 102
P_EC50_2_TREG = 103
P_U_TREG = 104
P_F_TREG_BLOOD = 105
P_K_ENG = 106
P_KA_ENG = 107
P_EC50_ENG = 108
P_ENG_IL15 = 109
P_K_ENG_ENDO = 110
P_ENG_T = 111
P_ENG_U = 112
NPAR = 113

SCALAR_PARAMS = [name for name, _, _ in SCALAR_PARAM_TABLE]

# ---- per-lesion parameters (offsets inside a lesion parameter block) -------------------------------------
LESION_PARAM_TABLE: list[tuple[str, str, str]] = [
    ('ia_share', 'flag', '1 for a lesion in the liver (reached by a hepatic-artery dose)'),  # dosing
    ('perfusion', 'mL/(mL d)', 'lesion perfusion Q_l'),  # trafficking
    ('r_growth', '1/d', 'Gompertz rate of the lesion'),  # tumor
    ('is_target', 'flag', '1 for a target lesion (readouts)'),  # tumor
]
LP_IA_SHARE = 0
LP_PERFUSION = 1
LP_R_GROWTH = 2
LP_IS_TARGET = 3
NLP = 4

LESION_PARAMS = [name for name, _, _ in LESION_PARAM_TABLE]

# ---- per-class parameters --------------------------------------------------------------------------------
CLASS_PARAM_TABLE: list[tuple[str, str, str]] = [
    ('car_w', '1', 'CAR targeting weight of the class (ligand level for an NKG2D CAR)'),  # killing
    ('ab_w', 'flag', "1 for a class carrying the antibody's target"),  # killing
    ('mask', 'bits', 'antigen bits of the class (readouts)'),  # tumor
    ('eng_w', 'flag', "1 for a class carrying the engager's target"),  # engager
]
CP_CAR_W = 0
CP_AB_W = 1
CP_MASK = 2
CP_ENG_W = 3
NCP = 4

CLASS_PARAMS = [name for name, _, _ in CLASS_PARAM_TABLE]

# ---- closed-form pools (segment entries 1..) -------------------------------------------------------------
POOLS: list[tuple[str, str, str]] = [
    ('lung_t', 'cells', 'transduced cells in the lung first-pass pool'),  # lung_rate
    ('lung_u', 'cells', 'untransduced cells in the lung first-pass pool'),  # lung_rate
]
SEG_LUNG_T = 0
SEG_LUNG_U = 1
NPOOL = 2

NSEG = NPOOL + 1

# ---- algebraic outputs -----------------------------------------------------------------------------------
ALGEBRAIC: list[tuple[str, str, str]] = [
    ('lung_t', 'cells', 'transduced cells in the lung first-pass pool'),
    ('lung_u', 'cells', 'untransduced cells in the lung first-pass pool'),
    ('il15_pg_ml', 'pg/mL', 'systemic IL-15 (quasi-steady state)'),
    ('il2_pg_ml', 'pg/mL', 'systemic IL-2 (quasi-steady state)'),
    ('signal', '1', 'cytokine signal S of untransduced cells'),
    ('cytokine_pg_ml', 'pg/mL', 'inflammatory cytokine proxy C, IL-6-like (quasi-steady state)'),
    ('kill_rate', 'cells/d', 'tumor cells killed per day, all pathways'),
    ('treg_il2_use', 'pg/(mL d)', 'IL-2 consumed by host Tregs'),
]
A_LUNG_T = 0
A_LUNG_U = 1
A_IL15_PG_ML = 2
A_IL2_PG_ML = 3
A_SIGNAL = 4
A_CYTOKINE_PG_ML = 5
A_KILL_RATE = 6
A_TREG_IL2_USE = 7
NALG = 8

# ---- events ------------------------------------------------------------------------------------------------
EV_NONE = 0
EV_INFUSION = 1  # a = viable transduced cells; b = viable untransduced cells
EV_LYMPHODEPLETION = 2  # a = intensity; b = log10 kill of tumor
EV_IL2 = 3  # a = pg absorbed into the IL-2 depot
EV_IL15 = 4  # a = pg into the IL-15 depot
EV_ANTIBODY = 5  # a = ug/mL added
EV_LOG_KILL = 6  # a = log10 kill of tumor
EV_BOUNDARY = 7  # a = (none: a discontinuity of a piecewise-constant input)
EV_INFUSION_IA = 8  # a = viable transduced cells, hepatic artery; b = viable untransduced cells, hepatic artery
EV_TREG_DEPLETION = 9  # a = fraction of Tregs removed
EV_ENGAGER = 10  # a = ug/mL added to plasma (i.v.); b = ug/mL added to the s.c. depot
EVENTS: dict[int, str] = {1: 'infusion', 8: 'infusion_ia', 3: 'il2', 4: 'il15', 2: 'lymphodepletion', 6: 'log_kill', 7: 'boundary', 5: 'antibody', 9: 'treg_depletion', 10: 'engager'}
