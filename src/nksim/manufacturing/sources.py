"""Starting material of a lot: apheresis, cord-blood unit, iPSC vial or NK-92 vial, and seeding into culture.

Each function returns the cells available for culture by population plus ledger rows; source covariates (cord-blood
unit quality) are returned for the lot record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nksim.manufacturing.draws import beta_mean_sd, lognormal_median
from nksim.manufacturing.ledger import LedgerRow, row
from nksim.manufacturing.params import Params
from nksim.spec.manufacturing import (
    CordBloodSource,
    IPSCSource,
    ManufacturingSpec,
    NK92Source,
    PeripheralBloodSource,
)


@dataclass
class SourceResult:
    nk: float  # NK cells available for seeding (after source processing)
    t: float  # T cells available for seeding
    rows: list[LedgerRow] = field(default_factory=list)
    covariates: dict[str, float | bool | None] = field(default_factory=dict)
    differentiation_days: float = 0.0


def _process_lymphocytes(step: str, nk: float, t: float, other: float, cd3_depletion: bool, p: Params,
                         rng: np.random.Generator) -> SourceResult:
    """CD3+ depletion (NK recovery < 1, T cells reduced by 10^-log) and removal of other nucleated cells."""
    rec = beta_mean_sd(rng, p["mfg_selection_nk_recovery"], p.range_sd("mfg_selection_nk_recovery"))
    if cd3_depletion:
        nk_out, t_out = nk * rec, t * 10.0 ** (-p["mfg_cd3_depletion_log10"])
    else:
        nk_out, t_out = nk, t
    rows = [
        row(step, "nk", nk, nk_out, selection_loss=nk - nk_out),
        row(step, "t", t, t_out, cd3_depletion=t - t_out),
        row(step, "other", other, 0.0, removed_in_processing=other),
    ]
    return SourceResult(nk_out, t_out, rows)


def peripheral_blood(src: PeripheralBloodSource, p: Params, rng: np.random.Generator) -> SourceResult:
    lymph = src.lymphocytes_collected or lognormal_median(
        rng, p["mfg_pb_lymphocytes_per_apheresis"], p.omega2("mfg_pb_lymphocytes_per_apheresis"))
    nk_f = src.nk_fraction if src.nk_fraction is not None else beta_mean_sd(
        rng, p["mfg_pb_nk_fraction"], p.range_sd("mfg_pb_nk_fraction"))
    t_f = min(beta_mean_sd(rng, p["mfg_pb_t_fraction"], p.range_sd("mfg_pb_t_fraction")), 1.0 - nk_f)
    res = _process_lymphocytes("collection (apheresis) and CD3 depletion", lymph * nk_f, lymph * t_f,
                               lymph * (1.0 - nk_f - t_f), src.cd3_depletion, p, rng)
    res.covariates = {"lymphocytes_collected": lymph, "nk_fraction": nk_f}
    return res


def cord_blood(src: CordBloodSource, p: Params, rng: np.random.Generator) -> SourceResult:
    tnc = src.tnc or lognormal_median(rng, p["mfg_cb_tnc_per_unit"], p.omega2("mfg_cb_tnc_per_unit"))
    nrbc = src.nrbc if src.nrbc is not None else lognormal_median(
        rng, p["mfg_cb_nrbc_median"], p.omega2("mfg_cb_nrbc_median"))
    cryo_h = src.collection_to_cryo_h if src.collection_to_cryo_h is not None else lognormal_median(
        rng, p["mfg_cb_cryo_time_median_h"], p.omega2("mfg_cb_cryo_time_median_h"))
    optimal = nrbc <= p["mfg_cb_nrbc_threshold"] and cryo_h <= p["mfg_cb_cryo_time_threshold_h"]
    rec = beta_mean_sd(rng, p["mfg_cb_thaw_recovery"], p.range_sd("mfg_cb_thaw_recovery"))
    lym_f = beta_mean_sd(rng, p["mfg_cb_lymphocyte_fraction"], p.range_sd("mfg_cb_lymphocyte_fraction"))
    nk_f = beta_mean_sd(rng, p["mfg_cb_nk_fraction"], p.range_sd("mfg_cb_nk_fraction"))
    t_f = min(beta_mean_sd(rng, p["mfg_cb_t_fraction"], p.range_sd("mfg_cb_t_fraction")), 1.0 - nk_f)
    nk0, t0 = tnc * lym_f * nk_f, tnc * lym_f * t_f
    other0 = tnc - nk0 - t0
    thaw = [
        row("cord-blood unit thaw", "nk", nk0, nk0 * rec, unit_thaw_loss=nk0 * (1 - rec)),
        row("cord-blood unit thaw", "t", t0, t0 * rec, unit_thaw_loss=t0 * (1 - rec)),
        row("cord-blood unit thaw", "other", other0, other0 * rec, unit_thaw_loss=other0 * (1 - rec)),
    ]
    res = _process_lymphocytes("CD3 depletion of the thawed unit", nk0 * rec, t0 * rec, other0 * rec,
                               src.cd3_depletion, p, rng)
    res.rows = thaw + res.rows
    res.covariates = {"cb_tnc": tnc, "cb_nrbc": nrbc, "cb_collection_to_cryo_h": cryo_h, "cb_unit_optimal": optimal}
    return res


def ipsc(src: IPSCSource, p: Params, rng: np.random.Generator) -> SourceResult:
    cells = src.cells_per_vial or p["mfg_ipsc_cells_per_vial"]
    yield_per = lognormal_median(rng, p["mfg_ipsc_nk_yield"], p.omega2("mfg_ipsc_nk_yield"))
    nk = cells * yield_per
    rows = [
        row("iPSC differentiation", "ipsc", cells, 0.0, consumed_in_differentiation=cells),
        row("iPSC differentiation", "nk", 0.0, nk, generated=nk),
    ]
    return SourceResult(nk, 0.0, rows, {"ipsc_nk_yield": yield_per}, p["mfg_ipsc_differentiation_days"])


def nk92(src: NK92Source, p: Params, rng: np.random.Generator) -> SourceResult:
    cells = src.cells_per_vial or p["mfg_nk92_cells_per_vial"]
    return SourceResult(cells, 0.0, [row("NK-92 vial thaw", "nk", cells, cells)], {"irradiated": src.irradiated})


def draw_source(spec: ManufacturingSpec, p: Params, rng: np.random.Generator) -> SourceResult:
    src = spec.source
    if isinstance(src, PeripheralBloodSource):
        return peripheral_blood(src, p, rng)
    if isinstance(src, CordBloodSource):
        return cord_blood(src, p, rng)
    if isinstance(src, IPSCSource):
        return ipsc(src, p, rng)
    return nk92(src, p, rng)


def seed_culture(res: SourceResult, spec: ManufacturingSpec, p: Params) -> tuple[float, float, list[LedgerRow]]:
    """Put at most the seeding cap of NK cells into culture (T cells in the same proportion); the rest is retained."""
    nk, t = res.nk, res.t
    if spec.expansion.method == "none" or spec.expansion.days == 0:
        frac = 1.0
    else:
        cap = spec.expansion.seed_nk_cells or p["mfg_seed_nk_cells"]
        frac = min(1.0, cap / nk) if nk > 0 else 1.0
    rows = [
        row("seeding", "nk", nk, nk * frac, not_seeded=nk * (1 - frac)),
        row("seeding", "t", t, t * frac, not_seeded=t * (1 - frac)),
    ]
    return nk * frac, t * frac, rows
