"""One manufacturing lot, end to end: source -> seeding -> expansion (with gene transfer) -> harvest and QC ->
dose fill -> freeze/thaw -> release -> cost and times, with a mass-balance ledger for every step.

Lot k draws only from ``nksim.rng.stream(seed, "manufacturing", k)``, so it is the same lot whatever the number of
lots simulated or their order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nksim.errors import InputError
from nksim.manufacturing.cryo import draw_thaw
from nksim.manufacturing.draws import beta_mean_sd
from nksim.manufacturing.economics import lot_cost, lot_times, media_litres
from nksim.manufacturing.expansion import donor_growth, log_fold_any, nk92_growth
from nksim.manufacturing.gene_transfer import Transfer, car_fraction_at_release, draw_transfer
from nksim.manufacturing.ledger import LedgerRow, row
from nksim.manufacturing.params import Params, resolve_parameters
from nksim.manufacturing.release import release_tests
from nksim.manufacturing.sources import draw_source, seed_culture
from nksim.rng import stream
from nksim.spec.manufacturing import ManufacturingSpec

RNG_MODULE = "manufacturing"


@dataclass(frozen=True)
class DosePlan:
    """The planned dose a lot is counted against."""

    cells_per_kg: float | None
    flat_cells: float | None
    basis: str  # "total_nk" or "car_positive"
    doses_per_patient: int
    min_dose_fraction: float
    body_weight_kg: float  # weight used for dose counting
    patients_per_lot: int
    planned_doses_per_lot: int

    def nk_cells_per_dose(self, weight_kg: float, car_fraction: float) -> float:
        """NK cells (all, CAR+ and CAR-) in one planned dose for a patient of ``weight_kg``; inf if impossible."""
        cells = self.cells_per_kg * weight_kg if self.cells_per_kg is not None else float(self.flat_cells)
        if self.basis == "car_positive":
            return cells / car_fraction if car_fraction > 0 else float("inf")
        return cells


@dataclass(frozen=True)
class Lot:
    """A manufactured lot: its history, quality attributes, release result, cost and times (cells are counts)."""

    lot_id: int
    source: str
    covariates: dict
    seed_nk: float
    seed_t: float
    growth_rate: float  # donor growth rate r (/d)
    senescence_tau_d: float
    fold_expansion: float  # NK fold over the culture (growth only)
    curve_days: np.ndarray  # culture days
    curve_nk: np.ndarray  # viable NK in culture by day
    harvest_nk: float  # viable NK at the end of culture
    harvest_t: float
    harvest_viability: float
    transfer: Transfer
    car_fraction: float  # CAR+ fraction at release
    formulated_nk: float  # viable NK in the formulated product (after QC samples)
    formulated_t: float
    cells_per_dose: float  # NK cells per planned dose at the counting weight
    doses: int  # full planned doses at the counting weight
    post_thaw_viability: float  # fraction of labelled viable cells viable at infusion (1 for fresh)
    potency: float  # cytotoxicity relative to fresh, incl. source-quality effects
    cd3_per_kg: float  # T cells per kg at the planned dose and counting weight
    tests: dict[str, bool]
    released: bool
    cost: float | None
    cost_items: dict[str, float]
    cycle_time_d: float
    vein_to_vein_d: float
    persistent: bool  # False for irradiated NK-92
    plan: DosePlan
    ledger: tuple[LedgerRow, ...] = field(repr=False)
    fitness: float = 1.0  # in vivo proliferative fitness relative to a reference product (cord-blood unit quality)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(k for k, ok in self.tests.items() if not ok)

    @property
    def t_per_nk(self) -> float:
        return self.formulated_t / self.formulated_nk if self.formulated_nk > 0 else 0.0

    @property
    def patients_served(self) -> int:
        """Patients this lot can treat at full planned dose (0 if not released)."""
        return self.doses // self.plan.doses_per_patient if self.released else 0

    def summary(self) -> dict[str, object]:
        """Flat record for tables (no arrays)."""
        return {
            "lot_id": self.lot_id, "source": self.source, **{f"cov_{k}": v for k, v in self.covariates.items()},
            "seed_nk": self.seed_nk, "fold_expansion": self.fold_expansion, "harvest_nk": self.harvest_nk,
            "harvest_viability": self.harvest_viability, "transfer_efficiency": self.transfer.efficiency,
            "car_fraction": self.car_fraction, "car_half_life_d": self.transfer.half_life_d,
            "formulated_nk": self.formulated_nk, "formulated_t": self.formulated_t, "doses": self.doses,
            "post_thaw_viability": self.post_thaw_viability, "potency": self.potency, "fitness": self.fitness,
            "cd3_per_kg": self.cd3_per_kg,
            "released": self.released, "failures": ";".join(self.failures), "cost": self.cost,
            "cycle_time_d": self.cycle_time_d, "vein_to_vein_d": self.vein_to_vein_d,
            "patients_served": self.patients_served,
        }


def dose_plan(spec: ManufacturingSpec, p: Params) -> DosePlan:
    d, lg = spec.dose, spec.logistics
    ppl = lg.patients_per_lot
    if ppl is None:
        ppl = 1 if lg.mode == "made_to_order" or lg.planned_doses_per_lot is None else max(
            1, lg.planned_doses_per_lot // d.doses_per_patient)
    planned = lg.planned_doses_per_lot or d.doses_per_patient * ppl
    weight = d.body_weight_kg or p["mfg_reference_body_weight_kg"]
    return DosePlan(d.cells_per_kg, d.flat_cells, d.basis, d.doses_per_patient, d.min_dose_fraction, weight,
                    ppl, planned)


def _culture_grid(days: float, extra: float) -> np.ndarray:
    grid = np.linspace(0.0, days, max(int(math.ceil(days)), 1) + 1)
    return np.unique(np.append(grid, extra))


def simulate_lot(spec: ManufacturingSpec, lot_id: int, seed: int, params: Params | None = None) -> Lot:
    """Simulate lot ``lot_id`` of a process (see module docstring)."""
    if lot_id < 0:
        raise InputError("lot_id", lot_id, "a non-negative integer")
    if seed < 0:
        raise InputError("seed", seed, "a non-negative integer")
    p = params or resolve_parameters(spec)
    rng = stream(seed, RNG_MODULE, lot_id)
    ex = spec.expansion
    ledger: list[LedgerRow] = []

    # 1. source and seeding
    src = draw_source(spec, p, rng)
    ledger += src.rows
    nk0, t0, rows = seed_culture(src, spec, p)
    ledger += rows

    # 2. growth law of this lot
    if ex.method == "none":
        rng.standard_normal(2)
        r, tau = 0.0, float("inf")
    elif spec.source.kind == "nk92":
        r, tau = nk92_growth(p, rng, ex.vessel)
    else:
        r, tau = donor_growth(ex.method, p, rng, ex.vessel)
    phi = p["mfg_t_cell_log_fold_ratio"]
    v_h = beta_mean_sd(rng, p["mfg_harvest_viability"], p.range_sd("mfg_harvest_viability"))

    # 3. expansion segments around the gene-transfer day
    tr = draw_transfer(spec.gene_transfer, ex.days, p, rng)
    has_transfer = spec.gene_transfer.method != "none"
    transfer_step = has_transfer and spec.gene_transfer.method != "clonal_line"  # a clonal line needs no step
    t_tr = tr.day if transfer_step else ex.days
    nk, t = nk0, t0
    for a, b, name in ((0.0, t_tr, "expansion"), (t_tr, ex.days, "expansion after gene transfer")):
        if b > a:
            lf = float(log_fold_any(b, r, tau) - log_fold_any(a, r, tau))
            nk_out, t_out = nk * math.exp(lf), t * math.exp(phi * lf)
            dead_nk, dead_t = nk_out * (1 - v_h) / v_h, t_out * (1 - v_h) / v_h
            label = f"{name} (days {a:g}-{b:g})"
            ledger.append(row(label, "nk", nk, nk_out, nk_out + dead_nk - nk, culture_death=dead_nk))
            ledger.append(row(label, "t", t, t_out, t_out + dead_t - t, culture_death=dead_t))
            nk, t = nk_out, t_out
        if name == "expansion" and transfer_step:
            label = f"gene transfer ({spec.gene_transfer.method}, day {t_tr:g})"
            ledger.append(row(label, "nk", nk, nk * tr.survival, transfer_toxicity=nk * (1 - tr.survival)))
            ledger.append(row(label, "t", t, t * tr.survival, transfer_toxicity=t * (1 - tr.survival)))
            nk, t = nk * tr.survival, t * tr.survival
    harvest_nk, harvest_t = nk, t
    fold = float(math.exp(log_fold_any(ex.days, r, tau)))
    grid = _culture_grid(ex.days, t_tr)
    surv = np.where(grid >= t_tr, tr.survival, 1.0) if transfer_step else np.ones_like(grid)
    lf_grid = np.asarray(log_fold_any(grid, r, tau), dtype=float)
    curve_nk = nk0 * np.exp(lf_grid) * surv
    curve_t = t0 * np.exp(phi * lf_grid) * surv

    # 4. harvest: optional final CD3 depletion, wash/formulation recovery, QC samples
    step = "harvest, formulation and QC sampling"
    nk_in, t_in = nk, t
    sel_nk = sel_t = 0.0
    if ex.final_cd3_depletion:
        sel_nk = nk * (1 - p["mfg_selection_nk_recovery"])
        sel_t = t * (1 - 10.0 ** (-p["mfg_cd3_depletion_log10"]))
        nk, t = nk - sel_nk, t - sel_t
    rec = p["mfg_harvest_recovery"]
    wash_nk, wash_t = nk * (1 - rec), t * (1 - rec)
    nk, t = nk * rec, t * rec
    qc = min(p["mfg_qc_sample_cells"], 0.5 * nk)
    qc_nk = qc
    qc_t = t * qc / nk if nk > 0 else 0.0
    ledger.append(row(step, "nk", nk_in, nk - qc_nk, selection_loss=sel_nk, harvest_wash_formulation=wash_nk,
                      qc_samples=qc_nk))
    ledger.append(row(step, "t", t_in, t - qc_t, cd3_depletion=sel_t, harvest_wash_formulation=wash_t,
                      qc_samples=qc_t))
    form_nk, form_t = nk - qc_nk, t - qc_t

    # 5. dose fill at the counting weight
    plan = dose_plan(spec, p)
    car = car_fraction_at_release(tr, ex.days) if has_transfer else 0.0
    cpd = plan.nk_cells_per_dose(plan.body_weight_kg, car)
    doses = int(form_nk // cpd) if math.isfinite(cpd) and cpd > 0 else 0
    filled_nk = doses * cpd if doses else 0.0
    filled_t = form_t * filled_nk / form_nk if form_nk > 0 else 0.0
    ledger.append(row("dose fill", "nk", form_nk, filled_nk, remainder_below_one_dose=form_nk - filled_nk))
    ledger.append(row("dose fill", "t", form_t, filled_t, remainder_below_one_dose=form_t - filled_t))

    # 6. freeze / thaw
    v_thaw, potency = draw_thaw(spec.cryo, p, rng)
    if spec.cryo.frozen:
        ledger.append(row("freeze and thaw", "nk", filled_nk, filled_nk * v_thaw,
                          post_thaw_death=filled_nk * (1 - v_thaw)))
        ledger.append(row("freeze and thaw", "t", filled_t, filled_t * v_thaw, post_thaw_death=filled_t * (1 - v_thaw)))
    fitness = 1.0
    if src.covariates.get("cb_unit_optimal") is False:
        potency *= p["mfg_cb_suboptimal_potency"]
        fitness = p["mfg_cb_suboptimal_fitness"]

    # 7. release
    t_per_nk = form_t / form_nk if form_nk > 0 else 0.0
    nk_per_kg = cpd / plan.body_weight_kg if math.isfinite(cpd) else 0.0
    cd3_per_kg = t_per_nk * nk_per_kg
    avail = form_nk / cpd if math.isfinite(cpd) and cpd > 0 else 0.0
    tests = release_tests(spec, p, rng, viability=v_h, cd3_per_kg=cd3_per_kg, car_fraction=car,
                          dose_fraction_available=avail)
    released = all(tests.values())

    # 8. cost and times
    litres = media_litres(grid, curve_nk + curve_t, spec, p) if ex.method != "none" else 0.0
    cycle, v2v = lot_times(spec, p, rng, src.differentiation_days)
    facility_days = src.differentiation_days + ex.days + p["mfg_formulation_days"]
    cost, items = lot_cost(spec, p, litres=litres, facility_days=facility_days, doses=doses)

    return Lot(
        lot_id=lot_id, source=spec.source.kind, covariates=dict(src.covariates), seed_nk=nk0, seed_t=t0,
        growth_rate=r, senescence_tau_d=tau, fold_expansion=fold, curve_days=grid, curve_nk=curve_nk,
        harvest_nk=harvest_nk, harvest_t=harvest_t, harvest_viability=v_h, transfer=tr, car_fraction=car,
        formulated_nk=form_nk, formulated_t=form_t, cells_per_dose=cpd, doses=doses, post_thaw_viability=v_thaw,
        potency=potency, cd3_per_kg=cd3_per_kg, tests=tests, released=released, cost=cost, cost_items=items,
        cycle_time_d=cycle, vein_to_vein_d=v2v,
        persistent=not (spec.source.kind == "nk92" and getattr(spec.source, "irradiated", False)),
        plan=plan, ledger=tuple(ledger), fitness=fitness,
    )


def simulate_lots(spec, n_lots: int, seed: int = 0, *, first_lot: int = 0, params: Params | None = None,
                  progress: Callable[[int], None] | None = None) -> list[Lot]:
    """Lots ``first_lot .. first_lot + n_lots - 1`` of a process (a spec, a built-in name, a YAML path or a dict)."""
    from nksim.manufacturing.loader import load_manufacturing_spec

    spec = load_manufacturing_spec(spec)
    if isinstance(n_lots, bool) or int(n_lots) != n_lots or n_lots < 1:
        raise InputError("lots", n_lots, "a positive integer number of lots")
    if seed < 0:
        raise InputError("seed", seed, "a non-negative integer")
    p = params or resolve_parameters(spec)
    lots = []
    for k in range(first_lot, first_lot + int(n_lots)):
        lots.append(simulate_lot(spec, k, seed, p))
        if progress is not None:
            progress(1)
    return lots
