"""Cryopreservation and thaw: post-thaw viable recovery and cytotoxicity relative to fresh (potency)."""

from __future__ import annotations

import numpy as np

from nksim.manufacturing.draws import beta_mean_sd
from nksim.manufacturing.params import Params
from nksim.spec.manufacturing import CryoSpec


def draw_thaw(cryo: CryoSpec, p: Params, rng: np.random.Generator) -> tuple[float, float]:
    """(post-thaw viable recovery, potency) of a lot; fresh product: (1, 1). Two uniforms always consumed."""
    if not cryo.frozen:
        rng.random(2)
        return 1.0, 1.0
    if cryo.il15_il18_pretreatment:
        v_key, pot_key = "mfg_post_thaw_viability_il15_il18", "mfg_post_thaw_potency_il15_il18"
        v = beta_mean_sd(rng, p[v_key], p.range_sd(v_key))
    else:
        v_key, pot_key = "mfg_post_thaw_viability", "mfg_post_thaw_potency"
        v = beta_mean_sd(rng, p[v_key], p["mfg_lot_fraction_sd"])
    pot = beta_mean_sd(rng, p[pot_key], p.range_sd(pot_key))
    return v, pot
