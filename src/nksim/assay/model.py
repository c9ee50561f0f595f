"""The kinetic model's killing law in a well: effectors, targets and per-hour pathway rates.

A release assay is a well-mixed well with no trafficking, no growth and no NK death over a few hours. Effectors E
(a share ``f_comp`` killing-competent, K; the rest never kill) meet targets T_a of antigen class a. As in
``nksim.kinetics.processes.killing`` (MODEL.md processes 6-7; ``nksim.assay.release`` evaluates that
module's ``kill_rate_per_target`` on numbers):

    kills of class a = (K_t r^t_a + K_u r^u_a) T_a / (k_r (K_t + K_u) + T + 1)      [cells/h]
    K_g -> X_g at (kills by group g) / kappa                                           (exhaustion)

with r the summed pathway rates (natural, CAR, ADCC) of the transduced (t) and untransduced (u) effectors,
converted from the registry's per-day values to per hour. No recovery from exhaustion in the well (the in vivo
recovery ``k_rec`` S needs an IL-2/IL-15 signal; a plain assay medium has none; documented in docs/assay.md).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal, Mapping

import numpy as np
from pydantic import Field, field_validator

from nksim.errors import InputError
from nksim.kinetics.pathways import car_class_weights, rates_per_effector
from nksim.registry import load_registry
from nksim.spec.base import Frozen
from nksim.spec.catalog import ANTIGENS
from nksim.spec.scenario import Construct, Scenario

HOURS_PER_DAY = 24.0
# "construct" is the domain word (as in nksim.spec.scenario); pydantic warns that it shadows BaseModel.construct
warnings.filterwarnings("ignore", message='Field name "construct"', category=UserWarning)


class Effector(Frozen):
    """The effector cells put in the well (a product, as ``nksim.Scenario.product`` describes it)."""

    name: str = "NK"
    cell_type: Literal["NK", "T"] = "NK"
    construct: Construct = Construct()
    transduced_fraction: float = Field(default=0.0, ge=0, le=1, description="CAR+/construct+ share of effectors")
    potency: float = Field(default=1.0, ge=0, le=3, description="cytotoxicity relative to fresh product")
    kir_inhibition: float = Field(default=1.0, ge=0, le=1, description="inhibitory-KIR engagement (1 donor NK)")
    kir_matched: bool = Field(default=True, description="donor KIR ligands present on the target")
    car_expression: float = Field(default=1.0, ge=0, le=1, description="CAR expression q (1 = fresh)")
    immunosuppressed: bool = Field(default=False, description="effectors from a patient on calcineurin inhibitors")

    @classmethod
    def from_scenario(cls, scenario: Scenario, kir_matched: bool = True) -> "Effector":
        prod = scenario.product
        return cls(name=prod.name, cell_type=prod.cell_type, construct=prod.construct,
                   transduced_fraction=prod.transduced_fraction, potency=prod.potency,
                   kir_inhibition=prod.kir_inhibition, kir_matched=kir_matched,
                   immunosuppressed=scenario.population.immune_status == "post_transplant_immunosuppressed")


class Target(Frozen):
    """Target cells and the well's conditions.

    ``antigens`` maps an antigen to the fraction of target cells carrying it (expressed independently, as in the
    kinetic model). A CAR target the cells do not list is absent (antigen-negative line)."""

    name: str = "target"
    antigens: dict[str, float] = Field(default_factory=dict, description="antigen -> fraction of cells positive")
    ligand_level: float | None = Field(default=None, ge=0, description="NK-activating ligand level (None: registry)")
    hla_level: float | None = Field(default=None, ge=0, le=1, description="HLA class I level (None: registry)")
    tgfb_ng_ml: float = Field(default=0.0, ge=0, description="active TGF-beta added to the well (ng/mL)")
    hypoxia: float = Field(default=0.0, ge=0, le=1, description="hypoxic share (0: normoxic incubator)")
    antibody: str | None = Field(default=None, description="antigen targeted by an antibody in the well (ADCC)")
    antibody_ug_ml: float = Field(default=0.0, ge=0, description="antibody concentration (ug/mL)")

    @field_validator("antigens")
    @classmethod
    def _antigens(cls, v: dict[str, float]) -> dict[str, float]:
        for name, f in v.items():
            if name not in ANTIGENS:
                raise ValueError(f"target.antigens.{name}: not a known antigen; allowed: {sorted(ANTIGENS)}")
            if not 0.0 <= f <= 1.0:
                raise ValueError(f"target.antigens.{name} = {f}; expected a fraction in [0, 1]")
        return v

    @classmethod
    def from_scenario(cls, scenario: Scenario, antigen_fraction: float | None = None,
                      params: Mapping[str, float] | None = None) -> "Target":
        """A target line like the scenario's tumor: its study antigens at the typical tumor fraction (or
        ``antigen_fraction`` for every antigen: 1 = a fully positive line, 0 = antigen-negative), typical ligand and
        HLA levels; no TGF-beta, normoxic, no antibody unless the regimen gives one (then at 10 x its EC50)."""
        from nksim.population.sampling import typical_values

        typ = typical_values(scenario)
        typ.update(params or {})
        ags = {}
        for ag in scenario.study_antigens:
            f = antigen_fraction if antigen_fraction is not None else typ.get(f"antigen_fraction_{ag}", 1.0)
            ags[ag] = float(f)
        ab = scenario.regimen.antibody
        return cls(name=f"{scenario.tumor.indication} target", antigens=ags, ligand_level=typ["ligand_level"],
                   hla_level=typ["hla_level"], antibody=ab.target if ab else None,
                   antibody_ug_ml=10.0 * typ["ec50_ab"] if ab else 0.0)


def resolve_params(params: Mapping[str, float] | None = None, scenario: Scenario | None = None) -> dict[str, float]:
    """Registry defaults (with the scenario's overrides when given) and then ``params`` by name (checked)."""
    reg = load_registry()
    if scenario is not None:
        from nksim.population.sampling import typical_values

        values = typical_values(scenario, reg)
    else:
        values = reg.defaults()
    for name, v in reg.resolve(params, where="params").items():
        if params and name in params:
            values[name] = v
    return values


def antigen_classes(target: Target) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Antigen names, class bit patterns (class, antigen) and class fractions of the target population."""
    names = list(target.antigens)
    nc = 1 << len(names)
    bits = np.array([[(a >> j) & 1 for j in range(len(names))] for a in range(nc)], dtype=bool).reshape(nc, len(names))
    frac = np.ones(nc)
    for j, name in enumerate(names):
        f = target.antigens[name]
        frac *= np.where(bits[:, j], f, 1.0 - f)
    return names, bits, frac


def pathway_rates(effector: Effector, target: Target, p: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Per-hour kill rates per killing-competent effector, by pathway, group and target class.

    Returns ``nat_t, nat_u, car_t, adcc_t, adcc_u`` (arrays over classes) and ``r_t, r_u`` (their sums per group),
    in kills/(NK h): the kinetic model's per-effector rates (``nksim.kinetics.pathways``, the same functions
    ``nksim.kinetics.inputs`` uses) with the well's CAR expression, class weights and antibody occupancy."""
    names, bits, _ = antigen_classes(target)
    nc = bits.shape[0]
    lig = p["ligand_level"] if target.ligand_level is None else target.ligand_level
    hla = p["hla_level"] if target.hla_level is None else target.hla_level
    con = effector.construct
    kir = effector.kir_inhibition * (1.0 if effector.kir_matched else p["kir_mismatch"])
    r = rates_per_effector(p, con, effector.cell_type == "NK", tgfb=target.tgfb_ng_ml, ligand=lig, hla=hla, kir=kir,
                           hypoxia=target.hypoxia, f_is=p["f_is"] if effector.immunosuppressed else 1.0,
                           potency=effector.potency)
    ones = np.ones(nc)
    car_w = car_class_weights(con, names, lig)
    ab_w = np.zeros(nc)
    if target.antibody is not None and target.antibody_ug_ml > 0:
        ab_w = bits[:, names.index(target.antibody)].astype(float) if target.antibody in names else np.zeros(nc)
    abf = target.antibody_ug_ml / (target.antibody_ug_ml + p["ec50_ab"])
    out = {"nat_t": r["nat_t"] * ones, "nat_u": r["nat_u"] * ones, "car_t": r["car_t"] * effector.car_expression * car_w,
           "adcc_t": r["adcc_t"] * abf * ab_w, "adcc_u": r["adcc_u"] * abf * ab_w}
    out = {k: np.asarray(v, dtype=float) / HOURS_PER_DAY for k, v in out.items()}
    out["r_t"] = out["nat_t"] + out["car_t"] + out["adcc_t"]
    out["r_u"] = out["nat_u"] + out["adcc_u"]
    return out


def check_positive(field: str, value: float, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(field, value, "a finite number >= 0" if allow_zero else "a finite number > 0")
    return v
