"""Readout configuration: response criteria, scan schedule, DLT definition and the persistence assay.

A numeric field left at ``None`` takes its value from the parameter registry (``module: clinical``) when the
readouts are computed, so a scenario's parameter overrides reach it; a value given here wins over the
registry. The main ``Scenario`` model carries one of these as ``readouts: ReadoutSpec``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from nksim.spec.base import MAX_DAY, Day, FieldProblem, Frozen
from nksim.spec.catalog import ANTIGENS

Criteria = Literal["RECIST1.1", "mRECIST", "Lugano2014", "ALL-marrow"]
Toxicity = Literal["crs", "icans", "gvhd", "offtumor", "neutropenia", "leukopenia", "infusion_fever"]

#: Default scan schedule (days after the first infusion): every 4 weeks to week 16, then every 8 weeks.
DEFAULT_SCAN_DAYS: tuple[float, ...] = (28.0, 56.0, 84.0, 112.0, 168.0, 224.0, 280.0, 336.0)


class DLTRule(Frozen):
    """One toxicity that counts as a dose-limiting toxicity at or above ``min_grade``.

    ``min_duration_days`` > 0 asks that the grade last that long without interruption (e.g. prolonged grade 4
    neutropenia); the DLT day is then the day the duration is reached.
    """

    toxicity: Toxicity
    min_grade: int = Field(ge=1, le=5)
    min_duration_days: float = Field(default=0.0, ge=0.0)


#: A common phase I definition (protocol choice, not a model parameter): grade >= 3 CRS, ICANS, acute GvHD
#: (III-IV) or on-target/off-tumor toxicity, or grade 4 neutropenia lasting 28 days. Toxicities the scenario
#: expects from the mechanism (``ReadoutSpec.dlt_expected``: B-cell aplasia of a CD19/CD20 CAR) are not DLT.
DEFAULT_DLT_RULES: tuple[DLTRule, ...] = (
    DLTRule(toxicity="crs", min_grade=3),
    DLTRule(toxicity="icans", min_grade=3),
    DLTRule(toxicity="gvhd", min_grade=3),
    DLTRule(toxicity="offtumor", min_grade=3),
    DLTRule(toxicity="neutropenia", min_grade=4, min_duration_days=28.0),
)


class AssaySpec(Frozen):
    """How product persistence in blood is measured.

    - ``qpcr``: transgene copies per ug genomic DNA against ``lloq_copies_per_ug`` (transduced cells only);
      converted to cells/uL with the leukocyte count at that time.
    - ``flow``: product cells per uL against ``lod_cells_per_ul``.
    - ``chimerism``: product cells as a fraction of leukocytes against ``lod_fraction`` (unmodified donor
      cells).
    ``sample_days``: days blood is drawn (None = every time point of the trajectory).
    """

    kind: Literal["qpcr", "flow", "chimerism"] = "qpcr"
    lloq_copies_per_ug: float | None = Field(default=None, gt=0)
    copies_per_cell: float | None = Field(default=None, gt=0)
    lod_cells_per_ul: float | None = Field(default=None, gt=0)
    lod_fraction: float | None = Field(default=None, gt=0, lt=1)
    analyte: Literal["transduced", "all"] | None = None
    sample_days: tuple[Day, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _qpcr_reads_transgene(self) -> "AssaySpec":
        if self.kind == "qpcr" and self.analyte == "all":
            raise FieldProblem("analyte", "all", "'transduced' or null for kind 'qpcr' (qPCR detects the transgene only)")
        return self

    @property
    def analyte_resolved(self) -> str:
        """'transduced' for qPCR; 'all' product cells for flow and chimerism unless stated."""
        if self.kind == "qpcr":
            return "transduced"
        return self.analyte or "all"


class ReadoutSpec(Frozen):
    """Clinical readout settings (see docs/clinical.md)."""

    criteria: Criteria | None = Field(
        default=None,
        description="None = the criteria of the patients' indication (catalog: HCC -> mRECIST, ...)",
    )
    scan_days: tuple[Day, ...] = DEFAULT_SCAN_DAYS
    baseline_day: Day | None = Field(default=None, description="None = first time point of the trajectory")
    confirmation: bool | None = Field(
        default=None, description="None = the criteria's rule (RECIST/mRECIST yes, Lugano no)"
    )
    confirmation_min_days: float | None = Field(default=None, gt=0)
    sd_min_days: float | None = Field(default=None, ge=0)
    imaging_limit_mm: float | None = Field(default=None, gt=0)
    measurable_min_mm: float | None = Field(default=None, gt=0)
    cell_density_per_cm3: float | None = Field(
        default=None,
        gt=0,
        description="None = registry tumor_cell_density (or a patients column of that name)",
    )
    mrecist_baseline: Literal["viable+dead", "viable"] = Field(
        default="viable+dead",
        description="mRECIST baseline: all tumor counted viable before treatment (the default, so a kill the "
        "engine applies at its first time point is not mistaken for baseline necrosis), or the viable cells",
    )
    lethal_burden_cm3: float | None = Field(default=None, gt=0)
    follow_up_days: float = Field(default=365.0, gt=0, le=MAX_DAY)
    dlt_window_days: float = Field(default=28.0, gt=0, le=MAX_DAY)
    dlt_rules: tuple[DLTRule, ...] = DEFAULT_DLT_RULES
    dlt_expected: tuple[Toxicity, ...] | None = Field(
        default=None,
        description="toxicities expected from the mechanism: graded and reported as adverse events, never counted as "
        "DLT; None = resolved from the product (Scenario.resolved_readouts): ('offtumor',) when every CAR target is "
        "a lineage antigen (on-target off-tumor B-cell aplasia of a CD19/CD20 CAR), else (). [] counts every rule",
    )
    assay: AssaySpec = AssaySpec()
    setting: Literal["advanced", "adjuvant"] = Field(
        default="advanced", description="adjuvant: no measurable disease at start (after resection or "
        "transplantation); adds recurrence-free survival (rfs_days, rfs_event; nksim.clinical.recurrence)")
    recurrence_detect_mm: float | None = Field(
        default=None, gt=0, description="adjuvant: a lesion is a detected recurrence at this viable diameter (mm); "
        "None = registry clinical_recurrence_detect_mm")

    @field_validator("scan_days")
    @classmethod
    def _scans_increasing(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) == 0:
            raise FieldProblem("", [], "at least one scan day > 0")
        if any(d <= 0 for d in v) or any(b <= a for a, b in zip(v, v[1:])):
            raise FieldProblem("", list(v), "strictly increasing days > 0")
        return v

    @property
    def confirmation_resolved(self) -> bool:
        """Whether CR/PR need confirmation (criteria None is read as RECIST 1.1 here)."""
        if self.confirmation is not None:
            return self.confirmation
        return confirmation_for(self.criteria or "RECIST1.1")


def expected_toxicities(car_targets: tuple[str, ...]) -> tuple[str, ...]:
    """Toxicities a product's mechanism makes expected (reported as adverse events, not DLT): the on-target
    off-tumor effect of a CAR whose every target is a lineage antigen (catalog kind 'lineage': B-cell aplasia of a
    CD19 or CD20 CAR, an expected pharmacodynamic effect rather than organ damage)."""
    if car_targets and all(ANTIGENS[a].kind == "lineage" for a in car_targets if a in ANTIGENS):
        return ("offtumor",)
    return ()


def confirmation_for(criteria: str) -> bool:
    """The criteria's own rule: RECIST 1.1 and mRECIST confirm CR/PR (single-arm trials), Lugano 2014 and the
    marrow criteria of acute leukemia do not."""
    return criteria not in ("Lugano2014", "ALL-marrow")
