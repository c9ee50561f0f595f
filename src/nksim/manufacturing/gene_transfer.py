"""CAR gene transfer: efficiency by method (lot-variable), survival of the step, and CAR expression half-life."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nksim.manufacturing.draws import beta_mean_sd
from nksim.manufacturing.params import Params
from nksim.spec.manufacturing import GeneTransferSpec

EFFICIENCY = {
    "retroviral": "mfg_eff_retroviral",
    "lentiviral_vsvg": "mfg_eff_lentiviral_vsvg",
    "lentiviral_baev": "mfg_eff_lentiviral_baev",
    "mrna_electroporation": "mfg_eff_mrna",
    "transposon": "mfg_eff_transposon",
    "crispr_knockin": "mfg_eff_crispr_knockin",
    "clonal_line": "mfg_eff_clonal_line",
}
SURVIVAL = {
    "retroviral": "mfg_transfer_survival_viral",
    "lentiviral_vsvg": "mfg_transfer_survival_viral",
    "lentiviral_baev": "mfg_transfer_survival_viral",
    "mrna_electroporation": "mfg_transfer_survival_electroporation",
    "transposon": "mfg_transfer_survival_electroporation",
    "crispr_knockin": "mfg_transfer_survival_electroporation",
}


@dataclass(frozen=True)
class Transfer:
    day: float  # culture day of the transfer
    efficiency: float  # CAR+ fraction right after transfer
    survival: float  # fraction of cells surviving the step
    half_life_d: float  # CAR expression half-life (inf for stable integration)


def transfer_day(gt: GeneTransferSpec, culture_days: float, p: Params) -> float:
    """Culture day of the transfer: as given, else at harvest for mRNA, else the registry default (capped)."""
    if gt.day is not None:
        return gt.day
    if gt.method == "mrna_electroporation":
        return culture_days
    return min(p["mfg_viral_transfer_day"], culture_days)


def draw_transfer(gt: GeneTransferSpec, culture_days: float, p: Params, rng: np.random.Generator) -> Transfer:
    """A lot's transfer outcome (two uniform draws are always consumed)."""
    if gt.method == "none":
        rng.random(2)
        return Transfer(0.0, 0.0, 1.0, float("inf"))
    key = EFFICIENCY[gt.method]
    mean = p[key] if gt.efficiency is None else gt.efficiency
    eff = beta_mean_sd(rng, mean, p.range_sd(key))
    if gt.method == "clonal_line":  # engineered master line: no transfer step during manufacture
        rng.random()
        return Transfer(0.0, eff, 1.0, float("inf"))
    surv = beta_mean_sd(rng, p[SURVIVAL[gt.method]], p.range_sd(SURVIVAL[gt.method]) / 2.0)
    half = p["mfg_mrna_car_half_life_d"] if gt.method == "mrna_electroporation" else float("inf")
    return Transfer(transfer_day(gt, culture_days, p), eff, surv, half)


def car_fraction_at_release(tr: Transfer, culture_days: float) -> float:
    """CAR+ fraction at harvest: the transferred fraction, decayed for transient (mRNA) expression until harvest."""
    if np.isinf(tr.half_life_d):
        return tr.efficiency
    return float(tr.efficiency * 2.0 ** (-(culture_days - tr.day) / tr.half_life_d))
