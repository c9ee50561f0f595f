"""The scenario: Product, Regimen, Tumor, Population and Simulation, as MODEL.md lists them.

Units are in field names where they are not obvious (``_per_kg``, ``_d`` for days, ``_mg``). The same objects load
from YAML (``Scenario.from_yaml``) and are built in Python; ``Scenario.model_json_schema()`` exports JSON Schema.
"""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Any, Literal, Mapping

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from nksim.errors import did_you_mean
from nksim.spec.base import MAX_DAY, MAX_HORIZON_D, MIN_DAY, Day, FieldProblem, Frozen
from nksim.spec.catalog import ANTIGENS, CHEMOKINE_RECEPTORS, INDICATIONS, RESPONSE_CRITERIA
from nksim.spec.clinical import DEFAULT_SCAN_DAYS, ReadoutSpec, expected_toxicities
from nksim.spec.manufacturing import ManufacturingSpec

# "construct" is the domain word; pydantic warns that it shadows the deprecated BaseModel.construct
warnings.filterwarnings("ignore", message='Field name "construct"', category=UserWarning)

Source = Literal["peripheral_blood", "cord_blood", "ipsc", "nk92"]
HlaStatus = Literal["allogeneic", "hypoimmune", "autologous"]


def _check_antigen(name: str) -> str:
    if name not in ANTIGENS:
        raise FieldProblem("", name, f"a known antigen{did_you_mean(name, ANTIGENS)}; one of "
                           f"{', '.join(sorted(ANTIGENS))} (`nksim catalog antigens`)")
    return name


def _check_indication(name: str) -> str:
    if name not in INDICATIONS:
        raise FieldProblem("", name, f"a known indication{did_you_mean(name, INDICATIONS)}; one of "
                           f"{', '.join(sorted(INDICATIONS))} (`nksim catalog indications`)")
    return name


def _check_criteria(name: str) -> str:
    if name not in RESPONSE_CRITERIA:
        raise FieldProblem("", name, f"known response criteria{did_you_mean(name, RESPONSE_CRITERIA)}; one of "
                           f"{', '.join(sorted(RESPONSE_CRITERIA))} (`nksim catalog criteria`)")
    return name


#: names from the shared catalogs (``nksim.spec.catalog``): plain strings, checked, enums in the JSON Schema
AntigenName = Annotated[str, AfterValidator(_check_antigen),
                        WithJsonSchema({"type": "string", "enum": sorted(ANTIGENS)})]
IndicationName = Annotated[str, AfterValidator(_check_indication),
                           WithJsonSchema({"type": "string", "enum": sorted(INDICATIONS)})]
CriteriaName = Annotated[str, AfterValidator(_check_criteria),
                         WithJsonSchema({"type": "string", "enum": sorted(RESPONSE_CRITERIA)})]

#: the largest nominal dose: cells per kg, flat cells (beyond any product and any numerically safe state)
MAX_DOSE_PER_KG = 1e10
MAX_DOSE_CELLS = 1e12
MAX_SEED = 2**63  # seeds are in [0, 2**63): the keyed random streams hash them as 64-bit integers
MAX_PATIENTS = 10_000_000
MAX_SAVED_POINTS = 100_000  # horizon_d / save_every_d
#: bytes per patient and saved time point in memory (about 40 float64 trajectory variables and solver state)
BYTES_PER_PATIENT_POINT = 400


class Construct(Frozen):
    """What the transduced cells carry: CAR targets and logic, and armoring."""

    car_targets: tuple[AntigenName, ...] = Field(default=(), description="CAR target antigens (empty: no CAR)")
    car_logic: Literal["OR", "AND"] = Field(
        default="OR", description="OR: tandem/bispecific CAR; AND: synNotch-gated CAR (Tseng 2020, GPC3 -> CD147)"
    )
    il15: Literal["none", "secreted", "membrane"] = "none"
    dn_tgfbr2: bool = Field(default=False, description="dominant-negative TGF-beta receptor II")
    chemokine_receptor: str | None = Field(default=None, description=f"one of {sorted(CHEMOKINE_RECEPTORS)}",
                                           json_schema_extra={"enum": [*sorted(CHEMOKINE_RECEPTORS), None]})
    hn_cd16: bool = Field(default=False, description="high-affinity non-cleavable CD16 (ADCC with an antibody)")
    costim: Literal["none", "CD28", "4-1BB", "2B4"] = Field(
        default="none", description="the CAR's costimulatory domain: CD28 runs a shorter, faster division program than "
        "4-1BB (the reference); none / 2B4 count as the reference")
    car_expression: Literal["stable", "transient"] = Field(
        default="stable", description="stable: viral/transposon/knock-in; transient: mRNA electroporation"
    )
    car_half_life_d: float = Field(default=3.0, gt=0, le=MAX_DAY, description="CAR expression half-life for transient expression (d)")

    @field_validator("car_targets")
    @classmethod
    def _targets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise FieldProblem("", list(v), "each antigen listed once")
        return v

    @field_validator("chemokine_receptor")
    @classmethod
    def _receptor(cls, v: str | None) -> str | None:
        if v is not None and v not in CHEMOKINE_RECEPTORS:
            raise FieldProblem("", v, f"one of {', '.join(sorted(CHEMOKINE_RECEPTORS))} or null"
                                      f"{did_you_mean(v, CHEMOKINE_RECEPTORS)}")
        return v

    @property
    def has_car(self) -> bool:
        return bool(self.car_targets)

    @property
    def is_empty(self) -> bool:
        """True when the construct changes nothing (no CAR, no armoring)."""
        return not (self.car_targets or self.il15 != "none" or self.dn_tgfbr2 or self.chemokine_receptor or self.hn_cd16)


class Product(Frozen):
    """The cell product (MODEL.md 'Product and regimen')."""

    name: str = "NK product"
    cell_type: Literal["NK", "T"] = Field(default="NK", description="T only for the CAR-T-like comparator set")
    source: Source = "peripheral_blood"
    hla: HlaStatus = "allogeneic"
    construct: Construct = Construct()
    transduced_fraction: float = Field(default=0.0, ge=0, le=1, description="CAR+/construct+ share of product NK")
    potency: float = Field(default=1.0, ge=0, le=3, description="cytotoxicity relative to fresh product")
    fitness: float = Field(default=1.0, ge=0, le=3,
                           description="proliferative fitness relative to a reference product (cord-blood unit "
                                       "quality, culture history): multiplies antigen-driven and homeostatic "
                                       "proliferation in vivo")
    viability: float = Field(default=1.0, gt=0, le=1, description="post-thaw viable fraction (viable dose = nominal x it)")
    cd3_per_kg: float = Field(default=0.0, ge=0, le=MAX_DOSE_PER_KG,
                              description="residual CD3+ T cells per kg in a dose")
    kir_inhibition: float = Field(
        default=1.0, ge=0, le=1, description="inhibitory-KIR engagement of the product: 1 donor NK, ~0 NK-92/most iPSC"
    )
    irradiated: bool = Field(default=False, description="irradiated line (NK-92): extra death, no persistence")
    parameters: dict[str, float] = Field(default_factory=dict, description="product-specific registry overrides")

    @model_validator(mode="after")
    def _consistent(self) -> "Product":
        if self.construct.is_empty and self.transduced_fraction > 0:
            # allowed (mock-transduced), nothing to check
            return self
        if not self.construct.is_empty and self.transduced_fraction == 0:
            raise FieldProblem("transduced_fraction", 0, "a fraction in (0, 1] with a non-empty construct")
        return self


class Lymphodepletion(Frozen):
    day: float = Field(default=-5.0, ge=MIN_DAY, le=0,
                       description="day of lymphodepletion relative to first infusion (d)")
    intensity: float = Field(default=1.0, ge=0, le=2, description="1 = standard Cy 500 mg/m2 + Flu 30 mg/m2 x 3")
    regimen: str = "Cy/Flu"


class CytokineDoses(Frozen):
    days: tuple[Day, ...] = ()
    dose: float = Field(default=0.0, ge=0, description="IL-2 in MIU per dose; IL-15 in ug per dose")


class TregDepletion(Frozen):
    """A regulatory-T-cell-depleting agent given before or with the product (e.g. IL-2-diphtheria toxin fusion,
    denileukin diftitox: Bachanova 2014)."""

    agent: str = "IL2-DT (denileukin diftitox)"
    days: tuple[Day, ...] = Field(min_length=1, description="days of the doses (d, relative to the first infusion)")
    fraction: float | None = Field(default=None, gt=0, le=1,
                                   description="fraction of Tregs removed per dose; default: the registry's "
                                               "treg_depletion_fraction")


class Antibody(Frozen):
    target: AntigenName
    days: tuple[Day, ...] = (0.0,)
    dose_mg: float = Field(gt=0, le=1e5, description="flat dose per administration (mg)")
    half_life_d: float | None = Field(default=None, gt=0, le=MAX_DAY, description="overrides the registry default")


EngagerArm = Literal["CD16", "NKp46"]
#: largest engager dose: per kg (mg/kg; ug/kg is converted) and flat (mg)
MAX_ENGAGER_MG_PER_KG = 100.0
MAX_ENGAGER_MG = 1e4


class Engager(Frozen):
    """An NK cell engager (BiKE / TriKE / ANKET; docs/model.md process 18): a soluble molecule bridging an NK
    activating receptor (``binding``: CD16A and/or NKp46) and a tumor antigen (``target``), with one-compartment PK
    of its own and an optional IL-15 moiety (TriKE) that adds to the IL-15 signal. It redirects product NK (both
    groups) in the lesions to the antigen-positive classes; CD16 binding is boosted by hnCD16 like ADCC, NKp46
    binding is not (and is lowered by hypoxia, which blocks NCR up-regulation, Balsamo 2013)."""

    name: str = "NK engager"
    target: AntigenName = Field(description="tumor antigen of the tumor-binding arm")
    binding: tuple[EngagerArm, ...] = Field(default=("CD16",), min_length=1,
                                            description="NK receptor(s) the engager binds: CD16 (CD16A) and/or NKp46")
    il15_moiety: bool = Field(default=False, description="carries an IL-15 moiety (TriKE, e.g. GTB-3550)")
    days: tuple[Day, ...] = Field(default=(0.0,), min_length=1, description="administration days (ascending)")
    dose: float = Field(ge=0, description="amount per administration, in dose_unit (0: none, a control arm)")
    dose_unit: Literal["mg/kg", "ug/kg", "mg"] = "mg/kg"
    route: Literal["iv", "sc"] = Field(default="iv", description="iv: bolus into plasma; sc: depot absorbed at ka_eng")
    half_life_d: float | None = Field(default=None, gt=0, le=MAX_DAY,
                                      description="elimination half-life (d); default: registry eng_half_life_d")
    volume_ml_per_kg: float | None = Field(default=None, gt=0, le=1000.0,
                                           description="distribution volume (mL/kg); default: eng_volume_ml_per_kg")

    @field_validator("binding")
    @classmethod
    def _arms(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise FieldProblem("", list(v), "each of CD16, NKp46 listed once")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if v == "NKG2DL":
            raise FieldProblem("", v, "a tumor antigen that splits tumor cells into classes (not NKG2DL, a ligand "
                               "level): " + ", ".join(sorted(a for a in ANTIGENS if a != "NKG2DL")))
        return v

    @model_validator(mode="after")
    def _check(self) -> "Engager":
        problems = []
        if sorted(self.days) != list(self.days) or len(set(self.days)) != len(self.days):
            problems.append(FieldProblem("days", list(self.days), "strictly ascending days"))
        per_kg = {"mg/kg": self.dose, "ug/kg": self.dose / 1000.0}.get(self.dose_unit)
        if per_kg is not None and per_kg > MAX_ENGAGER_MG_PER_KG:
            problems.append(FieldProblem("dose", self.dose, f"at most {MAX_ENGAGER_MG_PER_KG:g} mg/kg "
                                         f"({self.dose_unit})"))
        if per_kg is None and self.dose > MAX_ENGAGER_MG:
            problems.append(FieldProblem("dose", self.dose, f"at most {MAX_ENGAGER_MG:g} mg (flat)"))
        FieldProblem.raise_all(problems)
        return self

    def dose_mg(self, weight_kg: float) -> float:
        """Amount per administration (mg) for a patient of ``weight_kg``."""
        return {"mg/kg": self.dose * weight_kg, "ug/kg": self.dose * weight_kg / 1000.0, "mg": self.dose}[
            self.dose_unit]


class Concomitant(Frozen):
    """Conventional treatment given alongside (e.g. TACE, sorafenib, post-transplant care)."""

    name: str = "conventional treatment"
    growth_inhibition: float = Field(default=0.0, ge=0, le=1, description="fractional slowdown of tumor growth")
    start_d: Day = 0.0
    end_d: Day = 0.0
    logkill_days: tuple[Day, ...] = ()
    logkill: float = Field(default=0.0, ge=0, le=3, description="log10 kill per course at chemosensitivity 1")


class Dose(Frozen):
    value: float = Field(gt=0, description="nominal cells per infusion (per kg or flat)")
    unit: Literal["cells/kg", "cells"] = "cells/kg"

    @model_validator(mode="after")
    def _size(self) -> "Dose":
        top = MAX_DOSE_PER_KG if self.unit == "cells/kg" else MAX_DOSE_CELLS
        if self.value > top:
            raise FieldProblem("value", self.value, f"at most {top:g} {self.unit}")
        return self


Route = Literal["iv", "hepatic_artery"]
NonNegative = Annotated[float, Field(ge=0)]
#: the largest multiple of the base dose one infusion may be given
MAX_DOSE_MULTIPLIER = 1e3


class Escalation(Frozen):
    """Infusion k (0-based) gets ``min(start + step * (k // every), max)`` x the base dose (intra-patient
    escalation: e.g. start 0.5, step 0.5 gives 0.5, 1, 1.5, 2 x)."""

    start: float = Field(ge=0, le=MAX_DOSE_MULTIPLIER, description="multiple of the base dose at the first infusion")
    step: float = Field(default=0.0, ge=-MAX_DOSE_MULTIPLIER, le=MAX_DOSE_MULTIPLIER,
                        description="added to the multiple every `every` infusions (negative: de-escalation)")
    every: int = Field(default=1, ge=1, description="infusions per step")
    max: float | None = Field(default=None, ge=0, le=MAX_DOSE_MULTIPLIER, description="cap on the multiple (none: no cap)")

    def multipliers(self, n: int) -> tuple[float, ...]:
        cap = MAX_DOSE_MULTIPLIER if self.max is None else self.max
        return tuple(min(max(self.start + self.step * (k // self.every), 0.0), cap) for k in range(n))


class PerInfusion(Frozen):
    """Per-infusion dose and route (one entry per ``regimen.infusion_days``). The dose: at most one of ``doses``
    (nominal cells per infusion in ``unit``; replaces the dose levels), ``multipliers`` (of the base dose: the dose
    level's, or a patient's ``dose_per_kg`` override) or ``escalation`` (a rule giving the multipliers); none: every
    infusion gets the base dose. ``routes``: each infusion's route (none: ``regimen.route`` for all). A zero dose
    skips that infusion."""

    doses: tuple[NonNegative, ...] | None = Field(default=None, description="nominal cells per infusion (in unit)")
    unit: Literal["cells/kg", "cells"] = Field(default="cells/kg", description="unit of doses")
    multipliers: tuple[NonNegative, ...] | None = Field(default=None, description="multiples of the base dose")
    escalation: Escalation | None = None
    routes: tuple[Route, ...] | None = Field(default=None, description="route of each infusion")

    @model_validator(mode="after")
    def _one_rule(self) -> "PerInfusion":
        given = [k for k in ("doses", "multipliers", "escalation") if getattr(self, k) is not None]
        if len(given) > 1:
            raise FieldProblem(given[1], getattr(self, given[1]) if given[1] != "escalation" else "(a rule)",
                               f"at most one of doses, multipliers, escalation ({given[0]} is given)")
        top = MAX_DOSE_PER_KG if self.unit == "cells/kg" else MAX_DOSE_CELLS
        problems = [FieldProblem(f"doses.{k}", v, f"at most {top:g} {self.unit}")
                    for k, v in enumerate(self.doses or ()) if v > top]
        problems += [FieldProblem(f"multipliers.{k}", v, f"a multiple of the base dose in [0, {MAX_DOSE_MULTIPLIER:g}]")
                     for k, v in enumerate(self.multipliers or ()) if v > MAX_DOSE_MULTIPLIER]
        FieldProblem.raise_all(problems)
        return self

    def check_length(self, n: int) -> list[FieldProblem]:
        """Problems (field relative to the regimen) when a list does not have one entry per infusion."""
        return [FieldProblem(f"per_infusion.{k}", list(v), f"{n} entries, one per regimen.infusion_days ({len(v)} "
                             "given)") for k in ("doses", "multipliers", "routes")
                if (v := getattr(self, k)) is not None and len(v) != n]


class Regimen(Frozen):
    dose_levels: tuple[Dose, ...] = Field(min_length=1, description="dose levels (a trial escalates through them)")
    dose_level: int = Field(default=1, ge=1, description="1-based dose level used when no override is given")
    infusion_days: tuple[Day, ...] = (0.0,)
    route: Route = "iv"
    per_infusion: PerInfusion | None = Field(
        default=None, description="each infusion's own dose (doses, multipliers or an escalation rule) and route")
    lymphodepletion: Lymphodepletion | None = Lymphodepletion()
    il2: CytokineDoses | None = None
    il15: CytokineDoses | None = None
    antibody: Antibody | None = None
    engager: Engager | None = Field(default=None, description="NK cell engager (BiKE/TriKE/ANKET) with its own PK")
    concomitant: Concomitant | None = None
    treg_depletion: TregDepletion | None = None

    @model_validator(mode="after")
    def _check(self) -> "Regimen":
        problems = []
        n = len(self.dose_levels)
        if self.dose_level > n:
            allowed = "1 (one dose level given)" if n == 1 else f"a level in 1..{n} ({n} dose_levels given)"
            problems.append(FieldProblem("dose_level", self.dose_level, allowed))
        if not self.infusion_days or sorted(self.infusion_days) != list(self.infusion_days):
            problems.append(FieldProblem("infusion_days", list(self.infusion_days),
                                         "a non-empty ascending list of days"))
        elif self.infusion_days[0] != 0.0:
            problems.append(FieldProblem("infusion_days.0", self.infusion_days[0], "0 (day 0 is the first infusion)"))
        if self.per_infusion is not None:
            problems += self.per_infusion.check_length(len(self.infusion_days))
        FieldProblem.raise_all(problems)
        return self


    def infusion_multipliers(self) -> tuple[float, ...]:
        """Multiple of the base dose at each infusion (all 1 without ``per_infusion``; explicit ``doses`` are
        absolute and not covered here)."""
        n = len(self.infusion_days)
        pi = self.per_infusion
        if pi is None or (pi.multipliers is None and pi.escalation is None):
            return (1.0,) * n
        if pi.escalation is not None:
            return pi.escalation.multipliers(n)
        return tuple(pi.multipliers)  # type: ignore[arg-type]

    def infusion_routes(self) -> tuple[str, ...]:
        """Route of each infusion."""
        pi = self.per_infusion
        if pi is None or pi.routes is None:
            return (self.route,) * len(self.infusion_days)
        return pi.routes


class Tumor(Frozen):
    """Indication and tumor configuration."""

    indication: IndicationName = "HCC"
    criteria: CriteriaName | None = Field(default=None, description="response criteria; default from the indication")
    n_target_lesions: int = Field(default=1, ge=1, le=5, description="1 = single-lesion configuration")
    nontarget_remainder: bool = Field(default=False, description="add a non-target remainder compartment")
    growth_model: Literal["lognormal", "hcc_nathani2021"] = Field(
        default="lognormal", description="TVDT from tvdt_d (log-normal) or the HCC rapid/intermediate/indolent mix"
    )
    antigens: tuple[AntigenName, ...] = Field(
        default=(), description="antigens whose tumor fraction is a patient covariate (CAR and antibody targets are added)"
    )
    in_liver: bool | None = Field(default=None, description="lesions in the liver (hepatic-artery route); default by organ")
    microenvironment: Literal["ode", "abm_table"] = Field(
        default="ode",
        description="ode: MODEL.md's TGF-beta/hypoxia factors and e_x; abm_table: effective trafficking and killing "
        "from the spatial model's coarse-grained table (suppression already inside, not applied twice)")

    @property
    def n_lesions(self) -> int:
        return self.n_target_lesions + int(self.nontarget_remainder)

    @property
    def lesions_in_liver(self) -> bool:
        return INDICATIONS[self.indication].organ == "liver" if self.in_liver is None else self.in_liver


_RULE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<|==)\s*([-+0-9.eE]+)\s*$")


class Population(Frozen):
    """Virtual patients: covariate distributions, variability and eligibility."""

    immune_status: Literal["competent", "post_transplant_immunosuppressed", "immunocompromised"] = "competent"
    variability: bool = Field(default=True, description="False: every patient gets the typical values")
    covariates: dict[str, float] = Field(
        default_factory=dict, description="typical values of covariates/parameters (registry names) for this population"
    )
    omega2: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="between-patient log-variance overrides (registry names)"
    )
    eligibility: tuple[str, ...] = Field(
        default=(), description="rules like 'antigen_fraction_GPC3 >= 0.2' or 'min_lesion_diameter_mm >= 10'"
    )

    @field_validator("eligibility")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        FieldProblem.raise_all([FieldProblem(str(i), rule, "a rule 'covariate OP number', OP one of >= <= > < ==")
                                for i, rule in enumerate(v) if not _RULE.match(rule)])
        return v

    def parsed_rules(self) -> list[tuple[str, str, float]]:
        out = []
        for rule in self.eligibility:
            m = _RULE.match(rule)
            assert m is not None
            out.append((m.group(1), m.group(2), float(m.group(3))))
        return out


class Simulation(Frozen):
    horizon_d: float = Field(default=365.0, gt=0, description=f"simulated days after the first infusion (at most "
                             f"{MAX_HORIZON_D:g})")
    save_every_d: float = Field(default=1.0, gt=0, description="save grid spacing (d)")
    scan_days: tuple[Day, ...] = Field(default=DEFAULT_SCAN_DAYS, min_length=1,
                                       description="imaging days (the readouts use these)")
    n_patients: int = Field(default=100, ge=1, le=MAX_PATIENTS)
    seed: int = Field(default=1, ge=0, lt=MAX_SEED, description="random seed in [0, 2**63)")
    rtol: float = Field(default=1e-6, gt=0, lt=1)
    atol_cells: float = Field(default=0.1, gt=0, description="absolute tolerance on cell counts (agreement is judged above 1 cell)")

    @field_validator("scan_days")
    @classmethod
    def _scans(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(d <= 0 for d in v) or any(b <= a for a, b in zip(v, v[1:])):
            raise FieldProblem("", list(v), "strictly increasing days > 0")
        return v

    @model_validator(mode="after")
    def _grid(self) -> "Simulation":
        points = self.horizon_d / self.save_every_d
        gb = (min(points, 1e15) + 1) * BYTES_PER_PATIENT_POINT * 256 / 1e9  # one chunk of 256 patients
        if self.horizon_d > MAX_HORIZON_D:
            raise FieldProblem("horizon_d", self.horizon_d, f"at most {MAX_HORIZON_D:g} days (10 years); this horizon "
                               f"would need about {gb:,.1f} GB per chunk of 256 patients at save_every_d = "
                               f"{self.save_every_d:g}")
        if points > MAX_SAVED_POINTS:
            raise FieldProblem("save_every_d", self.save_every_d, f"at least horizon_d / {MAX_SAVED_POINTS:,} = "
                               f"{self.horizon_d / MAX_SAVED_POINTS:g} d ({points:,.0f} saved points would need about "
                               f"{gb:,.1f} GB per chunk of 256 patients)")
        return self


_ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: arm names the CLI keeps for itself (``--arms all``)
RESERVED_ARM_NAMES = ("all",)


class Arm(Frozen):
    """A named variant of a scenario (a study arm): dotted-path changes applied through ``Scenario.replace``."""

    description: str = ""
    control: bool = Field(default=False, description="the comparator arm of `nksim arms` (pairwise log-rank tests "
                          "against it); at most one arm")
    changes: dict[str, Any] = Field(default_factory=dict, description="dotted field path -> value, as Scenario.replace "
                                "takes them (e.g. regimen.dose_level: 1, regimen.per_infusion: {multipliers: [...]})")

    @field_validator("changes")
    @classmethod
    def _paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in v if str(k).split(".")[0] in ("arms", "name")]
        if bad:
            raise FieldProblem(bad[0], v[bad[0]], "a path outside `arms` and `name` (an arm changes the study, "
                               "not the list of arms)")
        return v


class Scenario(Frozen):
    """One complete, resolvable description of a study arm (``arms``: named variants of it)."""

    name: str
    description: str = ""
    product: Product
    regimen: Regimen
    tumor: Tumor = Tumor()
    population: Population = Population()
    simulation: Simulation = Simulation()
    readouts: ReadoutSpec = Field(default_factory=ReadoutSpec, description="clinical readouts (scan days: simulation)")
    manufacturing: ManufacturingSpec | str | None = Field(
        default=None, description="manufacturing process (a spec, or the name of a built-in process, see "
        "`nksim manufacture --list`); `nksim manufacture` and lot-based product overrides read it")
    parameters: dict[str, float] = Field(default_factory=dict, description="registry overrides for this scenario")
    calibration: str | None = Field(
        default=None, description="a calibration file (nksim.spec.calibration; path relative to this scenario file): "
        "its values apply under this scenario's own parameters, each named in sources")
    sources: dict[str, str] = Field(default_factory=dict, description="why/where from for scenario-specific values")
    arms: dict[str, Arm] = Field(
        default_factory=dict, description="named study arms: name -> description and dotted-path changes "
        "(`nksim run SCENARIO --arm NAME`, `nksim arms SCENARIO`); each arm is validated like a file")

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, v: dict[str, Arm]) -> dict[str, Arm]:
        FieldProblem.raise_all([FieldProblem(str(k), k, "an arm name of letters, digits, '_' or '-' (not "
                                             f"{', '.join(RESERVED_ARM_NAMES)})") for k in v
                                if not _ARM_NAME.match(str(k)) or k in RESERVED_ARM_NAMES])
        controls = [k for k, a in v.items() if a.control]
        if len(controls) > 1:
            raise FieldProblem(f"{controls[1]}.control", True, f"one control arm ({controls[0]} is the control)")
        return v

    @property
    def control_arm(self) -> str | None:
        """The name of the arm marked ``control: true`` (None: no control arm)."""
        return next((k for k, a in self.arms.items() if a.control), None)

    @field_validator("manufacturing")
    @classmethod
    def _process_name(cls, v: ManufacturingSpec | str | None) -> ManufacturingSpec | str | None:
        if isinstance(v, str):
            from importlib import resources

            folder = resources.files("nksim").joinpath("data/manufacturing")
            names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
            if v not in names:
                raise FieldProblem("", v, f"a built-in process{did_you_mean(v, names)} ({', '.join(names)}) or a full "
                                   "spec (`nksim manufacture --list`)")
        return v

    @model_validator(mode="after")
    def _cross(self) -> "Scenario":
        problems = []
        routes = self.regimen.per_infusion.routes if self.regimen.per_infusion else None
        ha_field = ("regimen.route" if self.regimen.route == "hepatic_artery" else
                    "regimen.per_infusion.routes" if routes and "hepatic_artery" in routes else None)
        if ha_field is not None and not self.tumor.lesions_in_liver:
            problems.append(FieldProblem(
                ha_field, "hepatic_artery", f"'iv' unless the lesions are in the liver (tumor.indication = "
                f"{self.tumor.indication!r}, tumor.in_liver = {self.tumor.in_liver}; set tumor.in_liver: true or a "
                "liver indication)"))
        if self.product.construct.car_logic == "AND" and len(self.product.construct.car_targets) != 2:
            problems.append(FieldProblem("product.construct.car_targets", list(self.product.construct.car_targets),
                                         "exactly 2 antigens (prime, CAR) with product.construct.car_logic = 'AND'"))
        horizon = self.simulation.horizon_d
        reg = self.regimen
        for field, days in (("regimen.infusion_days", reg.infusion_days),
                            ("regimen.il2.days", reg.il2.days if reg.il2 else ()),
                            ("regimen.il15.days", reg.il15.days if reg.il15 else ()),
                            ("regimen.antibody.days", reg.antibody.days if reg.antibody else ()),
                            ("regimen.engager.days", reg.engager.days if reg.engager else ()),
                            ("regimen.concomitant.logkill_days",
                             reg.concomitant.logkill_days if reg.concomitant else ())):
            late = [d for d in days if d > horizon]
            if late:
                problems.append(FieldProblem(field, list(days), f"days within simulation.horizon_d = {horizon:g} "
                                             f"(day {late[0]:g} would never be given; lengthen horizon_d or drop it)"))
        problems += _registry_problems(self)
        FieldProblem.raise_all(problems)
        return self

    def with_arm(self, arm: str | None) -> "Scenario":
        """The scenario of one arm (its changes applied, validated; named ``NAME (arm ARM)``; no ``arms``);
        ``None``: this scenario unchanged."""
        if arm is None:
            return self
        if arm not in self.arms:
            from nksim.errors import InputError

            names = list(self.arms)
            raise InputError("arm", arm, f"an arm of {self.name}{did_you_mean(arm, names)}: {', '.join(names)}"
                             if names else f"no arm ({self.name} defines no `arms`)")
        from nksim.spec.io import apply_changes, scenario_from_dict

        spec = self.arms[arm]
        data = self.model_dump(mode="python", exclude_unset=True)
        data.pop("arms", None)
        data = apply_changes(data, spec.changes, f"arms.{arm}")
        data["name"] = f"{self.name} (arm {arm})"
        data["description"] = f"{self.description.strip()}\nArm {arm}: {spec.description.strip()}".strip()
        return scenario_from_dict(data, where=f"{self.name}: arms.{arm}")

    def warnings(self) -> list[str]:
        """What is allowed but probably not meant: registry values outside their plausible range (range and source
        named; not for a value the scenario's ``sources`` explain), a grade threshold below a milder level's
        (``nksim.grade_order``), scan or assay days or a follow-up after the horizon (the readouts stop there)."""
        from nksim.grade_order import FAMILIES, order_warnings
        from nksim.registry import load_registry

        reg = load_registry()
        out = []
        for where, values in _registry_values(self):
            for name, v in values.items():
                # a source for the value itself, for its name, or for the whole block (e.g. product.parameters)
                documented = f"{where}.{name}" in self.sources or name in self.sources or where in self.sources
                if name in reg and not documented:
                    note = reg[name].check(v, f"{where}.{name}")
                    if note:
                        out.append(note)
        if any(name in self.parameters for keys in FAMILIES.values() for name in keys):
            out += order_warnings(reg.resolve(self.parameters), "parameters")
        out += [f"{p} (the arm cannot be run as it is)" for p in arm_problems(self)]
        horizon = self.simulation.horizon_d
        for field, days in (("simulation.scan_days", self.simulation.scan_days),
                            ("readouts.assay.sample_days", self.readouts.assay.sample_days or ())):
            late = [d for d in days if d > horizon]
            if late:
                out.append(f"{field}: {len(late)} day(s) after simulation.horizon_d = {horizon:g} ({late[0]:g}, ...) "
                           "are never observed")
        if self.readouts.follow_up_days > horizon:
            out.append(f"readouts.follow_up_days = {self.readouts.follow_up_days:g} is after simulation.horizon_d = "
                       f"{horizon:g}: patients are followed up to day {horizon:g} (PFS and OS censored there)")
        return out

    def replace(self, changes: Mapping[str, Any], where: str = "Scenario.replace") -> "Scenario":
        """A validated variant: ``changes`` maps dotted paths (``"population.variability"``, ``"regimen.dose_level"``,
        ``"parameters.k_LB"``, ``"regimen.dose_levels.0.value"``) to new values. The result is validated like a
        file (all problems at once, ``nksim.errors.InputError``); the fields not named keep their values."""
        from nksim.spec.io import apply_changes, scenario_from_dict

        data = apply_changes(self.model_dump(mode="python", exclude_unset=True), changes, where)
        return scenario_from_dict(data, where=where)

    @property
    def criteria(self) -> str:
        return self.readouts.criteria or self.tumor.criteria or INDICATIONS[self.tumor.indication].criteria

    def resolved_readouts(self) -> ReadoutSpec:
        """Readouts with the scan schedule of ``simulation``, the criteria and the expected toxicities resolved."""
        update: dict = {"scan_days": self.simulation.scan_days, "criteria": self.criteria}
        if self.readouts.dlt_expected is None:
            update["dlt_expected"] = expected_toxicities(self.product.construct.car_targets)
        return self.readouts.model_copy(update=update)

    @property
    def study_antigens(self) -> tuple[str, ...]:
        """Antigens that split tumor cells into classes: CAR targets (not NKG2DL), listed antigens, antibody target,
        engager target."""
        names: list[str] = []
        for a in (*self.product.construct.car_targets, *(self.tumor.antigens)):
            if a != "NKG2DL" and a not in names:
                names.append(a)
        if self.regimen.antibody is not None and self.regimen.antibody.target not in names:
            names.append(self.regimen.antibody.target)
        if self.regimen.engager is not None and self.regimen.engager.target not in names:
            names.append(self.regimen.engager.target)
        return tuple(names)


def check_arms(sc: "Scenario", where: str | None = None) -> "Scenario":
    """``sc`` when every arm's changes give a valid scenario, else one ``InputErrors`` naming each problem as
    ``arms.ARM.changes.<field>`` (``nksim validate``). An arm is also checked when it is simulated
    (``with_arm``); a base scenario whose change invalidates an arm (e.g. a horizon shorter than an arm's
    infusions) still loads and runs, with a warning (``Scenario.warnings``)."""
    from nksim.errors import InputErrors

    problems = arm_problems(sc)
    if problems:
        raise InputErrors(problems, where or sc.name)
    return sc


def arm_problems(sc: "Scenario") -> list[Any]:
    """Each arm's changes applied and validated: the problems (``InputError``) named ``arms.ARM.changes.FIELD``."""
    from nksim.errors import InputError

    problems = []
    for name in sc.arms:
        try:
            sc.with_arm(name)
        except InputError as exc:
            for p in getattr(exc, "problems", [exc]):
                problems.append(InputError(f"arms.{name}.changes.{p.field}", p.value, p.allowed))
    return problems


def _registry_values(sc: "Scenario") -> list[tuple[str, dict[str, float]]]:
    return [("parameters", sc.parameters), ("product.parameters", sc.product.parameters),
            ("population.covariates", sc.population.covariates)]


def _registry_problems(sc: "Scenario") -> list[FieldProblem]:
    """Registry names that do not exist (did you mean; `nksim params`) and values outside the physical domain."""
    from nksim.errors import InputError
    from nksim.registry import load_registry

    reg = load_registry()
    problems = []
    named = [*_registry_values(sc), ("population.omega2", sc.population.omega2)]
    for where, values in named:
        for name, v in values.items():
            if name not in reg:
                problems.append(FieldProblem(f"{where}.{name}", v, f"a registry parameter name{did_you_mean(name, reg)}"
                                             "; see `nksim params`"))
            elif where != "population.omega2":
                try:
                    reg[name].check(v, f"{where}.{name}")
                except InputError as exc:
                    problems.append(FieldProblem(exc.field, v, exc.allowed))
    return problems
