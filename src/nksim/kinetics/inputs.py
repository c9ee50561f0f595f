"""Turn a scenario, its virtual patients and per-patient overrides into the compiled engine's arrays.

Everything the right-hand side needs is resolved here, once per patient: pathway rates (with ligand, missing self,
hypoxia, TGF-beta per pathway, dnTGFBR2, potency, immunosuppression), armoring, dosing events, lesion growth rates and
initial tumor cells per antigen class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.kinetics import dosing as D
from nksim.kinetics import layout as L
from nksim.kinetics.cohort_dosing import PatientProduct, cohort_dosing
from nksim.kinetics.pathways import (car_class_weights, cd28_effector, cd28_t_cell, cell_intrinsic_factors,
                                     rates_per_effector)
from nksim.kinetics.processes import layout as model_layout
from nksim.population.sampling import typical_values
from nksim.registry import load_registry
from nksim.spec.catalog import ANTIGENS, CHEMOKINE_RECEPTORS, INDICATIONS
from nksim.spec.scenario import Regimen, Scenario

PARAM_INDEX: dict[str, int] = model_layout().PARAM_INDEX
REGISTRY_PARAMS = [prm for prm in model_layout().SCALAR if prm.registry is not None]

OVERRIDE_KEYS: dict[str, str] = {
    "dose_level": "1-based index into regimen.dose_levels (integer)",
    "dose_scale": "multiplier of the nominal dose (>= 0; 0 = not treated)",
    "dose_per_kg": "nominal cells per kg per infusion (>= 0), replaces the dose level",
    "viability": "post-thaw viable fraction in (0, 1]",
    "potency": "cytotoxicity relative to fresh, in [0, 3]",
    "fitness": "proliferative fitness relative to the reference product, in [0, 3] (multiplies rho_a and rho_h)",
    "car_fraction": "transduced fraction in [0, 1]",
    "car_half_life_d": "CAR expression half-life in days (> 0; inf = stable)",
    "cd3_per_kg": "CD3+ T cells per kg in a dose (>= 0)",
    "treated": "bool: False gives no product (lymphodepletion and other treatment still happen)",
    "regimen": "a Regimen, or one Regimen per patient",
    "dosing": "a NONMEM-style dosing table (DataFrame or CSV path: ID, TIME, EVID, AMT, CMT; see nksim.read_nonmem): "
              "a listed patient gets exactly its rows' doses (each with its own amount) instead of the regimen's; "
              "patients not listed follow their regimen",
}


@dataclass
class EngineInputs:
    """Arrays for the compiled engine (rows = patients) and what is needed to label its output."""

    y0: np.ndarray
    params: np.ndarray
    ev_t: np.ndarray
    ev_k: np.ndarray
    ev_a: np.ndarray
    ev_b: np.ndarray
    n_lesions: int
    n_classes: int
    t0: float
    t_end: float
    t_save: np.ndarray
    atol: np.ndarray
    class_labels: list[str]
    product_given: pd.DataFrame  # per patient: dose, viable cells, CAR fraction, ... actually used
    doses: np.ndarray | None = None  # (patient, dose, 3): (time, CMT, AMT) records given, NaN-padded (kinetics.dosing)


def _per_patient(overrides: Mapping[str, Any], key: str, n: int, default: Any) -> np.ndarray | list:
    if key not in overrides:
        return np.full(n, default) if not isinstance(default, Regimen) else [default] * n
    v = overrides[key]
    if key == "regimen":
        if isinstance(v, Regimen):
            return [v] * n
        v = list(v)
        if len(v) != n or not all(isinstance(r, Regimen) for r in v):
            raise InputError("overrides.regimen", type(v).__name__, f"a Regimen or {n} Regimen objects")
        return v
    arr = np.asarray(v, dtype=float if key != "treated" else bool)
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    if arr.shape != (n,):
        raise InputError(f"overrides.{key}", f"array of shape {arr.shape}", f"a scalar or {n} values (one per patient)")
    return arr


def check_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    ov = dict(overrides or {})
    for key in ov:
        if key not in OVERRIDE_KEYS:
            raise InputError(f"overrides.{key}", ov[key], "one of " + ", ".join(OVERRIDE_KEYS))
    return ov


def _check_range(name: str, arr: np.ndarray, lo: float, hi: float, lo_open: bool = False) -> None:
    bad = ~((arr > lo if lo_open else arr >= lo) & (arr <= hi))
    if np.any(bad):
        v = arr[np.flatnonzero(bad)[0]]
        rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise InputError(f"overrides.{name}", float(v), f"values in {rng}")


def _class_fractions(patients: pd.DataFrame, antigens: Sequence[str]) -> np.ndarray:
    """(n_patients, 2^n_antigens) fraction of tumor cells in each class; class bit j = carries antigen j.

    Antigens are assumed to be expressed independently (assumption; a stated co-expression would replace it)."""
    n = len(patients)
    nc = 1 << len(antigens)
    out = np.ones((n, nc))
    for a in range(nc):
        for j, ag in enumerate(antigens):
            f = patients[f"antigen_fraction_{ag}"].to_numpy()
            out[:, a] *= f if (a >> j) & 1 else (1.0 - f)
    return out


def build_inputs(scenario: Scenario, patients: pd.DataFrame, overrides: Mapping[str, Any] | None = None) -> EngineInputs:
    """Engine arrays for ``patients`` (rows of ``sample_patients``) under per-patient ``overrides``."""
    reg = load_registry()
    ov = check_overrides(overrides)
    typ = typical_values(scenario, reg)
    n = len(patients)
    prod = scenario.product
    con = prod.construct
    tum = scenario.tumor
    antigens = list(scenario.study_antigens)
    nc = 1 << len(antigens)
    nl = tum.n_lesions
    nt = tum.n_target_lesions

    columns = {k: v.to_numpy() for k, v in patients.items()}  # read once (a table lookup costs ~3 us)

    def val(name: str) -> np.ndarray:
        return columns[name].astype(float, copy=False) if name in columns else np.full(n, typ[name])

    # per-patient product attributes
    viability = _per_patient(ov, "viability", n, prod.viability)
    potency = _per_patient(ov, "potency", n, prod.potency)
    fitness = _per_patient(ov, "fitness", n, prod.fitness)
    car_fraction = _per_patient(ov, "car_fraction", n, prod.transduced_fraction)
    cd3 = _per_patient(ov, "cd3_per_kg", n, prod.cd3_per_kg)
    hl_default = con.car_half_life_d if con.car_expression == "transient" else math.inf
    car_hl = _per_patient(ov, "car_half_life_d", n, hl_default)
    treated = _per_patient(ov, "treated", n, True)
    dose_scale = _per_patient(ov, "dose_scale", n, 1.0)
    regimens = _per_patient(ov, "regimen", n, scenario.regimen)
    _check_range("viability", viability, 0.0, 1.0, lo_open=True)
    _check_range("potency", potency, 0.0, 3.0)
    _check_range("fitness", fitness, 0.0, 3.0)
    _check_range("car_fraction", car_fraction, 0.0, 1.0)
    _check_range("cd3_per_kg", cd3, 0.0, np.inf)
    _check_range("dose_scale", dose_scale, 0.0, np.inf)
    _check_range("car_half_life_d", car_hl, 0.0, np.inf, lo_open=True)

    weight = val("weight_kg")
    vb = typ["blood_volume_ml_per_kg"] * weight
    P = np.zeros((n, L.n_params(nl, nc)))

    def setp(name: str, v: Any) -> None:
        P[:, PARAM_INDEX[name]] = v

    # parameters that are registry values as they are (declared with ``registry=`` by their process)
    for prm in REGISTRY_PARAMS:
        setp(prm.name, val(prm.registry))
    # product fitness (cord-blood unit quality, culture history; iPSC-derived NK expand little in vivo) acts on in
    # vivo proliferation
    source_fitness = val("fitness_ipsc") if prod.source == "ipsc" else 1.0
    for name in ("rho_a", "rho_h"):
        P[:, PARAM_INDEX[name]] *= fitness * source_fitness
    # derived parameters, process by process
    # transport
    setp("V_b", vb)
    setp("d_access", val("host_access_depth_um") * 1e-4)  # um -> cm (lesion volumes are in mL = cm3)
    chemokines = INDICATIONS[tum.indication].chemokines
    matched = con.chemokine_receptor is not None and any(
        c in chemokines for c in CHEMOKINE_RECEPTORS[con.chemokine_receptor])
    setp("m_chemo_t", val("m_chemo") if matched else 1.0)
    # T cells (CCR7+ CD62L+ naive / central-memory share) enter lymph nodes through high endothelial venules; NK
    # products (CD56dim, CCR7- CD62L-) do not
    nodal = INDICATIONS[tum.indication].organ == "lymph node"
    setp("m_home", val("m_hev") if nodal and prod.cell_type == "T" else 1.0)
    setp("k_exit", val("k_ln_exit") if nodal and prod.cell_type == "T" else val("k_out"))
    # dead lymphoma cells are apoptotic and cleared by lymphoid macrophages within days; solid-tumour necrosis lasts.
    # A dead tumor cell's volume includes the reactive cells it sustained (1/malignant_fraction - 1 per tumor cell:
    # Hodgkin lymphoma's infiltrate and fibrosis), which go at the solid-tissue rate
    mal = np.minimum(val("malignant_fraction"), 1.0)
    setp("k_clear", mal * val("k_clear_lymphoid") + (1.0 - mal) * val("k_clear") if nodal else val("k_clear"))
    # T cells that meet antigen in a lymph node are held there (CD69 internalises S1P1)
    setp("ret_ln", val("ln_retention") if nodal and prod.cell_type == "T" else 0.0)
    # serial-kill budget: NK spend a granule store; T cells kill on for days
    setp("kappa", val("kappa_t") if prod.cell_type == "T" else val("kappa"))
    # cytokines
    setp("p_15", val("il15_baseline_pg_ml") * val("k_15"))
    setp("s_cell_t", {"none": 0.0, "secreted": val("s_sec_auto"), "membrane": val("s_mem")}[con.il15])
    # division destiny: a CD28 costimulatory domain runs a shorter, faster program than 4-1BB (the reference)
    setp("act_on", val("act_on") if prod.cell_type == "T" else val("act_on_nk"))
    # time to first division: T cells re-stimulated in vivo; NK products are infused cycling (none)
    setp("t_fd", val("t_first_division_d") if prod.cell_type == "T" else 0.0)
    # division timer: in T cells a CD28 costimulatory domain runs a shorter program than 4-1BB (the reference)
    setp("g_dd", val("division_timer_d") * (val("destiny_cd28") if cd28_t_cell(con, prod.cell_type == "NK") else 1.0))
    setp("s_arm_t", val("s_arm") if con.il15 == "secreted" else 0.0)
    setp("V_2", val("il2_volume_ml_per_kg") * weight)
    # death / proliferation
    setp("g_hla", {"allogeneic": val("g_hla_allogeneic"), "hypoimmune": val("g_hla_hypoimmune"),
                   "autologous": 0.0}[prod.hla])
    setp("extra_death", val("delta_irradiated") if prod.irradiated else 0.0)

    # killing pathways (MODEL.md process 6; the algebra is nksim.kinetics.pathways, shared with the assay model)
    immuno = scenario.population.immune_status == "post_transplant_immunosuppressed"
    f_is = val("f_is") if immuno else np.ones(n)
    kir_eff = prod.kir_inhibition * np.where(columns["kir_matched"].astype(bool), 1.0, val("kir_mismatch"))
    is_nk = prod.cell_type == "NK"
    pw = {name: val(name) for name in ("k_nat", "i_self", "hyp_supp", "k_car", "k_adcc", "dn_rescue", "m_cd16",
                                       "k_eng_rel", "cd28_effector")}
    pw.update({name: typ[name] for name in ("tgf_ic50_nat", "tgf_ic50_car", "tgf_ic50_adcc", "tgf_ic50_fn")})
    eng = scenario.regimen.engager
    rates = rates_per_effector(pw, con, is_nk, tgfb=val("tgfb_ng_ml"), ligand=val("ligand_level"),
                               hla=val("hla_level"), kir=kir_eff, hypoxia=val("hypoxia"), f_is=f_is, potency=potency,
                               engager=eng)
    rates.update(cell_intrinsic_factors(pw, con, tgfb=val("tgfb_ng_ml"), f_is=f_is, potency=potency))
    for name, v in rates.items():
        setp(name, v)
    if tum.microenvironment == "abm_table":
        # ABM-derived effective values (suppression already inside): replace e_x, f_comp and the killing rates
        from nksim.kinetics.abm_table import effective_parameters

        eff = effective_parameters(scenario, patients)
        setp("e_x", eff["e_x"])
        setp("m_chemo_t", 1.0)  # the table's e_x already carries the receptor's effect
        setp("f_comp", eff["f_comp"])
        nat_eff = eff["k_nat_eff"] * f_is * potency if is_nk else np.zeros(n)
        setp("nat_u", nat_eff)
        setp("nat_t", nat_eff)
        setp("car_t", eff["k_car_eff"] * f_is * potency if con.has_car else 0.0)
    # host
    h_max = np.where(scenario.population.immune_status == "competent", 1.0, val("h_max_is"))
    setp("h_max", h_max)
    # cytokine proxy (NK release less per event than T cells: nk_t_release_ratio, an assumption)
    # a CD28 costimulatory domain gives T cells a stronger effector program than 4-1BB (cd28_effector)
    release = cd28_effector(pw, con, is_nk) if prod.cell_type == "T" else val("nk_t_release_ratio")
    setp("c_car", val("c_car") * release)
    setp("c_nk", val("c_nk") * release)
    setp("c_div", val("c_div") * release)
    setp("k_q", np.where(np.isfinite(car_hl), math.log(2) / np.where(np.isfinite(car_hl), car_hl, 1.0), 0.0))
    # on-target / off-tumor exposure weight of the CAR (normal-tissue antigen expression; AND logic needs both)
    expr = [ANTIGENS[a].normal_tissue_expression for a in con.car_targets]
    w_ot = (math.prod(expr) if con.car_logic == "AND" else sum(expr)) if con.has_car else 0.0
    setp("offtumor_w", w_ot)
    # systemic antigen compartment (docs/model.md process 15): active when the CAR targets an antigen on a normal
    # circulating lineage (B cells for CD19/CD20; AND logic needs every target there); total-body B cells from the
    # blood count, blood volume and the blood share of the pool; killed at the CAR rate outside any tumor
    # microenvironment (no TGF-beta factor), with the product's potency and the immunosuppression effect
    circ = [ANTIGENS[a].normal_circulating for a in con.car_targets]
    sys_on = con.has_car and (all(circ) if con.car_logic == "AND" else any(circ))
    b_sys0 = val("b_blood_per_ul") * vb * 1000.0 / val("b_blood_share") if sys_on else np.zeros(n)
    setp("b_sys0", b_sys0)
    tsys_on = con.has_car and INDICATIONS[tum.indication].systemic and any(a in antigens for a in con.car_targets)
    setp("car_sys", val("k_car") * f_is * potency if (sys_on or tsys_on) else 0.0)

    # lesions: tumor cells per cm3 of lesion = all cells x the malignant share (Hodgkin lymphoma: the few malignant
    # cells sustain a reactive infiltrate, so a lesion's volume follows them; nksim.population.sampling)
    density = val("tumor_cell_density") * val("malignant_fraction")
    setp("density", density)
    k_tum = val("k_tum")
    lam0 = math.log(2) / val("tvdt_d")  # initial volumetric growth rate (1/d)
    t_init = np.zeros((n, nl))
    for l in range(nt):
        d_mm = val(f"lesion{l}_diameter_mm")
        t_init[:, l] = math.pi / 6.0 * (d_mm / 10.0) ** 3 * density
    if tum.nontarget_remainder:
        t_init[:, nt] = t_init[:, :nt].sum(axis=1) * val("nontarget_fraction")
    in_liver = 1.0 if tum.lesions_in_liver else 0.0
    for l in range(nl):
        base = L.NPAR + l * L.NLP
        dev = val(f"lesion{l}_growth_dev") if l < nt else np.ones(n)
        perf = val(f"lesion{l}_perfusion") if l < nt else val("tumor_perfusion_ml_per_ml_d")
        t0l = np.maximum(t_init[:, l], 1.0)
        # a lesion within a factor e of the capacity (or above it) grows at the initial rate at most: its Gompertz
        # rate stays positive and finite (a lesion above k_tum then shrinks towards it instead of running away)
        P[:, base + L.LP_R] = lam0 * dev / np.maximum(np.log(k_tum / t0l), 1.0)
        P[:, base + L.LP_Q] = perf
        P[:, base + L.LP_IA] = in_liver
        P[:, base + L.LP_TARGET] = 1.0 if l < nt else 0.0
    # antigen classes
    frac = _class_fractions(patients, antigens) if antigens else np.ones((n, 1))
    cpo = L.NPAR + nl * L.NLP
    car_w_all = np.broadcast_to(car_class_weights(con, antigens, val("ligand_level")), (n, nc))
    for a in range(nc):
        bits = [(a >> j) & 1 for j in range(len(antigens))]
        car_w = car_w_all[:, a]
        P[:, cpo + a * L.NCP + L.CP_CAR] = car_w
        ab = scenario.regimen.antibody
        P[:, cpo + a * L.NCP + L.CP_AB] = float(ab is not None and bits[antigens.index(ab.target)] == 1)
        P[:, cpo + a * L.NCP + L.CP_ENG_W] = float(eng is not None and bits[antigens.index(eng.target)] == 1)
        P[:, cpo + a * L.NCP + L.CP_MASK] = a

    # systemic tumor (docs/model.md process 15): marrow / blood leukemia of a systemic indication, the part that
    # carries the CAR's antigen (CAR-targetable classes; antigen-negative leukemia is not modelled), logistic growth
    # towards the marrow capacity
    t_sys0 = np.zeros(n)
    if tsys_on:
        cap = val("tsys_marrow_cells_per_kg") * weight
        targetable = (frac * P[:, cpo + np.arange(nc) * L.NCP + L.CP_CAR].clip(0.0, 1.0)).sum(axis=1)
        t_sys0 = val("tsys_blast_fraction") * cap * targetable
        setp("k_tsys", cap)
        setp("r_tsys", val("tsys_growth_rate"))

    # events and the product actually given: each patient's doses as NONMEM-style records (nksim.kinetics.dosing),
    # from the regimen or, for a patient listed in a dosing table, from the table; built for all patients of a
    # regimen at once (nksim.kinetics.cohort_dosing)
    pp = PatientProduct(weight=weight, viability=viability, potency=potency, fitness=fitness,
                        car_fraction=car_fraction, cd3_per_kg=cd3, treated=treated, dose_scale=dose_scale,
                        dose_level=_per_patient(ov, "dose_level", n, 0.0),
                        dose_per_kg=_per_patient(ov, "dose_per_kg", n, np.nan), ld_logkill=val("ld_logkill"),
                        chemosensitivity=val("chemosensitivity"))
    dosing = cohort_dosing(scenario, patients, typ, regimens, pp, D.as_dosing(ov["dosing"]) if "dosing" in ov else None)
    setp("route_ia", dosing.route_ia)
    setp("t_ld", dosing.t_ld)
    setp("ld_int", dosing.ld_int)
    setp("k_ab", dosing.k_ab)
    setp("k_eng", dosing.k_eng)
    setp("eng_il15", typ["eng_il15_pg_per_ug"] * typ["eng_il15_potency"] if eng is not None and eng.il15_moiety else 0.0)
    setp("conv_inhib", dosing.conv[:, 0])
    setp("conv_start", dosing.conv[:, 1])
    setp("conv_end", dosing.conv[:, 2])
    ev_t, ev_k, ev_a, ev_b = dosing.ev_t, dosing.ev_k, dosing.ev_a, dosing.ev_b

    # initial state
    y0 = np.zeros((n, L.n_states(nl, nc)))
    y0[:, L.S_Q] = 1.0
    y0[:, L.S_H] = h_max
    for s_wbc in (L.S_WBC, L.S_WBC_PROL, L.S_WBC_TR1, L.S_WBC_TR2, L.S_WBC_TR3):
        y0[:, s_wbc] = val("wbc0_per_ul")
    y0[:, L.S_TREG] = val("treg0_per_ul")
    y0[:, L.S_B_SYS] = b_sys0
    y0[:, L.S_T_SYS] = t_sys0
    lb = L.lesion_block(nc)
    for l in range(nl):
        b0 = L.NSYS + l * lb
        y0[:, b0 + L.LES_FIXED: b0 + L.LES_FIXED + nc] = t_init[:, l:l + 1] * frac

    sim = scenario.simulation
    first = min(0.0, float(np.min(ev_t))) if np.isfinite(ev_t).any() else 0.0
    t0 = math.floor(first)
    grid = np.arange(t0, sim.horizon_d + 1e-9, sim.save_every_d)
    t_save = np.unique(np.concatenate([grid, [0.0, sim.horizon_d],
                                       [d for d in sim.scan_days if t0 <= d <= sim.horizon_d]]))
    atol = np.full(y0.shape[1], sim.atol_cells)
    for i, state in enumerate(model_layout().SYSTEMIC):  # a state's own tolerance where it declares one
        if state.atol is not None:
            atol[i] = state.atol
    labels = ["".join(f"{ag}{'+' if (a >> j) & 1 else '-'}" for j, ag in enumerate(antigens)) or "all"
              for a in range(nc)]
    return EngineInputs(y0, P, ev_t, ev_k, ev_a, ev_b, nl, nc, float(t0), float(sim.horizon_d), t_save, atol,
                        labels, dosing.given, dosing.doses)
