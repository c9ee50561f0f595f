"""The seeds' qualitative claims, each a paired comparison over 10 seeds: the test fails if the direction does not
hold (95% interval of the paired difference on the expected side of zero)."""

import pytest

from nksim.spatial.claims import CLAIMS, compare


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claim_direction_holds(name):
    r = compare(name, seeds=range(10))
    assert r["n_seeds"] >= 10
    if r["direction"] > 0:
        assert r["ci_low"] > 0, r
    else:
        assert r["ci_high"] < 0, r


def test_car_alone_leaves_antigen_negative_islands():
    """With natural cytotoxicity blocked, antigen-positive cells fall while antigen-negative ones persist."""
    from nksim.spatial import Simulation
    from nksim.spatial.claims import sim_index

    c = CLAIMS["natural_cytotoxicity_clears_antigen_negative"]
    spec = c.base().with_updates(**c.arm_a)
    for seed in range(3):
        sim = Simulation.create(spec, seed=seed, days=c.days).run()
        r0, r1 = sim.records[0], sim.records[-1]
        pos = r1[sim_index("tumor_antigen_pos")] / r0[sim_index("tumor_antigen_pos")]
        neg = r1[sim_index("tumor_antigen_neg")] / r0[sim_index("tumor_antigen_neg")]
        assert pos < 0.9 * neg
        assert r1[sim_index("kills_nat")] == 0
