"""Transit chains solved exactly inside the steps (nksim.kinetics.integrate.chains): the declaration matches the
model's equations, the closed-form exponential is exp(tau L), and the Lawson steps agree with the scipy reference
while taking fewer steps than the plain tableau."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import binding as llvm
from llvmlite import ir
from scipy.linalg import expm

import nksim
from nksim.kinetics import processes, solver
from nksim.kinetics.codegen.irmath import VecMath
from nksim.kinetics.codegen.llvm import _target_machine
from nksim.kinetics.codegen.python import numba_functions
from nksim.kinetics.inputs import build_inputs
from nksim.kinetics.integrate.chains import MAX_KH, ChainStep
from nksim.kinetics.lanes import W
from nksim.kinetics.processes import host
from nksim.kinetics.processes.base import TransitChain
from nksim.kinetics.reference import solve_reference_batch
from nksim.population.sampling import sample_patients


def _transit_matrix(k: float, m: int) -> np.ndarray:
    L = np.zeros((m, m))
    for i in range(1, m):
        L[i, i - 1], L[i, i] = k, -k
    return L


def test_the_declared_chain_is_the_models_transit_coupling():
    """At random states, d f_i / d x_(i-1) = k and d f_i / d x_i = -k on every chain row after the source (central
    differences of the generated right-hand side), and nothing else of the model depends on those pairs."""
    lay = processes.layout()
    assert lay.CHAINS, "the leukocyte chain is declared"
    rng = np.random.default_rng(3)
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    inp = build_inputs(sc, sample_patients(sc, np.arange(2)))
    rhs, _ = numba_functions(inp.n_lesions, inp.n_classes)
    n = inp.y0.shape[1]
    seg = np.zeros(lay.NSEG)
    alg = np.zeros(lay.NALG)
    for rows, rate in lay.CHAINS:
        for trial in range(3):
            p = inp.params[trial % 2].copy()
            y = inp.y0[trial % 2] * rng.uniform(0.5, 1.5, n)
            k = p[rate]
            for i in range(1, len(rows)):
                for col, want in ((rows[i - 1], k), (rows[i], -k)):
                    eps = 1e-3 * max(1.0, abs(y[col]))
                    up, dn, fu, fd = y.copy(), y.copy(), np.zeros(n), np.zeros(n)
                    up[col] += eps
                    dn[col] -= eps
                    rhs(10.0, up, p, seg, fu, alg)
                    rhs(10.0, dn, p, seg, fd, alg)
                    d = (fu[rows[i]] - fd[rows[i]]) / (2 * eps)
                    assert d == pytest.approx(want, rel=1e-6), (rows[i], col, d, want)


def test_a_chain_must_be_of_systemic_states_and_a_scalar_rate(monkeypatch):
    monkeypatch.setattr(host, "CHAINS", [TransitChain(("WBC", "T"), "k_wbc")])
    processes.layout.cache_clear()
    try:
        with pytest.raises(ValueError, match="transit chain of host.*not systemic: \\['T'\\]"):
            processes.layout()
        monkeypatch.setattr(host, "CHAINS", [TransitChain(("WBC_prol", "WBC"), "no_such_rate")])
        processes.layout.cache_clear()
        with pytest.raises(ValueError, match="rate 'no_such_rate'"):
            processes.layout()
    finally:
        monkeypatch.undo()
        processes.layout.cache_clear()
    assert processes.layout().CHAINS


def _compiled_apply(m: int, tau: float):
    """ChainStep.apply(tau) for a chain of m states over W lanes, compiled: f(k, h, u (m, W), out (m, W))."""
    dbl = ir.DoubleType()
    vt = ir.VectorType(dbl, W)
    ptr = dbl.as_pointer()
    mod = ir.Module(name="chain_test")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [ptr] * 4), name="apply")
    kp, hp, up, op = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def row(base, i):
        return b.gep(b.bitcast(base, vt.as_pointer()), [ir.Constant(ir.IntType(64), i)])

    k, h = b.load(row(kp, 0), align=8), b.load(row(hp, 0), align=8)
    u = [b.load(row(up, i), align=8) for i in range(m)]
    ch = ChainStep(VecMath(b, W), tuple(range(m)), k, h, u, u)
    for i, v in enumerate(ch.apply(tau, u)):
        b.store(v, row(op, i), align=8)
    b.ret_void()
    _target_machine()  # initialises LLVM's native target
    tm = llvm.Target.from_default_triple().create_target_machine()  # the engine owns (and frees) it
    lmod = llvm.parse_assembly(str(mod))
    lmod.triple = tm.triple
    lmod.data_layout = str(tm.target_data)
    lmod.verify()
    engine = llvm.create_mcjit_compiler(lmod, tm)
    engine.finalize_object()
    cfn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4)(engine.get_function_address("apply"))

    def f(kv, hv, uv):
        out = np.zeros((m, W))
        cfn(kv.ctypes.data, hv.ctypes.data, uv.ctypes.data, out.ctypes.data)
        _keep = engine
        return out

    return f


@pytest.mark.parametrize(("m", "tau"), [(2, 0.839), (5, 0.839), (5, -0.98)])
def test_the_closed_form_is_the_matrix_exponential(m, tau):
    """E(tau h) u from the emitted closed form equals scipy's expm(tau h L) u, from k h ~ 1e-9 up to the step
    bound MAX_KH, the source held (its diagonal is 0); backwards too (Lawson's transformed variable)."""
    f = _compiled_apply(m, tau)
    rng = np.random.default_rng(0)
    for kh in (1e-9, 1e-3, 0.5, 3.0, MAX_KH / abs(tau)):
        k = rng.uniform(0.2, 2.0, W)
        h = kh / k
        u = rng.uniform(100.0, 9000.0, (m, W))
        got = f(k, h, u)
        for w in range(W):
            ex = expm(tau * h[w] * _transit_matrix(k[w], m))
            np.testing.assert_allclose(got[:, w], ex @ u[:, w], rtol=1e-13,
                                       atol=1e-13 * np.abs(u).max() * np.abs(ex).max())


def _steps_and_error(sc, n: int, n_ref: int) -> dict:
    inp = build_inputs(sc, sample_patients(sc, np.arange(n)))
    args = (inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0,
            inp.t_end, inp.t_save, sc.simulation.rtol, inp.atol, 500_000)
    r = slice(0, n_ref)
    ref, _, _ = solve_reference_batch(inp.y0[r], inp.params[r], inp.n_lesions, inp.n_classes, inp.ev_t[r],
                                      inp.ev_k[r], inp.ev_a[r], inp.ev_b[r], inp.t0, inp.t_end, inp.t_save, 1e-10,
                                      inp.atol * 1e-4, method="DOP853")
    out = {}
    for exact in (False, True):
        ys, _, st = solver.solve_batch(*args, exact_chains=exact)
        assert (st[:, 0] == 0).all()
        rows = [i for rows_, _ in processes.layout().CHAINS for i in rows_]
        err = np.abs(ys[r][..., rows] - ref[..., rows]) / (1.0 + 1e-4 * np.abs(ref[..., rows]))
        out[exact] = (int(st[:, 1:].sum()), float(err.max()))
    return out


def test_exact_chains_cut_the_leukocyte_steps_at_the_same_accuracy():
    """hcc-post-lt-allo-nk over a year: step attempts at least 25% fewer than the plain Tsitouras pair (whose
    steps the leukocyte feedback limits), the chain's daily values as close to a tight scipy solution (within 1e-4
    relative + 1 cell/uL at rtol 1e-6, both ways)."""
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    res = _steps_and_error(sc, 16, 3)
    (plain, err_plain), (exact, err_exact) = res[False], res[True]
    assert exact <= 0.75 * plain, (exact, plain)
    assert err_exact < 1.0 and err_plain < 1.0, (err_exact, err_plain)


def test_with_exact_chains_the_feedback_costs_few_steps():
    """The feedback (wbc_gamma) nearly doubled the steps of the plain pair (182 against 108 per patient-year); with
    the chain exact it costs at most 15% more than without feedback."""
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    inp = build_inputs(sc, sample_patients(sc, np.arange(16)))
    counts = []
    for gamma in (None, 0.0):
        p = inp.params.copy()
        if gamma is not None:
            p[:, processes.layout().PARAM_INDEX["wbc_gamma"]] = gamma
        _, _, st = solver.solve_batch(inp.y0, p, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a,
                                      inp.ev_b, inp.t0, inp.t_end, inp.t_save[:2], sc.simulation.rtol, inp.atol,
                                      500_000)
        counts.append(int(st[:, 1:].sum()))
    assert counts[0] <= 1.15 * counts[1], counts


def test_lawson_steps_stay_stable_at_the_strongest_feedback():
    """The Lawson pair is stable on the chain's closed loop only up to a k h that falls with the feedback gain
    (10.5 at wbc_gamma 0.17, 8.5 at 0.25, 6.5 at 0.5: its late steps would otherwise grow an oscillation by 1.5x a
    step, unseen by the error estimate for months); at the registry's strongest feedback and fastest transit, over a
    year, the chain's daily values stay with the scipy reference."""
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    inp = build_inputs(sc, sample_patients(sc, np.arange(4)))
    idx = processes.layout().PARAM_INDEX
    p = inp.params.copy()
    p[:, idx["wbc_gamma"]], p[:, idx["k_wbc"]] = 0.25, 1.5
    args = (inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0, inp.t_end, inp.t_save)
    ys, _, st = solver.solve_batch(inp.y0, p, inp.n_lesions, inp.n_classes, *args, sc.simulation.rtol, inp.atol,
                                   500_000)
    assert (st[:, 0] == 0).all()
    ref, _, _ = solve_reference_batch(inp.y0, p, inp.n_lesions, inp.n_classes, *args, 1e-10, inp.atol * 1e-4,
                                      method="DOP853")
    rows = [i for rows_, _ in processes.layout().CHAINS for i in rows_]
    err = np.abs(ys[..., rows] - ref[..., rows]) / (1.0 + 1e-4 * np.abs(ref[..., rows]))
    assert err.max() < 1.0, err.max()


def test_dense_output_follows_the_chain_after_lymphodepletion():
    """Where the chain moves within steps (the weeks after lymphodepletion, hcc-gpc3-car-nk-il15), the dense output
    of its rows (Lawson's continuous extension in short steps) on a 0.05-day grid: the leukocytes as close to the
    scipy reference as with the plain pair's interpolant (the cubic Hermite interpolant alone was 3-4x further off),
    every chain row within 1e-4 relative."""
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    inp = build_inputs(sc, sample_patients(sc, np.arange(3)))
    ts = np.arange(inp.t0, 30.0, 0.05)
    args = (inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0,
            inp.t_end, ts)
    ref, _, _ = solve_reference_batch(*args, 1e-10, inp.atol * 1e-4, method="DOP853")
    rows = [i for rows_, _ in processes.layout().CHAINS for i in rows_]
    wbc = processes.layout().SYSTEMIC_INDEX["WBC"]
    err = {}
    for exact in (False, True):
        ys, _, _ = solver.solve_batch(*args, sc.simulation.rtol, inp.atol, 500_000, exact_chains=exact)
        err[exact] = float(np.abs(ys[..., wbc] - ref[..., wbc]).max())
        if exact:
            rel = np.abs(ys[..., rows] - ref[..., rows]) / np.abs(ref[..., rows])
            assert rel.max() < 1e-4, rel.max()
    assert err[True] <= 1.2 * err[False], err
