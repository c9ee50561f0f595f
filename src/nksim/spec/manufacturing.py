"""Manufacturing process specification: source -> expansion -> gene transfer -> cryo -> release -> doses.

Only process *choices* live here (which source, which method, how many days, which release limits, which unit
costs). Every biological or literature number (fold expansions, efficiencies, viabilities, pass rates, times) comes
from the parameter registry (module ``manufacturing``); a field left ``None`` means "use the registry default", and
``parameters`` overrides registry entries by name for this process only.

Units: cells are absolute counts, days (d), hours (h), kilograms (kg); costs are in ``costs.currency``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union, get_args

from pydantic import Field, model_validator

from nksim.spec.base import Frozen

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
#: physical domains (a spec beyond them would only overflow later): culture days, cell numbers, hours
CultureDays = Annotated[float, Field(ge=0.0, le=365.0)]
Cells = Annotated[float, Field(gt=0.0, le=1e14)]
Hours = Annotated[float, Field(ge=0.0, le=8760.0)]
#: a unit cost in costs.currency: at most 1e12 (far above any real price; sums over lots, days and doses stay
#: finite: a qc_per_lot of 1e308 summed to inf in summary.json)
Money = Annotated[float, Field(ge=0.0, le=1e12)]

ExpansionMethod = Literal["il2_alone", "mbil15_41bbl", "mbil21", "pbmc_feeder", "feeder_free", "none"]
TransferMethod = Literal["none", "retroviral", "lentiviral_vsvg", "lentiviral_baev", "mrna_electroporation", "transposon",
                         "crispr_knockin", "clonal_line"]
EXPANSION_METHODS: tuple[str, ...] = get_args(ExpansionMethod)
TRANSFER_METHODS: tuple[str, ...] = get_args(TransferMethod)


class PeripheralBloodSource(Frozen):
    """Peripheral-blood apheresis from a donor (allogeneic) or the patient (autologous)."""

    kind: Literal["peripheral_blood"] = "peripheral_blood"
    donor: Literal["allogeneic", "autologous"] = "allogeneic"
    lymphocytes_collected: Cells | None = None  # cells per apheresis; None = registry (donor-variable)
    nk_fraction: Fraction | None = None  # NK fraction of lymphocytes; None = drawn per donor from the registry
    cd3_depletion: bool = True  # CD3+ depletion of the input


class CordBloodSource(Frozen):
    """A cryopreserved cord-blood unit; unit-quality covariates nRBC and collection-to-cryopreservation time."""

    kind: Literal["cord_blood"] = "cord_blood"
    tnc: Cells | None = None  # total nucleated cells in the unit; None = registry (unit-variable)
    nrbc: Annotated[float, Field(ge=0.0, le=1e14)] | None = None  # nucleated red blood cells in the unit; None = drawn from the bank
    collection_to_cryo_h: Hours | None = None  # hours; None = drawn from the bank
    cd3_depletion: bool = True


class IPSCSource(Frozen):
    """An iPSC master cell bank; one vial seeds one lot through NK differentiation."""

    kind: Literal["ipsc"] = "ipsc"
    bank_vials: int | None = Field(None, ge=1, le=1_000_000)  # vials in the bank (for "patients served per bank")
    cells_per_vial: Cells | None = None  # None = registry


class NK92Source(Frozen):
    """The NK-92 cell line (a vial of the master bank); irradiated before infusion, so it does not persist."""

    kind: Literal["nk92"] = "nk92"
    cells_per_vial: Cells | None = None  # None = registry
    irradiated: bool = True


Source = Annotated[
    Union[PeripheralBloodSource, CordBloodSource, IPSCSource, NK92Source], Field(discriminator="kind")
]


class ExpansionSpec(Frozen):
    """Ex vivo expansion: method, vessel, days in culture and the seeding cap."""

    method: ExpansionMethod = "mbil21"
    vessel: Literal["flask", "bioreactor"] = "flask"
    days: CultureDays = 14.0  # days in culture (0 = no expansion)
    seed_nk_cells: Cells | None = None  # NK cells put into culture at most; None = registry
    final_cd3_depletion: bool = False  # a second CD3+ depletion at harvest


class GeneTransferSpec(Frozen):
    """CAR gene transfer: method, culture day, optional fixed mean efficiency.

    ``clonal_line``: the CAR was engineered into the (iPSC or NK-92) master cell line, so no transfer step happens
    during manufacture; ``efficiency`` is then the fraction of product cells expressing the CAR.
    """

    method: TransferMethod = "none"
    day: CultureDays | None = None  # culture day of transfer; None = registry default (mRNA: at harvest)
    efficiency: Fraction | None = None  # mean CAR+ fraction; None = registry (method-specific, lot-variable)


class CryoSpec(Frozen):
    """Fresh or cryopreserved product; IL-15 + IL-18 pre-treatment before freezing."""

    frozen: bool = True
    il15_il18_pretreatment: bool = False


class ReleaseSpec(Frozen):
    """Release (lot acceptance) limits; ``None`` = the registry default limit."""

    min_viability: Fraction | None = None
    max_cd3_per_kg: NonNegative | None = None
    min_car_fraction: Fraction | None = None  # applied only when a CAR is transferred
    sterility: bool = True
    endotoxin: bool = True
    mycoplasma: bool = True


class DoseSpec(Frozen):
    """Planned dose: per kg or flat (exactly one), its cell basis, doses per patient, body weight for counting."""

    cells_per_kg: Annotated[float, Field(gt=0.0, le=1e10)] | None = None
    flat_cells: Cells | None = None
    basis: Literal["total_nk", "car_positive"] = "total_nk"
    doses_per_patient: int = Field(1, ge=1, le=100)
    body_weight_kg: Annotated[float, Field(gt=0.0, le=500.0)] | None = None  # weight used to count doses; None = registry reference weight
    min_dose_fraction: Fraction = 1.0  # treat at a lower dose if at least this fraction of a dose is available

    @model_validator(mode="after")
    def _one_level(self) -> "DoseSpec":
        if (self.cells_per_kg is None) == (self.flat_cells is None):
            raise ValueError("give exactly one of cells_per_kg or flat_cells")
        return self


class UnitCosts(Frozen):
    """User-supplied unit costs (no prices are built in); any item left out is not costed."""

    currency: str = "USD"
    media_per_l: Money | None = None
    cytokines_per_l: Money | None = None
    feeder_per_stimulation: Money | None = None
    vector_per_lot: Money | None = None  # viral vector, mRNA, transposon or CRISPR reagents
    qc_per_lot: Money | None = None
    facility_per_day: Money | None = None
    cryo_per_dose: Money | None = None
    collection_per_lot: Money | None = None  # apheresis, cord-blood unit or iPSC/NK-92 vial
    other_per_lot: Money | None = None


class LogisticsSpec(Frozen):
    """How lots meet patients: made to order (vein-to-vein from collection) or off the shelf (from inventory)."""

    mode: Literal["made_to_order", "off_the_shelf"] = "made_to_order"
    patients_per_lot: int | None = Field(None, ge=1, le=1_000_000)  # None: 1 (made to order) or planned doses / doses per patient
    planned_doses_per_lot: int | None = Field(None, ge=1, le=10_000_000)  # target; None = doses_per_patient x patients_per_lot


class ManufacturingSpec(Frozen):
    """A manufacturing process, from source to doses in the freezer."""

    name: str | None = None
    description: str = ""
    source: Source = Field(default_factory=PeripheralBloodSource)
    expansion: ExpansionSpec = Field(default_factory=ExpansionSpec)
    gene_transfer: GeneTransferSpec = Field(default_factory=GeneTransferSpec)
    cryo: CryoSpec = Field(default_factory=CryoSpec)
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)
    dose: DoseSpec = Field(default_factory=lambda: DoseSpec(cells_per_kg=1e7))
    costs: UnitCosts = Field(default_factory=UnitCosts)
    logistics: LogisticsSpec = Field(default_factory=LogisticsSpec)
    parameters: dict[str, float] = Field(default_factory=dict)  # registry overrides (module manufacturing)

    @model_validator(mode="after")
    def _consistent(self) -> "ManufacturingSpec":
        gt = self.gene_transfer
        if gt.day is not None and gt.day > self.expansion.days:
            raise ValueError(
                f"gene_transfer.day = {gt.day} is after the end of culture (expansion.days = {self.expansion.days})"
            )
        if self.dose.basis == "car_positive" and gt.method == "none":
            raise ValueError("dose.basis = 'car_positive' needs a gene_transfer.method other than 'none'")
        if self.source.kind == "nk92" and self.expansion.method not in ("il2_alone", "none"):
            raise ValueError("an NK-92 source grows in IL-2 alone: expansion.method must be 'il2_alone' or 'none'")
        return self
