"""Spatial scenario (`SpatialSpec`): the tissue region, fields, NK input, product and time steps of the ABM.

Units are in the field names (um, min, day, ng/mL, pg/mL, cells/uL). Built-in scenarios live in
``nksim/data/spatial/*.yaml``; :func:`load_spatial_spec` accepts a built-in name or a YAML path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
import math
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from nksim.errors import InputError
from nksim.spec.base import FieldProblem, Frozen
from nksim.spec.catalog import ANTIGENS, CHEMOKINE_RECEPTORS, INDICATIONS
from nksim.yaml_load import describe_error, read_text, safe_load


#: Largest lattice (voxels) and its memory per voxel: cell, antigen, occupancy bytes, 4 fields and solver scratch
MAX_VOXELS = 200_000_000
BYTES_PER_VOXEL = 120
MAX_ABM_DAYS = 365.0
MAX_PATCH_UM = 2000.0


class AntigenPattern(Frozen):
    """Expression of one antigen over the tumor cells."""

    name: str
    positive_fraction: float = Field(0.76, ge=0.0, le=1.0)
    pattern: Literal["patchy", "mixed"] = "patchy"
    patch_um: float = Field(150.0, gt=0.0, le=MAX_PATCH_UM, description="correlation length of patches (um)")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in ANTIGENS:
            raise ValueError(f"antigen {v!r} is not in nksim.spec.catalog.ANTIGENS ({sorted(ANTIGENS)})")
        return v


class TissueSpec(Frozen):
    """Layout of the lattice at t = 0."""

    dims: Literal[2, 3] = 2
    size: tuple[int, ...] = (100, 100)
    voxel_um: float = Field(20.0, ge=10.0, le=20.0)
    layout: Literal["lesion", "filled"] = "lesion"
    tumor_radius_fraction: float = Field(0.7, gt=0.0, le=1.5, description="tumor radius / half the box")
    tumor_density: float = Field(0.9, ge=0.0, le=1.0, description="fraction of tumor-region voxels holding a tumor cell")
    stroma_in_tumor: float = Field(0.05, ge=0.0, le=1.0)
    stroma_outside: float = Field(0.5, ge=0.0, le=1.0)
    vessel_density_per_mm2: float = Field(40.0, ge=0.0, le=1e6, description="vessel voxels per mm^2 (per mm^3 in 3D)")
    vessel_layout: Literal["uniform", "peripheral", "none"] = "uniform"
    antigens: tuple[AntigenPattern, ...] = ()

    @model_validator(mode="after")
    def _size(self) -> "TissueSpec":
        if len(self.size) != self.dims or any(s < 3 for s in self.size):
            raise FieldProblem("size", list(self.size), f"{self.dims} entries (tissue.dims = {self.dims}), each >= 3 "
                               "voxels")
        n = math.prod(self.size)
        if n > MAX_VOXELS:
            raise FieldProblem("size", list(self.size), f"at most {MAX_VOXELS:.0e} voxels in all (this lattice has "
                               f"{n:.3g}; about {n * BYTES_PER_VOXEL / 1e9:,.0f} GB)")
        return self

    @property
    def n_voxels(self) -> int:
        return math.prod(self.size)


class FieldSpec(Frozen):
    """Diffusible fields; levels are the steady levels inside the tumor mass."""

    enabled: bool = True
    tgfb_tumor_ng_ml: float = Field(2.0, ge=0.0, description="TGF-beta level the tumor sustains (ng/mL)")
    tgfb_stroma_share: float = Field(0.5, ge=0.0, description="stroma secretion relative to tumor cells")
    o2_consumption_scale: float = Field(1.0, ge=0.0, description="multiplies tumor O2 uptake (hypoxia knob)")
    il15_systemic_pg_ml: float = Field(2.0, ge=0.0, description="plasma IL-15 exchanged at vessels (pg/mL)")


class NKInputSpec(Frozen):
    """NK supply: an initial seeding and entry from vessels driven by the blood level (fixed or a series)."""

    initial_nk: int = Field(0, ge=0, description="NK placed at t = 0 (at most one per voxel)")
    initial_placement: Literal["uniform", "outside", "tumor"] = "uniform"
    transduced_fraction: float = Field(1.0, ge=0.0, le=1.0)
    blood_nk_per_ul: tuple[Annotated[float, Field(ge=0.0, le=1e5)], ...] = (10.0,)
    blood_times_d: tuple[Annotated[float, Field(ge=0.0, le=MAX_ABM_DAYS)], ...] = (0.0,)

    @model_validator(mode="after")
    def _series(self) -> "NKInputSpec":
        if len(self.blood_nk_per_ul) != len(self.blood_times_d) or not self.blood_nk_per_ul:
            raise FieldProblem("blood_nk_per_ul", list(self.blood_nk_per_ul), "one level per day of blood_times_d "
                               f"({len(self.blood_times_d)} given), at least one")
        if list(self.blood_times_d) != sorted(self.blood_times_d):
            raise FieldProblem("blood_times_d", list(self.blood_times_d), "days in increasing order")
        return self


class ProductSpec(Frozen):
    """The NK product as the ABM sees it."""

    car_targets: tuple[str, ...] = ()
    il15: Literal["none", "secreted", "membrane"] = "none"
    dntgfbr2: bool = False
    chemokine_receptor: str | None = None
    potency: float = Field(1.0, ge=0.0)
    natural_cytotoxicity_scale: float = Field(1.0, ge=0.0, description="0 blocks natural cytotoxicity (in silico)")
    kir_engagement: float = Field(1.0, ge=0.0, le=1.0, description="1 matched donor, ~0 KIR-negative lines")
    antibody_target: str | None = None
    antibody_ug_ml: float = Field(0.0, ge=0.0)
    ha_cd16: bool = False

    @field_validator("car_targets")
    @classmethod
    def _targets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if a not in ANTIGENS:
                raise ValueError(f"CAR target {a!r} is not in ANTIGENS ({sorted(ANTIGENS)})")
        return v

    @field_validator("chemokine_receptor")
    @classmethod
    def _receptor(cls, v: str | None) -> str | None:
        if v is not None and v not in CHEMOKINE_RECEPTORS:
            raise ValueError(f"chemokine_receptor {v!r} is not in CHEMOKINE_RECEPTORS ({sorted(CHEMOKINE_RECEPTORS)})")
        return v


class TumorBiologySpec(Frozen):
    """Tumor-cell properties that set natural cytotoxicity and growth."""

    ligand_level: float = Field(1.0, ge=0.0, description="NK-activating ligand level, 1 = reference")
    hla_level: float = Field(0.5, ge=0.0, le=1.0, description="HLA class I level (missing self when low)")
    proliferation_scale: float = Field(1.0, ge=0.0)


class TimeSpec(Frozen):
    """Multi-rate time steps (min): NK << fields <= tumor; each a multiple of the NK step."""

    dt_nk_min: float = Field(1.0, ge=0.01, le=60.0)
    dt_field_min: float = Field(10.0, gt=0.0, le=1440.0)
    dt_tumor_min: float = Field(60.0, gt=0.0, le=1440.0)
    days: float = Field(7.0, gt=0.0, le=MAX_ABM_DAYS)
    record_every_min: float = Field(60.0, gt=0.0, le=MAX_ABM_DAYS * 1440.0)
    snapshots: int = Field(12, ge=0, le=1000)
    nk_parallel_bands: bool = Field(False, description="update NK in parallel x-bands (large tissue lattices)")

    @model_validator(mode="after")
    def _multiples(self) -> "TimeSpec":
        def mult(a: float, b: float) -> bool:
            r = a / b
            return abs(r - round(r)) < 1e-9 and round(r) >= 1

        problems = []
        for name, value, of in (("dt_field_min", self.dt_field_min, "dt_nk_min"),
                                ("dt_tumor_min", self.dt_tumor_min, "dt_field_min"),
                                ("record_every_min", self.record_every_min, "dt_tumor_min")):
            if not mult(value, getattr(self, of)):
                problems.append(FieldProblem(name, value, f"a whole multiple of {of} = {getattr(self, of):g}"))
        FieldProblem.raise_all(problems)
        return self


class SpatialSpec(Frozen):
    """Top-level spatial scenario."""

    name: str = Field("custom", min_length=1, max_length=200)
    indication: str = "HCC"
    mode: Literal["tissue", "well_mixed"] = "tissue"
    tissue: TissueSpec = TissueSpec()
    fields: FieldSpec = FieldSpec()
    nk: NKInputSpec = NKInputSpec()
    product: ProductSpec = ProductSpec()
    tumor: TumorBiologySpec = TumorBiologySpec()
    time: TimeSpec = TimeSpec()
    parameters: dict[str, float] = Field(default_factory=dict, description="registry overrides by name")

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isprintable():  # the name goes into the output files' metadata (a NUL broke the NetCDF writer)
            raise FieldProblem("", v, "a name of printable characters (no control characters)")
        return v

    @field_validator("indication")
    @classmethod
    def _indication(cls, v: str) -> str:
        if v not in INDICATIONS:
            raise ValueError(f"indication {v!r} is not in INDICATIONS ({sorted(INDICATIONS)})")
        return v

    @model_validator(mode="after")
    def _nk_fit(self) -> "SpatialSpec":
        if self.nk.initial_nk > self.tissue.n_voxels:
            raise FieldProblem("nk.initial_nk", self.nk.initial_nk, f"at most {self.tissue.n_voxels:,} (one per voxel "
                               f"of tissue.size = {list(self.tissue.size)})")
        return self

    @model_validator(mode="after")
    def _antigens_declared(self) -> "SpatialSpec":
        declared = {a.name for a in self.tissue.antigens}
        for a in (*self.product.car_targets, *((self.product.antibody_target,) if self.product.antibody_target else ())):
            if a not in declared:
                raise ValueError(f"antigen {a!r} used by the product has no pattern in tissue.antigens ({sorted(declared)})")
        if len(declared) > 8:
            raise ValueError("at most 8 antigens per spatial scenario")
        return self

    def receptor_matches(self) -> bool:
        """Whether the product's chemokine receptor follows a chemokine this indication's tumor secretes."""
        r = self.product.chemokine_receptor
        if r is None:
            return False
        return bool(set(CHEMOKINE_RECEPTORS[r]) & set(INDICATIONS[self.indication].chemokines))

    def with_updates(self, **paths: object) -> "SpatialSpec":
        """Copy with dotted-path updates, e.g. ``with_updates(**{"product.dntgfbr2": True})`` (validated)."""
        data = self.model_dump(mode="python")
        for path, value in paths.items():
            node = data
            keys = path.split(".")
            for k in keys[:-1]:
                if k not in node:
                    raise InputError(path, value, "a dotted path into SpatialSpec", "SpatialSpec.with_updates")
                node = node[k]
            if keys[-1] not in node:
                raise InputError(path, value, "a dotted path into SpatialSpec", "SpatialSpec.with_updates")
            node[keys[-1]] = value
        return spec_from_dict(data, where=f"{self.name} (updated)")


def spec_from_dict(data: dict, where: str = "spatial scenario") -> SpatialSpec:
    """Validate a mapping into a SpatialSpec; errors name the field, the value and what is allowed."""
    try:
        return SpatialSpec.model_validate(data)
    except ValidationError as exc:
        from nksim.spec.io import validation_to_input_error

        raise validation_to_input_error(exc, where, root=SpatialSpec) from None


def builtin_spatial_scenarios() -> list[str]:
    """Names of the spatial scenarios shipped in nksim/data/spatial."""
    root = resources.files("nksim").joinpath("data/spatial")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_spatial_spec(name_or_path: str | Path) -> SpatialSpec:
    """Load a built-in spatial scenario by name or a YAML file by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        text, where = read_text(p, "scenario"), str(p)
    else:
        names = builtin_spatial_scenarios()
        if str(name_or_path) not in names:
            raise InputError("scenario", str(name_or_path), f"a YAML path or a built-in spatial scenario {names}")
        text = resources.files("nksim").joinpath(f"data/spatial/{name_or_path}.yaml").read_text(encoding="utf-8")
        where = f"built-in spatial scenario {name_or_path}"
    try:
        data = safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputError("yaml", str(name_or_path), f"valid YAML ({describe_error(exc)})", where) from None
    if not isinstance(data, dict):
        raise InputError("scenario", type(data).__name__, "a YAML mapping", where)
    return spec_from_dict(data, where)
