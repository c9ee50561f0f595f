"""The scenario: Product, Regimen, Tumor, Population and Simulation, as MODEL.md lists them.

Units are in field names where they are not obvious (``_per_kg``, ``_d`` for days, ``_mg``). The same objects load
from YAML (``Scenario.from_yaml``) and are built in Python; ``Scenario.model_json_schema()`` exports JSON Schema.
"""

from __future__ import annotations

import re
import warnings
from typing import Literal

from pydantic import Field, field_validator, model_validator

from nksim.spec.base import Frozen
from nksim.spec.catalog import ANTIGENS, CHEMOKINE_RECEPTORS, INDICATIONS, RESPONSE_CRITERIA
from nksim.spec.clinical import DEFAULT_SCAN_DAYS, ReadoutSpec
from nksim.spec.manufacturing import ManufacturingSpec

# "construct" is the domain word; pydantic warns that it shadows the deprecated BaseModel.construct
warnings.filterwarnings("ignore", message='Field name "construct"', category=UserWarning)

Source = Literal["peripheral_blood", "cord_blood", "ipsc", "nk92"]
HlaStatus = Literal["allogeneic", "hypoimmune", "autologous"]


def _check_antigen(name: str, field: str) -> str:
    if name not in ANTIGENS:
        raise ValueError(f"{field} = {name!r} is not a known antigen; allowed: {sorted(ANTIGENS)}")
    return name


class Construct(Frozen):
    """What the transduced cells carry: CAR targets and logic, and armoring."""

    car_targets: tuple[str, ...] = Field(default=(), description="CAR target antigens (empty: no CAR)")
    car_logic: Literal["OR", "AND"] = Field(
        default="OR", description="OR: tandem/bispecific CAR; AND: synNotch-gated CAR (Tseng 2020, GPC3 -> CD147)"
    )
    il15: Literal["none", "secreted", "membrane"] = "none"
    dn_tgfbr2: bool = Field(default=False, description="dominant-negative TGF-beta receptor II")
    chemokine_receptor: str | None = Field(default=None, description=f"one of {sorted(CHEMOKINE_RECEPTORS)}")
    hn_cd16: bool = Field(default=False, description="high-affinity non-cleavable CD16 (ADCC with an antibody)")
    car_expression: Literal["stable", "transient"] = Field(
        default="stable", description="stable: viral/transposon/knock-in; transient: mRNA electroporation"
    )
    car_half_life_d: float = Field(default=3.0, gt=0, description="CAR expression half-life for transient expression (d)")

    @field_validator("car_targets")
    @classmethod
    def _targets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            _check_antigen(name, "construct.car_targets")
        if len(set(v)) != len(v):
            raise ValueError(f"construct.car_targets = {list(v)} repeats an antigen; list each once")
        return v

    @field_validator("chemokine_receptor")
    @classmethod
    def _receptor(cls, v: str | None) -> str | None:
        if v is not None and v not in CHEMOKINE_RECEPTORS:
            raise ValueError(f"construct.chemokine_receptor = {v!r}; allowed: {sorted(CHEMOKINE_RECEPTORS)} or null")
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
    viability: float = Field(default=1.0, gt=0, le=1, description="post-thaw viable fraction (viable dose = nominal x it)")
    cd3_per_kg: float = Field(default=0.0, ge=0, description="residual CD3+ T cells per kg in a dose")
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
            raise ValueError(
                "product.transduced_fraction = 0 with a non-empty construct; expected a fraction in (0, 1]"
            )
        return self


class Lymphodepletion(Frozen):
    day: float = Field(default=-5.0, le=0, description="day of lymphodepletion relative to first infusion (d)")
    intensity: float = Field(default=1.0, ge=0, le=2, description="1 = standard Cy 500 mg/m2 + Flu 30 mg/m2 x 3")
    regimen: str = "Cy/Flu"


class CytokineDoses(Frozen):
    days: tuple[float, ...] = ()
    dose: float = Field(default=0.0, ge=0, description="IL-2 in MIU per dose; IL-15 in ug per dose")


class Antibody(Frozen):
    target: str
    days: tuple[float, ...] = (0.0,)
    dose_mg: float = Field(gt=0, description="flat dose per administration (mg)")
    half_life_d: float | None = Field(default=None, gt=0, description="overrides the registry default")

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        return _check_antigen(v, "regimen.antibody.target")


class Concomitant(Frozen):
    """Conventional treatment given alongside (e.g. TACE, sorafenib, post-transplant care)."""

    name: str = "conventional treatment"
    growth_inhibition: float = Field(default=0.0, ge=0, le=1, description="fractional slowdown of tumor growth")
    start_d: float = 0.0
    end_d: float = 0.0
    logkill_days: tuple[float, ...] = ()
    logkill: float = Field(default=0.0, ge=0, le=3, description="log10 kill per course at chemosensitivity 1")


class Dose(Frozen):
    value: float = Field(ge=0, description="nominal cells per infusion (per kg or flat)")
    unit: Literal["cells/kg", "cells"] = "cells/kg"


class Regimen(Frozen):
    dose_levels: tuple[Dose, ...] = Field(description="dose levels (a trial escalates through them)")
    dose_level: int = Field(default=1, ge=1, description="1-based dose level used when no override is given")
    infusion_days: tuple[float, ...] = (0.0,)
    route: Literal["iv", "hepatic_artery"] = "iv"
    lymphodepletion: Lymphodepletion | None = Lymphodepletion()
    il2: CytokineDoses | None = None
    il15: CytokineDoses | None = None
    antibody: Antibody | None = None
    concomitant: Concomitant | None = None

    @model_validator(mode="after")
    def _check(self) -> "Regimen":
        if self.dose_level > len(self.dose_levels):
            raise ValueError(
                f"regimen.dose_level = {self.dose_level}; expected 1..{len(self.dose_levels)} (number of dose_levels)"
            )
        if not self.infusion_days or sorted(self.infusion_days) != list(self.infusion_days):
            raise ValueError(f"regimen.infusion_days = {list(self.infusion_days)}; expected a non-empty ascending list")
        if self.infusion_days[0] != 0.0:
            raise ValueError(f"regimen.infusion_days[0] = {self.infusion_days[0]}; day 0 is the first infusion")
        return self


class Tumor(Frozen):
    """Indication and tumor configuration."""

    indication: str = "HCC"
    criteria: str | None = Field(default=None, description="response criteria; default from the indication")
    n_target_lesions: int = Field(default=1, ge=1, le=5, description="1 = single-lesion configuration")
    nontarget_remainder: bool = Field(default=False, description="add a non-target remainder compartment")
    growth_model: Literal["lognormal", "hcc_nathani2021"] = Field(
        default="lognormal", description="TVDT from tvdt_d (log-normal) or the HCC rapid/intermediate/indolent mix"
    )
    antigens: tuple[str, ...] = Field(
        default=(), description="antigens whose tumor fraction is a patient covariate (CAR and antibody targets are added)"
    )
    in_liver: bool | None = Field(default=None, description="lesions in the liver (hepatic-artery route); default by organ")
    microenvironment: Literal["ode", "abm_table"] = Field(
        default="ode",
        description="ode: MODEL.md's TGF-beta/hypoxia factors and e_x; abm_table: effective trafficking and killing "
        "from the spatial model's coarse-grained table (suppression already inside, not applied twice)")

    @field_validator("indication")
    @classmethod
    def _ind(cls, v: str) -> str:
        if v not in INDICATIONS:
            raise ValueError(f"tumor.indication = {v!r}; allowed: {sorted(INDICATIONS)}")
        return v

    @field_validator("criteria")
    @classmethod
    def _crit(cls, v: str | None) -> str | None:
        if v is not None and v not in RESPONSE_CRITERIA:
            raise ValueError(f"tumor.criteria = {v!r}; allowed: {sorted(RESPONSE_CRITERIA)}")
        return v

    @field_validator("antigens")
    @classmethod
    def _antigens(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            _check_antigen(name, "tumor.antigens")
        return v

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
    omega2: dict[str, float] = Field(
        default_factory=dict, description="between-patient log-variance overrides (registry names)"
    )
    eligibility: tuple[str, ...] = Field(
        default=(), description="rules like 'antigen_fraction_GPC3 >= 0.2' or 'min_lesion_diameter_mm >= 10'"
    )

    @field_validator("eligibility")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for rule in v:
            if not _RULE.match(rule):
                raise ValueError(f"population.eligibility rule {rule!r}; expected 'covariate OP number', OP in >= <= > < ==")
        return v

    @field_validator("omega2")
    @classmethod
    def _omega(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if w < 0:
                raise ValueError(f"population.omega2.{k} = {w}; expected a variance >= 0")
        return v

    def parsed_rules(self) -> list[tuple[str, str, float]]:
        out = []
        for rule in self.eligibility:
            m = _RULE.match(rule)
            assert m is not None
            out.append((m.group(1), m.group(2), float(m.group(3))))
        return out


class Simulation(Frozen):
    horizon_d: float = Field(default=365.0, gt=0, description="simulated days after the first infusion")
    save_every_d: float = Field(default=1.0, gt=0, description="save grid spacing (d)")
    scan_days: tuple[float, ...] = Field(default=DEFAULT_SCAN_DAYS, description="imaging days (the readouts use these)")
    n_patients: int = Field(default=100, ge=1)
    seed: int = Field(default=1, ge=0)
    rtol: float = Field(default=1e-6, gt=0, lt=1)
    atol_cells: float = Field(default=0.1, gt=0, description="absolute tolerance on cell counts (agreement is judged above 1 cell)")


class Scenario(Frozen):
    """One complete, resolvable description of a study arm."""

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

    @field_validator("manufacturing")
    @classmethod
    def _process_name(cls, v: ManufacturingSpec | str | None) -> ManufacturingSpec | str | None:
        if isinstance(v, str):
            from importlib import resources

            folder = resources.files("nksim").joinpath("data/manufacturing")
            names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
            if v not in names:
                raise ValueError(f"manufacturing = {v!r} is not a built-in process; allowed: {names} or a full spec")
        return v

    @model_validator(mode="after")
    def _cross(self) -> "Scenario":
        if self.regimen.route == "hepatic_artery" and not self.tumor.lesions_in_liver:
            raise ValueError("regimen.route = 'hepatic_artery' needs lesions in the liver (tumor.in_liver or a liver indication)")
        if self.product.construct.car_logic == "AND" and len(self.product.construct.car_targets) != 2:
            raise ValueError(
                f"product.construct.car_targets = {list(self.product.construct.car_targets)}; AND logic needs exactly 2 (prime, CAR)"
            )
        return self

    @property
    def criteria(self) -> str:
        return self.readouts.criteria or self.tumor.criteria or INDICATIONS[self.tumor.indication].criteria

    def resolved_readouts(self) -> ReadoutSpec:
        """Readouts with the scan schedule of ``simulation`` and the criteria resolved."""
        return self.readouts.model_copy(update={"scan_days": self.simulation.scan_days, "criteria": self.criteria})

    @property
    def study_antigens(self) -> tuple[str, ...]:
        """Antigens that split tumor cells into classes: CAR targets (not NKG2DL), antibody target, listed antigens."""
        names: list[str] = []
        for a in (*self.product.construct.car_targets, *(self.tumor.antigens)):
            if a != "NKG2DL" and a not in names:
                names.append(a)
        if self.regimen.antibody is not None and self.regimen.antibody.target not in names:
            names.append(self.regimen.antibody.target)
        return tuple(names)
