"""Kernel-tracked summaries (nksim.kinetics.integrate.trackers) against the dense output on a fine grid, and their
independence of batching and threads."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from nksim.clinical._grid import run_start_time
from nksim.kinetics import solver
from nksim.kinetics import tracking as TR
from nksim.kinetics.inputs import build_inputs
from nksim.kinetics.integrate import trackers as T
from nksim.kinetics.trajectories import readout_arrays
from nksim.population.sampling import sample_patients

Q = TR.Q
WBC_LEVEL, C_LEVEL, NK_LEVEL, DH_LEVEL = 4000.0, 4.0, 1.0, 0.006
SPECS = [  # (kind, quantity, level, duration, t_from, t_fire)
    (T.RUN_GE, Q["death_hazard"], DH_LEVEL, 0, -np.inf, -np.inf),
    (T.RUN_GE, Q["tumor_viable_total"], 1e15, 0, -np.inf, -np.inf),
    (T.MAX, Q["nk_blood_per_ul"], 0, 0, 0, 0),
    (T.MIN, Q["wbc_per_ul"], 0, 0, -np.inf, 0),
    (T.BELOW, Q["wbc_per_ul"], WBC_LEVEL, 0, -np.inf, 0),
    (T.MAX, Q["cytokine_pg_ml"], 0, 0, 0, 0),
    (T.RUN_LE, Q["wbc_per_ul"], WBC_LEVEL, 3.0, 0, -np.inf),
    (T.LAST_GE, Q["nk_blood_per_ul"], NK_LEVEL, 0, 0, 0),
    (T.RUN_GE, Q["cytokine_pg_ml"], C_LEVEL, 0, 0, -np.inf),
    (T.LEVELS, Q["nk_blood_per_ul"], 0, 3, 0, 0),
    (T.NONE, Q["nk_blood_per_ul"], 0.5, 0, 0, 0),
    (T.NONE, Q["nk_blood_per_ul"], 5.0, 0, 0, 0),
    (T.NONE, Q["nk_blood_per_ul"], 1e30, 0, 0, 0),
]


@pytest.fixture(scope="module")
def case():
    sc = small("hcc-gpc3-car-nk-il15", n=8, horizon=100.0)
    inp = build_inputs(sc, sample_patients(sc, np.arange(8)))
    return inp


def _track(inp, rows=slice(None)):
    n = inp.y0[rows].shape[0]
    spec = np.ascontiguousarray(np.broadcast_to(np.array(SPECS, float), (n, len(SPECS), T.SPEC)))
    return solver.TrackArrays(TR.coefficients(inp.params[rows], inp.n_lesions, inp.n_classes), spec,
                              np.full(n, np.inf), 2, T.initial_outputs(spec[..., 0]))


def _solve(inp, t_save, rows=slice(None), track=None):
    return solver.solve_batch(inp.y0[rows], inp.params[rows], inp.n_lesions, inp.n_classes, inp.ev_t[rows],
                              inp.ev_k[rows], inp.ev_a[rows], inp.ev_b[rows], inp.t0, inp.t_end, t_save, 1e-6,
                              inp.atol, 500_000, track=track)


def test_trackers_equal_the_dense_output_on_a_fine_grid(case):
    inp = case
    tr = _track(inp)
    _solve(inp, np.array([inp.t0, inp.t_end]), track=tr)
    out = tr.out
    dt = 0.005
    t = np.arange(inp.t0, inp.t_end + 1e-9, dt)
    ys, als, stats = _solve(inp, t)
    assert (stats[:, 0] == 0).all()
    ra = readout_arrays(ys, als, inp.params, inp.n_lesions, inp.n_classes)
    nk, wbc, c, dh = ra["nk_blood_per_ul"], ra["wbc_per_ul"], ra["cytokine_pg_ml"], ra["death_hazard"]

    def first(mask):  # the first fine-grid time where mask holds (+inf if none)
        return np.where(mask.any(1), t[np.argmax(mask, 1)], np.inf)

    death = first(dh >= DH_LEVEL)
    assert np.isfinite(death).any() and not np.isfinite(death).all()  # the window ends at death for some
    np.testing.assert_allclose(out[:, 0, 0], death, atol=dt + 1e-9)
    assert np.isinf(out[:, 1, 0]).all()
    alive = t[None, :] < death[:, None]
    post = alive & (t[None, :] >= 0)
    nk_max = np.where(post, nk, -np.inf).max(1)  # maxima and minima: those of the continuous solution
    np.testing.assert_allclose(out[:, 2, 0], nk_max, rtol=1e-3)
    assert np.all(out[:, 2, 0] >= nk_max * (1 - 1e-4))
    np.testing.assert_allclose(out[:, 2, 1], t[np.argmax(np.where(post, nk, -np.inf), 1)], atol=0.05)
    np.testing.assert_allclose(out[:, 3, 0], np.where(alive, wbc, np.inf).min(1), rtol=1e-6)
    below = ((wbc < WBC_LEVEL) & alive)[:, :-1].sum(1) * dt  # a duration: an integral of the indicator
    np.testing.assert_allclose(out[:, 4, 0], below, atol=3 * dt)
    c_max = np.where(post, c, -np.inf).max(1)  # the algebraic output: at the steps' ends
    # a step's end can fall nearer the peak than any grid point: the grid's max is low by O(dt^2) there (~1e-5)
    assert np.all(out[:, 5, 0] <= c_max * (1 + 1e-4)) and np.all(out[:, 5, 0] >= 0.95 * c_max)
    low = (wbc <= WBC_LEVEL) & (t[None, :] >= 0)  # a run of >= 3 days below a level
    run = low & (t[None, :] - run_start_time(t, low) >= 3.0 - 1e-9)
    np.testing.assert_allclose(out[:, 6, 0], first(run), atol=dt + 1e-9)
    det = post & (nk >= NK_LEVEL)
    last = np.where(det.any(1), t[t.size - 1 - np.argmax(det[:, ::-1], 1)], -np.inf)
    np.testing.assert_allclose(out[:, 7, 0], last, atol=dt + 1e-9)
    np.testing.assert_allclose(out[:, 7, 1], np.where(det.any(1), t[np.argmax(det, 1)], np.nan), atol=dt + 1e-9)
    crossing = first((t[None, :] >= 0) & (c >= C_LEVEL))  # run trackers are not frozen at death
    assert np.isfinite(crossing).any()
    # the algebraic output is linear between the steps' ends: its crossings are within a fraction of a step
    np.testing.assert_allclose(out[:, 8, 0], crossing, atol=0.05)
    for k, lev in ((10, 0.5), (11, 5.0), (12, 1e30)):  # LEVELS: first crossings of increasing levels
        np.testing.assert_allclose(out[:, k, 0], first((t[None, :] >= 0) & (nk >= lev)), atol=dt + 1e-9)
    assert np.isfinite(out[:, 10, 0]).all() and np.isinf(out[:, 12, 0]).all()


def test_trackers_do_not_depend_on_batches_threads_or_saved_days(case):
    inp = case
    whole = _track(inp)
    solver.set_workers(2)
    try:
        _solve(inp, np.array([inp.t0, inp.t_end]), track=whole)
        solver.set_workers(1)
        parts = [_track(inp, slice(0, 3)), _track(inp, slice(3, 8))]
        _solve(inp, inp.t_save, slice(0, 3), parts[0])
        _solve(inp, np.array([inp.t0, 7.5, inp.t_end]), slice(3, 8), parts[1])
    finally:
        solver.set_workers(2)
    np.testing.assert_array_equal(whole.out, np.concatenate([p.out for p in parts]))


def test_the_lanes_rows_equal_the_one_lane_rows(case, monkeypatch):
    """The trackers update the W lanes together and leave a lane to the one-lane row only where it needs a crossing
    or an extremum search: every output must be what the one-lane row gives for every lane and step, to the bit."""
    from functools import partial

    from nksim.kinetics.codegen import llvm
    from nksim.kinetics.integrate import scheduler

    inp = case
    t_save = np.array([inp.t0, inp.t_end])
    lanes = _track(inp)
    _solve(inp, t_save, track=lanes)
    monkeypatch.setattr(llvm, "_CACHE", {})  # a module of its own, whose trackers run every row one lane at a time
    monkeypatch.setattr(scheduler, "emit_tracker", partial(T.emit_tracker, one_lane=True))
    one = _track(inp)
    _solve(inp, t_save, track=one)
    np.testing.assert_array_equal(lanes.out.view(np.int64), one.out.view(np.int64))
    finite = np.isfinite(one.out[..., 0])
    assert finite[:, [0, 2, 3, 4, 5, 6, 7, 8, 10, 11]].any(axis=0).all()  # every kind found something


def test_bad_tracker_arrays_are_refused(case):
    tr = _track(case)
    tr.coef = tr.coef[:, :-1].copy()
    with pytest.raises(ValueError, match="track"):
        _solve(case, np.array([case.t0, case.t_end]), track=tr)
    tr = _track(case)  # the lanes update their patients' rows together: the same kinds and quantities in all
    tr.spec[1, 2, 0] = T.MIN
    with pytest.raises(ValueError, match="same kinds, quantities"):
        _solve(case, np.array([case.t0, case.t_end]), track=tr)
    tr = _track(case)
    tr.spec[:, 3, 1] = TR.tracked(case.n_lesions, case.n_classes).nq  # no such quantity
    with pytest.raises(ValueError, match="quantities in 0 .. "):
        _solve(case, np.array([case.t0, case.t_end]), track=tr)
    from nksim.kinetics.integrate.scheduler import MAX_TRACKERS

    tr = _track(case)  # the lanes' copies of the rows live on the thread's stack: a bound on their number
    tr.spec = np.zeros((tr.spec.shape[0], MAX_TRACKERS + 1, T.SPEC))
    tr.out = T.initial_outputs(tr.spec[..., 0])
    with pytest.raises(ValueError, match=f"at most {MAX_TRACKERS} trackers"):
        _solve(case, np.array([case.t0, case.t_end]), track=tr)


def _compiled_bound_gap():
    """The trackers' own IR for ``gap(s, q0, q1, d0, d1, x) = _upper(s, ...) - s p(x)``, compiled."""
    import ctypes

    from llvmlite import binding as llvm
    from llvmlite import ir

    from nksim.kinetics.codegen.llvm import _target_machine

    dbl = ir.DoubleType()
    mod = ir.Module(name="bound_test")
    fn = ir.Function(mod, ir.FunctionType(dbl, [dbl] * 6), name="gap")
    s, q0, q1, d0, d1, x = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.fsub(T._upper(b, s, q0, q1, d0, d1), b.fmul(s, T._poly(b, x, q0, q1, d0, d1)[0])))
    _target_machine()
    tm = llvm.Target.from_default_triple().create_target_machine()
    lmod = llvm.parse_assembly(str(mod))
    lmod.triple, lmod.data_layout = tm.triple, str(tm.target_data)
    engine = llvm.create_mcjit_compiler(lmod, tm)
    engine.finalize_object()
    cfn = ctypes.CFUNCTYPE(ctypes.c_double, *[ctypes.c_double] * 6)(engine.get_function_address("gap"))
    return lambda *a: (engine, cfn(*map(float, a)))[1]


def test_the_step_bound_holds_for_every_rounded_value():
    """The trackers skip a step's bisections where ``_upper`` says no value of the step can beat the best so far;
    that changes no output only if the bound holds for p as the kernel rounds it, also where the step's values are
    near-equal and the derivatives tiny (rounding, not the Hermite basis, decides there)."""
    gap = _compiled_bound_gap()
    rng = np.random.default_rng(3)
    xs = np.concatenate([[0.0, 1.0, 1 / 3, 2 / 3, 0.5], rng.random(40)])
    worst = np.inf
    for _ in range(400):
        scale = 10.0 ** rng.uniform(-200, 200)
        q0 = scale * rng.uniform(-1, 1)
        q1 = q0 * (1 + rng.choice([0.0, 1e-16, -1e-16, 1e-9, rng.uniform(-1, 1)]))
        dscale = abs(q0) * 10.0 ** rng.choice([-30, -17, -15, -8, -2, 0, 1])
        d0, d1 = dscale * rng.uniform(-1, 1, 2)
        for s in (1.0, -1.0):
            for x in xs:
                g = gap(s, q0, q1, d0, d1, x)
                assert g >= 0, (s, q0, q1, d0, d1, x, g)
                worst = min(worst, g / (abs(q0) + abs(q1) + abs(d0) + abs(d1)))
    assert worst < 1e-11  # and it is tight: the margin, not more, where p reaches the bound's value
    assert gap(1.0, 1.0, 1.0, 0.0, 0.0, 0.5) == pytest.approx(2e-12, rel=1e-3)
