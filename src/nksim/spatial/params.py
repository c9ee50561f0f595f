"""Resolve registry parameters and a SpatialSpec into the flat arrays the numba kernels read (rates per min)."""

from __future__ import annotations

import numpy as np

from nksim.registry import load_registry
from nksim.spec.spatial import SpatialSpec

# voxel contents
EMPTY, TUMOR, DEAD, STROMA, VESSEL = 0, 1, 2, 3, 4
# NK states: the explicit state machine search -> conjugate -> lytic hit -> detach, plus exhausted / dead
SEARCH, CONJ, RELEASE, EXHAUSTED, GONE = 0, 1, 2, 3, 4
STATE_NAMES = ("search", "conjugated", "detach", "exhausted", "dead")
# fields (substrate-major rows of the field array)
F_CHEM, F_TGF, F_O2, F_IL15 = 0, 1, 2, 3
FIELD_NAMES = ("chemokine", "tgfb", "oxygen", "il15")
FIELD_UNITS = ("relative to tumor core", "ng/mL", "mmHg", "pg/mL")

# indices into the float parameter vector used by the NK kernel
(I_DT, I_KCONJ, I_RNAT, I_RCAR, I_RADCC, I_KDET, I_KREL, I_HOP, I_TUMMOT, I_CHI, I_CHEMK, I_DELTA0, I_SMAX,
 I_EC50_15, I_SMEM, I_KREC, I_KAPPA, I_IC50NAT, I_IC50CAR, I_IC50ADCC, I_TGFMULT, I_HYPSUPP, I_HYPK, I_WELLMIXED,
 I_FCOMP, I_FCAR, N_PAR) = range(27)
# NK flag 'car' marks a transduced cell: it carries the construct and all its armoring (CAR, IL-15, dnTGFBR2)
# indices into the integer configuration vector
(C_NX, C_NY, C_NZ, C_DIMS, C_CARMASK, C_ADCCMASK, C_SEED, N_CFG) = range(8)
# event counters
COUNTER_NAMES = ("kills_nat", "kills_car", "kills_adcc", "kills_antigen_pos", "kills_antigen_neg", "nk_deaths",
                 "nk_entered", "nk_infiltrated", "exhaustion_events", "recovery_events", "conjugations",
                 "detach_no_kill", "nk_updates", "tumor_divisions", "tumor_necrosis", "tumor_updates")
(K_NAT, K_CAR, K_ADCC, K_POS, K_NEG, K_DEATH, K_ENTER, K_INFIL, K_EXH, K_REC, K_CONJ, K_DETACH, K_NKUPD,
 K_DIV, K_NECRO, K_TUPD) = range(16)
# columns of a run's records (one row per tumor step): time, counts and field summaries, then the event counters;
# the model writes them and the results / coarse-graining / claims read them
RECORD_NAMES = ("time_d", "tumor_antigen_pos", "tumor_antigen_neg", "tumor_dead", "nk_total", "nk_search",
                "nk_conjugated", "nk_detach", "nk_exhausted", "nk_functional", "nk_competent_active", "nk_in_tumor",
                "tgfb_mean_tumor_ng_ml", "hypoxic_fraction_tumor", "il15_mean_tumor_pg_ml", "nk_competent_in_lesion",
                "nk_exhausted_competent_in_lesion", "tumor_voxels_mass") + COUNTER_NAMES

SHARED_KINETIC = ("kappa", "f_comp", "tgf_ic50_nat", "tgf_ic50_car", "tgf_ic50_adcc", "dn_rescue", "hyp_supp",
                  "i_self", "ec50_15", "s_mem", "s_max", "delta_0", "k_rec", "m_cd16", "ec50_ab",
                  "tumor_perfusion_ml_per_ml_d")


def resolve_values(spec: SpatialSpec) -> dict[str, float]:
    """Registry defaults (spatial block + shared kinetic names) with the scenario's overrides applied."""
    values = load_registry().resolve(spec.parameters, where=f"{spec.name}.parameters")
    return values


def antigen_masks(spec: SpatialSpec) -> tuple[list[str], int, int]:
    """Antigen bit order, CAR-target mask (OR logic) and ADCC-target mask."""
    names = [a.name for a in spec.tissue.antigens]
    car = 0
    for a in spec.product.car_targets:
        car |= 1 << names.index(a)
    adcc = 0
    if spec.product.antibody_target and spec.product.antibody_ug_ml > 0:
        adcc = 1 << names.index(spec.product.antibody_target)
    return names, car, adcc


def nk_parameters(spec: SpatialSpec, v: dict[str, float]) -> np.ndarray:
    """Float vector for the NK kernel (all rates per minute)."""
    p = np.zeros(N_PAR)
    pr, tu = spec.product, spec.tumor
    p[I_DT] = spec.time.dt_nk_min
    p[I_KCONJ] = v["abm_k_conj_per_min"]
    natrec = tu.ligand_level * (1.0 - v["i_self"] * tu.hla_level * pr.kir_engagement)
    p[I_RNAT] = v["abm_r_hit_nat_per_min"] * max(natrec, 0.0) * pr.natural_cytotoxicity_scale * pr.potency
    p[I_RCAR] = v["abm_r_hit_car_per_min"] * pr.potency if pr.car_targets else 0.0
    ab = pr.antibody_ug_ml
    p[I_RADCC] = (v["abm_r_hit_adcc_per_min"] * ab / (ab + v["ec50_ab"]) * (1.0 + v["m_cd16"] * pr.ha_cd16)
                  * pr.potency) if (pr.antibody_target and ab > 0) else 0.0
    p[I_KDET] = v["abm_k_detach_per_min"]
    p[I_KREL] = v["abm_k_release_per_min"]
    p[I_HOP] = v["abm_nk_speed_um_min"] / spec.tissue.voxel_um
    p[I_TUMMOT] = v["abm_tumor_motility"]
    p[I_CHI] = v["abm_chemotaxis_receptor"] if spec.receptor_matches() else v["abm_chemotaxis_native"]
    p[I_CHEMK] = v["abm_chemokine_k"]
    p[I_DELTA0] = v["delta_0"] / 1440.0
    p[I_SMAX] = v["s_max"]
    p[I_EC50_15] = v["ec50_15"]
    p[I_SMEM] = v["s_mem"] if pr.il15 == "membrane" else 0.0
    p[I_KREC] = v["k_rec"] / 1440.0
    p[I_KAPPA] = v["kappa"]
    p[I_IC50NAT] = v["tgf_ic50_nat"]
    p[I_IC50CAR] = v["tgf_ic50_car"]
    p[I_IC50ADCC] = v["tgf_ic50_adcc"]
    p[I_TGFMULT] = 1.0 - v["dn_rescue"] if pr.dntgfbr2 else 1.0
    p[I_HYPSUPP] = v["hyp_supp"]
    p[I_HYPK] = v["abm_hypoxia_mmhg"]
    p[I_WELLMIXED] = 1.0 if spec.mode == "well_mixed" else 0.0
    p[I_FCOMP] = v["f_comp"]
    p[I_FCAR] = spec.nk.transduced_fraction if pr.car_targets or pr.il15 != "none" or pr.dntgfbr2 else 0.0
    return p


def field_coefficients(spec: SpatialSpec, v: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per field: diffusion (um^2/min) and reaction table [decay, tumor uptake, tumor source, stroma source,
    vessel exchange, vessel level] in 1/min and units/min; sources normalised to the tumor-core steady level."""
    f = spec.fields
    diff = np.array([v["abm_chemokine_diffusion_um2_min"], v["abm_tgfb_diffusion_um2_min"],
                     v["abm_o2_diffusion_um2_min"], v["abm_il15_diffusion_um2_min"]])
    ex = v["abm_vessel_exchange_per_min"]
    dc, dt_, do, di = (v["abm_chemokine_decay_per_min"], v["abm_tgfb_decay_per_min"], v["abm_o2_decay_per_min"],
                       v["abm_il15_decay_per_min"])
    table = np.array([
        [dc, 0.0, dc * 1.0, 0.0, 0.0, 0.0],
        [dt_, 0.0, dt_ * f.tgfb_tumor_ng_ml, dt_ * f.tgfb_tumor_ng_ml * f.tgfb_stroma_share, 0.0, 0.0],
        [do, v["abm_o2_uptake_tumor_per_min"] * f.o2_consumption_scale, 0.0, 0.0, ex, v["abm_o2_blood_mmhg"]],
        [di, 0.0, 0.0, 0.0, ex, f.il15_systemic_pg_ml],
    ])
    return diff, table


def config_vector(spec: SpatialSpec, seed: int) -> np.ndarray:
    size = tuple(spec.tissue.size) + (1,) * (3 - spec.tissue.dims)
    _, car, adcc = antigen_masks(spec)
    return np.array([size[0], size[1], size[2], spec.tissue.dims, car, adcc, seed], dtype=np.int64)
