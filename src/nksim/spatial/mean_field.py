"""Well-mixed mean-field ODEs of the ABM's killing rules (for validation against the ABM).

* :func:`state_machine_ode` is the exact mean field of the NK state machine in a well-mixed assay: competent NK in
  search S, conjugated C, detach R, exhausted X; targets T (free targets T - C); same rates as the ABM.
* :func:`kill_law_ode` is MODEL.md process 6-7 (kills = K r T / (K_r K + T); K -> X at kills / kappa; X -> K at
  k_rec S_cell) with r and K_r derived from the same rates by quasi-steady state of the state machine:
  r = r_hit / (1 + r_hit / k_release), K_r K = V (r_hit + k_detach) / (k_conj (1 + r_hit / k_release)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from nksim.spatial.kernels import il15_signal
from nksim.spatial.params import (
    I_DELTA0, I_EC50_15, I_HYPK, I_HYPSUPP, I_IC50NAT, I_KAPPA, I_KCONJ, I_KDET, I_KREC, I_KREL, I_RNAT, I_SMAX,
    I_SMEM, I_TGFMULT, F_IL15, F_O2, F_TGF,
)


@dataclass(frozen=True)
class AssayRates:
    """Per-minute rates of a well-mixed assay (natural cytotoxicity only, uniform fields)."""

    k_conj: float
    r_hit: float
    k_detach: float
    k_release: float
    kappa: float
    k_rec_sig: float
    death: float
    volume: float  # voxels
    f_comp: float

    @classmethod
    def from_simulation(cls, sim) -> "AssayRates":
        p = sim.p
        F = sim.arrays["F"]
        tgf = float(F[F_TGF].mean()) * p[I_TGFMULT]
        o2 = float(F[F_O2].mean()) / p[I_HYPK]
        deg = 1.0 / (1.0 + o2 ** 4)
        r_hit = p[I_RNAT] * (1 - p[I_HYPSUPP] * deg) / (1 + tgf / p[I_IC50NAT])
        sig = il15_signal(float(F[F_IL15].mean()), p[I_EC50_15], p[I_SMEM])
        return cls(p[I_KCONJ], r_hit, p[I_KDET], p[I_KREL], p[I_KAPPA], p[I_KREC] * sig,
                   p[I_DELTA0] * (1 - p[I_SMAX] * sig), float(sim.nvox), float(sim.values["f_comp"]))


def state_machine_ode(rates: AssayRates, nk0: float, t0_targets: float, t_min: np.ndarray) -> dict[str, np.ndarray]:
    """Integrate the mean field (LSODA, tight tolerance); returns viable targets, cumulative kills, exhausted NK."""
    a = rates
    q = 1.0 / a.kappa

    def rhs(_t, y):
        S, C, R, X, T, K = y
        phi = max(T - C, 0.0) / a.volume
        conj = a.k_conj * phi * S
        hit = a.r_hit * C
        return [-conj + a.k_detach * C + a.k_release * (1 - q) * R + a.k_rec_sig * X - a.death * S,
                conj - (a.r_hit + a.k_detach + a.death) * C,
                hit - (a.k_release + a.death) * R,
                a.k_release * q * R - (a.k_rec_sig + a.death) * X,
                -hit, hit]

    y0 = [a.f_comp * nk0, 0.0, 0.0, 0.0, t0_targets, 0.0]
    sol = solve_ivp(rhs, (0.0, float(t_min[-1])), y0, t_eval=t_min, method="LSODA", rtol=1e-8, atol=1e-8)
    return {"targets": sol.y[4], "kills": sol.y[5], "exhausted": sol.y[3], "active": sol.y[0] + sol.y[1] + sol.y[2]}


def derived_kill_law(rates: AssayRates, nk0: float) -> tuple[float, float]:
    """(r per min, K_r targets per competent NK) of MODEL.md's ratio-dependent law from the ABM rates."""
    a = rates
    r = a.r_hit / (1.0 + a.r_hit / a.k_release)
    k_phi = (a.r_hit + a.k_detach) / (a.k_conj * (1.0 + a.r_hit / a.k_release))
    return r, k_phi * a.volume / max(a.f_comp * nk0, 1e-12)


def kill_law_ode(rates: AssayRates, nk0: float, t0_targets: float, t_min: np.ndarray) -> dict[str, np.ndarray]:
    """MODEL.md kill law (process 6-7) with parameters derived from the ABM rates."""
    a = rates
    r, k_r = derived_kill_law(rates, nk0)

    def rhs(_t, y):
        K, X, T, kills = y
        rate = K * r * T / (k_r * K + T) if (K > 0 and T > 0) else 0.0
        return [-rate / a.kappa + a.k_rec_sig * X - a.death * K, rate / a.kappa - (a.k_rec_sig + a.death) * X,
                -rate, rate]

    sol = solve_ivp(rhs, (0.0, float(t_min[-1])), [a.f_comp * nk0, 0.0, t0_targets, 0.0], t_eval=t_min,
                    method="LSODA", rtol=1e-8, atol=1e-8)
    return {"targets": sol.y[2], "kills": sol.y[3], "exhausted": sol.y[1]}
