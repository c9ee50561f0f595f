"""Pinned draws of the counter-based generators (nksim.rng, the trial outcomes, the ABM): a refactor of the
SplitMix64 code must reproduce them bit for bit."""

import numpy as np

from nksim.rng import keyed_normals, keyed_uniforms, mix64
from nksim.spatial import rng as abm_rng
from nksim.trial import outcomes as trial_outcomes


def _hex(a) -> list[str]:
    return [float(v).hex() for v in np.asarray(a, dtype=float).ravel()]


IDS = np.array([0, 1, 7, 123456789, 2**40 + 3], dtype=np.int64)
TRIALS = np.array([0, 0, 3, 999, 2**31], dtype=np.int64)
PATIENTS = np.array([0, 5, 2, 17, 1], dtype=np.int64)
ABM_KEYS = [(0, 0, 0, 0), (7, 123, 4, 1002), (2**62, 2**40, 99, 3001)]


def test_cohort_generator_draws_are_pinned():
    assert [int(v) for v in mix64(np.array([0, 1, 2**64 - 1], dtype=np.uint64))] == [
        0, 6238072747940578789, 13029008266876403067]
    assert _hex(keyed_uniforms(11, "population", IDS, 5, 2**63 + 1)) == [
        "0x1.8462be1d39b3fp-2", "0x1.cc35f9fe37b4ap-1", "0x1.d66063f2b31d3p-2", "0x1.444a5dc368bd8p-1",
        "0x1.1a34248a7f2d4p-1"]
    assert _hex(keyed_normals(3, "clinical", IDS)) == [
        "0x1.f689f2e836757p-1", "-0x1.24160b4734b89p+0", "-0x1.d326696b1d567p-1", "-0x1.6ba8f95e2219bp-3",
        "-0x1.35c0c4ff4610ep-6"]


def test_trial_outcome_draws_are_pinned():
    expected = {
        0: ["0x1.402de6815d1a4p-3", "0x1.747e86a6ab7ccp-1", "0x1.da42de4d9be01p-1", "0x1.dc22611823bd6p-2",
            "0x1.5db084efca7ebp-1"],
        1: ["0x1.9013fc007039fp-1", "0x1.86997c500df09p-1", "0x1.399e2198cb4f3p-1", "0x1.ae3b31d559671p-1",
            "0x1.054f1f779f8d1p-1"],
        2: ["0x1.0fb21dbabe3a6p-1", "0x1.9632421d58b7dp-1", "0x1.9a74018c29edfp-1", "0x1.b72ce802a4b78p-2",
            "0x1.5e7d8d3df2db4p-3"],
        3: ["0x1.dd511d71f2cc0p-3", "0x1.ff0b5cf2cccccp-3", "0x1.aa74c42364072p-1", "0x1.7d6361647a84ep-1",
            "0x1.b67b915f29d90p-5"],
    }
    for channel, values in expected.items():
        assert _hex(trial_outcomes.keyed_uniforms(2**40 + 9, TRIALS, PATIENTS, channel)) == values, channel
    assert _hex(trial_outcomes.arrival_gaps(5, TRIALS, PATIENTS, 3.5)) == [
        "0x1.0d9a20c1caeb1p+0", "0x1.95c8b304de3b5p+1", "0x1.7e97327ce34b4p+0", "0x1.6d7d2dbe38612p+3",
        "0x1.fc4ec974a7cf4p+2"]
    m = trial_outcomes.FixedProbabilityModel([0.05, 0.2, 0.4, 0.6], [0.1, 0.3, 0.5, 0.6], seed=9)
    t = np.repeat(np.arange(4), 6)
    j = np.tile(np.arange(6), 4)
    o = m.outcomes(t, j, (j % 4) + 1)
    assert o.dlt.tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert o.response.tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1]
    assert _hex(o.dlt_day[~np.isnan(o.dlt_day)]) == [
        "0x1.353838ba30b67p+3", "0x1.64ec0c59a7feap+4", "0x1.de3643ab0cbe4p-1", "0x1.558c3f20d49f9p+3",
        "0x1.0494a053d1b67p+3"]


def test_abm_draws_are_pinned():
    assert [int(abm_rng.hash4(*k)) for k in ABM_KEYS] == [
        16457984077059505991, 10078001043978733013, 14599372301155454260]
    assert [float(abm_rng.uniform(*k)).hex() for k in ABM_KEYS] == [
        "0x1.c8cd02a3d0557p-1", "0x1.17b8811ba0bc8p-1", "0x1.9536c783a4189p-1"]
    assert _hex(abm_rng.uniforms(42, IDS, 8, 2000)) == [
        "0x1.835b0c0485d81p-1", "0x1.e67c26197f849p-1", "0x1.baea0b08409c2p-1", "0x1.a7ea01661027fp-1",
        "0x1.83ca26be5b95cp-2"]


def test_a_small_abm_run_is_pinned():
    """The compiled kernels (which inline the generator) give the same events as before."""
    from nksim.spatial import Simulation
    from nksim.spec.spatial import load_spatial_spec

    spec = load_spatial_spec("hcc-gpc3-car").with_updates(**{
        "tissue.size": (32, 32), "nk.initial_nk": 40, "nk.blood_nk_per_ul": (60.0,), "nk.blood_times_d": (0.0,),
        "time.snapshots": 2})
    sim = Simulation.create(spec, seed=5, days=0.125).run()
    assert sim.arrays["counters"].tolist() == [2, 22, 0, 23, 1, 1, 1, 29, 5, 0, 41, 11, 7072, 3, 0, 1113]


def test_the_compiled_and_vectorised_splitmix64_agree():
    """One implementation (nksim.rng) serves numpy arrays and, compiled by numba, the ABM's scalars."""
    from numba import njit

    from nksim.rng import splitmix64, unit53

    x = np.array([0, 1, 2**63, 2**64 - 1, 0x243F6A8885A308D3, 12345678901234567890], dtype=np.uint64)

    @njit
    def compiled(v):
        out = np.empty(v.size, np.uint64)
        f = np.empty(v.size)
        for i in range(v.size):
            out[i] = abm_rng._mix(v[i])
            f[i] = abm_rng._unit(v[i])
        return out, f

    h, f = compiled(x)
    assert np.array_equal(h, mix64(x)) and np.array_equal(f, unit53(x))
    assert np.array_equal(splitmix64(x), mix64(x + np.uint64(0x9E3779B97F4A7C15)))
    assert unit53(x).max() < 1.0 and unit53(np.uint64(2**64 - 1)) == 1.0 - 2.0**-53
