"""In vitro-like validation: serial-killing statistics (Bhat & Watzl 2007; Vanherberghen 2013) and agreement of
the ABM with the mean-field ODE and MODEL.md's kill law on the same parameters."""

import numpy as np

from nksim.spatial import Simulation
from nksim.spatial.mean_field import AssayRates, kill_law_ode, state_machine_ode
from nksim.spec.spatial import load_spatial_spec


def _runs(n=10):
    spec = load_spatial_spec("in-vitro-serial-killing")
    sims = [Simulation.create(spec, seed=s).run() for s in range(n)]
    return spec, sims


def test_kill_count_distribution_matches_serial_killing_data():
    _, sims = _runs()
    hist = sum(s.kill_distribution() for s in sims)
    kills = np.repeat(np.arange(hist.size), hist)
    frac_zero = (kills == 0).mean()
    killers = kills[kills > 0]
    top20 = np.sort(kills)[::-1][: int(0.2 * kills.size)].sum() / kills.sum()
    assert 0.4 <= frac_zero <= 0.65          # about half of NK kill none (Vanherberghen 2013)
    assert 3.0 <= killers.mean() <= 5.0      # killers average about 4 kills (Bhat & Watzl 2007)
    assert top20 > 0.5                       # a minority does most of the kills
    assert kills.max() >= 8                  # serial killers exist


def test_abm_matches_mean_field_and_kill_law():
    _, sims = _runs()
    t_min = np.array(sims[0].dataset().time.values) * 1440.0
    kills = np.array([s.dataset().kills_nat.values for s in sims])
    t0 = np.mean([s.records[0][1] + s.records[0][2] for s in sims])
    rates = AssayRates.from_simulation(Simulation.create(sims[0].spec, seed=0))
    mf = state_machine_ode(rates, sims[0].spec.nk.initial_nk, t0, t_min)
    law = kill_law_ode(rates, sims[0].spec.nk.initial_nk, t0, t_min)
    mean = kills.mean(axis=0)
    se = kills.std(axis=0, ddof=1) / np.sqrt(len(sims))
    for j in (2, 4, 8, len(t_min) - 1):
        assert abs(mean[j] - mf["kills"][j]) <= 3 * se[j] + 0.05 * mean[j], (j, mean[j], mf["kills"][j])
        assert abs(mean[j] - law["kills"][j]) <= 3 * se[j] + 0.10 * mean[j], (j, mean[j], law["kills"][j])
