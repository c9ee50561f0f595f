"""Index layout of the state vector, the per-patient parameter vector, the segment description and the events.

The layout is derived from the process declarations (:mod:`nksim.kinetics.processes`) and committed as the
generated module ``nksim.kinetics._layout`` (plain constants an IDE sees); this module re-exports it with the
names earlier versions used (``L_K``, ``LP_R``, ``A_C``, ``EV_LD``, ...), which keep working.

State vector of one patient = systemic block (``NSYS``) + one block per lesion (``LES_FIXED + n_classes``).
Parameter vector = scalar block (``NPAR``) + lesion block (``NLP`` per lesion) + class block (``NCP`` per class).
"""

from __future__ import annotations

from nksim.kinetics._layout import *  # noqa: F401,F403
from nksim.kinetics._layout import (
    A_CYTOKINE_PG_ML,
    A_IL2_PG_ML,
    A_IL15_PG_ML,
    A_KILL_RATE,
    A_SIGNAL,
    CP_AB_W,
    CP_CAR_W,
    EV_ANTIBODY,
    EV_LOG_KILL,
    EV_LYMPHODEPLETION,

    L_K_T,
    L_N_T,
    L_X_T,
    LES_FIXED,
    LP_IA_SHARE,
    LP_IS_TARGET,
    LP_PERFUSION,
    LP_R_GROWTH,
    NCP,
    NLP,
    NPAR,
    NSYS,
)

# names of earlier versions (kept: code and notebooks use them)
L_K = L_K_T  # + group (0 transduced, 1 untransduced)
L_N = L_N_T
L_X = L_X_T
LP_R = LP_R_GROWTH
LP_Q = LP_PERFUSION
LP_IA = LP_IA_SHARE
LP_TARGET = LP_IS_TARGET
CP_CAR = CP_CAR_W
CP_AB = CP_AB_W
A_IL15 = A_IL15_PG_ML
A_IL2 = A_IL2_PG_ML
A_C = A_CYTOKINE_PG_ML
A_S = A_SIGNAL
A_KILL = A_KILL_RATE
EV_LD = EV_LYMPHODEPLETION
EV_AB = EV_ANTIBODY
EV_LOGKILL = EV_LOG_KILL



def lesion_block(n_classes: int) -> int:
    return LES_FIXED + n_classes


def n_states(n_lesions: int, n_classes: int) -> int:
    return NSYS + n_lesions * lesion_block(n_classes)


def n_params(n_lesions: int, n_classes: int) -> int:
    return NPAR + n_lesions * NLP + n_classes * NCP
