"""The default free parameters of a sensitivity analysis for a scenario.

Candidates in order of relevance (killing, expansion and persistence of the product, host rejection, tumor growth
and microenvironment, lymphodepletion, cytokine release); kept when the registry gives them a range the default
prior can take (low < high; low > 0 for a log-uniform prior) and they concern the scenario (the CAR's antigens and
CAR rates only with a CAR, rejection only for a non-autologous product, the HCC growth classes only for HCC).
``nksim.sensitivity.run`` then drops the ones that change no engine input of the scenario or that the engine reads
from the scenario only (each sample would be a separate simulation), and keeps the first ``MAX_DEFAULT``.
"""

from __future__ import annotations

from nksim.calibrate.space import free
from nksim.errors import InputError
from nksim.registry import load_registry
from nksim.spec.scenario import Scenario

MAX_DEFAULT = 20

KINETICS = ["delta_0", "rho_a", "k_a", "rho_h", "s_max", "k_m", "f_lung", "f_blood", "kappa"]
NATURAL = ["k_nat", "ligand_level"]
TUMOR = ["tgfb_ng_ml", "hypoxia"]
TREATMENT = ["ld_logkill", "nk_t_release_ratio"]
MORE = ["beta_m", "k_LB", "e_x", "k_out", "k_rec", "f_comp", "hla_level", "i_self", "hyp_supp", "k_clear", "c_car",
        "weight_kg", "chemosensitivity"]
# Not a default: k_tum (tumor carrying capacity). Its registry range starts at 1e11 cells, below the burden of a
# large lesion (165 mm is ~2e11 cells): there the compiled solver stops (status 3) for some patients of a cohort.


def default_param_names(scenario: Scenario) -> list[str]:
    """Candidate parameter names for ``scenario`` (before the engine check), most relevant first."""
    reg = load_registry()
    con = scenario.product.construct
    names: list[str] = []
    if con.has_car:
        names += ["k_car"] + [f"antigen_fraction_{a}" for a in con.car_targets if a != "NKG2DL"]
    names += KINETICS[:2]
    if scenario.product.hla != "autologous":
        names.append("k_rej")
    names += KINETICS[2:]
    if scenario.product.cell_type == "NK":
        names += NATURAL
    if scenario.regimen.antibody is not None:
        names.append("k_adcc")
    names += TUMOR
    if scenario.tumor.growth_model == "hcc_nathani2021":
        names += ["hcc_tvdt_rapid_d", "hcc_tvdt_intermediate_d", "hcc_tvdt_indolent_d"]
    else:
        names.append("tvdt_d")
    if scenario.tumor.indication == "B-ALL":  # the systemic leukemia compartment
        names += ["tsys_blast_fraction", "tsys_growth_rate"]
    names += TREATMENT + MORE
    out: list[str] = []
    for n in names:
        if n in reg and reg[n].low < reg[n].high and n not in out:
            try:
                free(n, registry=reg)  # a registry range the default prior can take (log-uniform needs low > 0)
            except InputError:
                continue
            out.append(n)
    return out
