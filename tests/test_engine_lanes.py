"""The four-lane operations and right-hand side against numpy and the scalar reference model."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import nksim
from nksim.kinetics import layout as L
from nksim.kinetics.inputs import build_inputs
from nksim.kinetics.lanes import W, add, any_gt, ld, pos, st, vexp, vlog, where_gt
from nksim.kinetics.codegen.llvm import rhs_lanes
from nksim.kinetics.rhs import rhs
from nksim.population.sampling import sample_patients


@njit
def _ops(A, out):
    a = ld(A, 0)
    b = ld(A, 1)
    st(out, 0, add(a, b))
    st(out, 1, pos(a))
    st(out, 2, where_gt(a, b, a, b))
    return any_gt(a, b)


def test_lane_operations_match_numpy():
    a = np.resize([1.0, -2.0, 3.0, np.nan], W)
    b = np.resize([2.0, -3.0, -1.0, 1.0], W)
    out = np.zeros((3, W))
    assert _ops(np.array([a, b]), out)
    np.testing.assert_array_equal(out[0], a + b)
    np.testing.assert_array_equal(out[1], np.resize([1.0, 0.0, 3.0, 0.0], W))  # NaN -> 0, as the scalar _pos
    np.testing.assert_array_equal(out[2], np.resize([2.0, -2.0, 3.0, 1.0], W))  # a NaN comparison is false
    assert not _ops(np.array([[0.0] * W, [1.0] * W]), out)


@njit
def _explog(X, E, G):
    for k in range(X.shape[0]):
        st(E, k, vexp(ld(X, k)))
        st(G, k, vlog(ld(X, k)))


def test_lane_exp_and_log_within_a_few_ulp_of_numpy():
    rng = np.random.default_rng(3)
    x = rng.uniform(-700.0, 700.0, (5000, W))
    x[:10] = rng.uniform(-1e-8, 1e-8, (10, W))
    e, g = np.empty_like(x), np.empty_like(x)
    _explog(x, e, g)
    assert np.max(np.abs(e - np.exp(x)) / np.spacing(np.exp(x))) <= 1.0
    pos_x = np.exp(rng.uniform(-700.0, 700.0, (5000, W)))
    _explog(pos_x, e, g)
    assert np.max(np.abs(g - np.log(pos_x)) / np.spacing(np.abs(np.log(pos_x)))) <= 2.0
    special = np.array([np.resize([0.0, -1.0, np.inf, np.nan], W), np.resize([5e-324, -np.inf, 1.0, 800.0], W)])
    e, g = np.empty_like(special), np.empty_like(special)
    _explog(special, e, g)
    np.testing.assert_array_equal(g[0, :4], [-np.inf, np.nan, np.inf, np.nan])
    assert g[1, 0] == pytest.approx(np.log(5e-324), rel=1e-15) and np.isnan(g[1, 1]) and g[1, 2] == 0.0
    np.testing.assert_allclose(e[:, :4], [[1.0, np.exp(-1.0), np.inf, np.nan], [1.0, 0.0, np.e, np.inf]], rtol=3e-16)


@pytest.mark.parametrize("lesions", [1, 3])
def test_lane_rhs_is_the_scalar_rhs(lesions):
    """The vector kernel (LLVM IR from the process modules) equals the scalar right-hand side (Python source from
    the same modules, compiled by numba) lane by lane: two code generators, one set of equations."""
    from nksim.kinetics.codegen.zeroguard import agent_states
    from nksim.kinetics.processes import layout

    L_ = layout()
    rng = np.random.default_rng(7)
    for name in nksim.list_scenarios():
        sc = nksim.load_scenario(name)
        sc = sc.model_copy(update={"tumor": sc.tumor.model_copy(update={"n_target_lesions": lesions,
                                                                         "nontarget_remainder": False})})
        inp = build_inputs(sc, sample_patients(sc, np.arange(W)))
        n = inp.y0.shape[1]
        P = np.ascontiguousarray(inp.params.T)
        for _ in range(6):
            # states spread over many decades, some exactly zero; times before, during and after lymphodepletion and
            # the lung first pass
            y = inp.y0 * rng.lognormal(0, 2, inp.y0.shape) + rng.lognormal(10, 5, inp.y0.shape) * (
                rng.random(inp.y0.shape) < 0.7)
            for idx in agent_states(L_, inp.n_lesions, inp.n_classes).values():  # absent agents: every lane's zero
                if rng.random() < 0.5:
                    y[:, idx] = 0.0
            Y = np.ascontiguousarray(y.T)
            t = rng.uniform(-10.0, 60.0, W)
            SEG = np.ascontiguousarray(np.array([t - rng.uniform(0.0, 5.0, W),
                                                 rng.lognormal(15, 3, W) * (rng.random(W) < 0.6),
                                                 rng.lognormal(15, 3, W) * (rng.random(W) < 0.6)]))
            DY = np.zeros((n, W))
            ALG = np.zeros((L.NALG, W))
            rhs_lanes(inp.n_lesions, inp.n_classes)(t, Y, P, SEG, DY, ALG)
            for w in range(W):
                dy = np.zeros(n)
                alg = np.zeros(L.NALG)
                rhs(t[w], Y[:, w].copy(), inp.params[w], inp.n_lesions, inp.n_classes, SEG[:, w].copy(), dy, alg)
                # the same operations in the same order; only exp and log differ (by a few units in the last place)
                # and where (branches here, selects there)
                np.testing.assert_allclose(DY[:, w], dy, rtol=1e-12, atol=1e-300, err_msg=f"{name} lane {w}")
                np.testing.assert_allclose(ALG[:, w], alg, rtol=1e-12, atol=1e-300, err_msg=f"{name} lane {w}")


def test_a_failing_lane_ends_its_patient_and_the_others_finish():
    """Step-limit failures are per patient: the lane reports its status and takes the next patient."""
    from nksim.kinetics.solver import STATUS_MAX_STEPS, STATUS_OK, solve_batch

    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    inp = build_inputs(sc, sample_patients(sc, np.arange(7)))
    t_save = np.array([0.0, 30.0, 90.0])
    args = (inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0, 90.0,
            t_save, 1e-6, inp.atol)
    _, _, ok = solve_batch(*args, 100_000)
    assert (ok[:, 0] == STATUS_OK).all()
    limit = int(np.median(ok[:, 1] + ok[:, 2]))  # about half the patients need more steps than this
    ys, _, stats = solve_batch(*args, limit)
    failed = ok[:, 1] + ok[:, 2] > limit
    assert failed.any() and (~failed).any()
    np.testing.assert_array_equal(stats[:, 0], np.where(failed, STATUS_MAX_STEPS, STATUS_OK))
    ref, _, _ = solve_batch(*args, 100_000)
    np.testing.assert_array_equal(ys[~failed], ref[~failed])  # the patients that finished are untouched


def test_right_hand_side_reads_states_only_through_their_positive_part():
    """f(t, y) = f(t, max(y, 0)) for every state: a state that an accepted step leaves slightly below 0 (within the
    error tolerance) acts as 0 cells, and the integrator keeps it as it is instead of clipping it up to 0."""
    rng = np.random.default_rng(11)
    for name in ("hcc-gpc3-car-nk-il15", "ball-car-t-like", "bnhl-car-t-like"):
        sc = nksim.load_scenario(name)
        inp = build_inputs(sc, sample_patients(sc, np.arange(2)))
        n = inp.y0.shape[1]
        for _ in range(5):
            y = rng.lognormal(8, 4, n) * rng.choice([-1.0, 1.0], n)
            seg = np.array([1.0, 1e8, 1e7])
            a, b = np.zeros(n), np.zeros(n)
            alg = np.zeros(L.NALG)
            rhs(3.0, y, inp.params[0], inp.n_lesions, inp.n_classes, seg, a, alg)
            rhs(3.0, np.maximum(y, 0.0), inp.params[0], inp.n_lesions, inp.n_classes, seg, b, alg)
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_an_extinct_product_stays_extinct():
    """A step that leaves a fast-decaying pool a fraction of a cell below 0 must not be clipped back to 0: each clip
    would create that fraction of a cell, and a clip every step kept a ghost product of ~0.03 cells alive for months
    (with killing by it) where the reference solution has 1e-8 cells. Patients 0 and 1 of the GPC3 scenario lose
    their product within a few months under strong rejection."""
    from nksim.kinetics.reference import solve_reference_batch
    from nksim.kinetics.solver import solve_batch

    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15").replace(
        {"tumor.n_target_lesions": 1, "tumor.nontarget_remainder": False, "parameters.k_rej": 1.0})
    inp = build_inputs(sc, sample_patients(sc, np.arange(2)))
    t_save = np.array([0.0, 200.0, 365.0])
    args = (inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0, 365.0,
            t_save)
    ys, _, stats = solve_batch(*args, 1e-6, inp.atol, 100_000)
    ref, _, _ = solve_reference_batch(*args, 1e-9, inp.atol * 1e-3)
    b = L.NSYS
    product = [L.S_E_T, L.S_E_U, L.S_M_T, L.S_M_U] + [b + L.L_K + g + o for g in (0, 1) for o in (0, 2, 4)]
    assert ref[:, 1:, product].sum(axis=-1).max() < 1e-4  # the product is gone by day 200 in the reference
    assert ys[:, 1:, product].sum(axis=-1).max() < 1e-3
    # and it kills nothing from day 200 on (the ghost killed tens of tumor cells)
    late_kills = ys[:, -1, L.S_CUM_KILL_CAR] - ys[:, 1, L.S_CUM_KILL_CAR]
    assert late_kills.max() < 1.0


@pytest.mark.parametrize("name", ["hcc-post-lt-allo-nk", "hcc-gpc3-car-nk-il15"])
def test_the_integrator_takes_any_tableau(name):
    """The tableau is data: Dormand-Prince 5(4) and Tsitouras 5(4) through the same driver agree within the
    tolerance, with different step counts."""
    from nksim.kinetics import solver
    from nksim.kinetics.integrate.tableau import DOPRI5, TSIT5

    sc = nksim.load_scenario(name)
    inp = build_inputs(sc, sample_patients(sc, np.arange(6)))
    t_save = np.array([0.0, 7.0, 60.0, 200.0])
    args = (inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0, 200.0,
            t_save, 1e-9, inp.atol * 1e-6, 200_000)
    ys_t, _, st_t = solver.solve_batch(*args, tableau=TSIT5)
    ys_d, _, st_d = solver.solve_batch(*args, tableau=DOPRI5)
    big = ys_t > 1.0
    np.testing.assert_allclose(ys_d[big], ys_t[big], rtol=1e-5)
    assert (st_t[:, 0] == 0).all() and (st_d[:, 0] == 0).all()
    assert not np.array_equal(st_t[:, 1], st_d[:, 1])


def test_inputs_that_do_not_fit_the_compiled_configuration_are_refused():
    """The scheduler is compiled for a configuration's sizes; arrays of other sizes are refused with a message
    instead of being read out of bounds."""
    from nksim.kinetics.solver import solve_batch

    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    inp = build_inputs(sc, sample_patients(sc, np.arange(3)))
    args = [inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0, 30.0,
            np.array([0.0, 30.0]), 1e-6, inp.atol, 100_000]
    for k, bad in ((1, inp.params[:, :-1]), (0, inp.y0[:2]), (12, inp.atol[:-1])):
        wrong = list(args)
        wrong[k] = np.ascontiguousarray(bad)
        with pytest.raises(ValueError, match="do not fit the compiled configuration"):
            solve_batch(*wrong)


def test_threads_claim_each_patient_once_and_change_no_number():
    """The kernel's threads take patients from one shared counter: with more threads than lanes' worth of patients,
    every patient is solved exactly once (its stats written, its outputs those of a one-thread run)."""
    from nksim.kinetics import solver
    from nksim.kinetics.integrate import scheduler

    before = scheduler._WORKERS[0]
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    pts = sample_patients(sc, np.arange(13))
    inp = build_inputs(sc, pts)
    t_save = np.array([inp.t0, 28.0, inp.t_end])
    runs = {}
    try:
        for threads in (1, 3):
            solver.set_workers(threads)
            runs[threads] = [a.copy() for a in solver.solve_batch(
                inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0,
                inp.t_end, t_save, sc.simulation.rtol, inp.atol, 500_000)]
    finally:
        solver.set_workers(before)
    stats = runs[3][2]
    assert (stats[:, 0] == 0).all() and (stats[:, 1] > 0).all()  # every patient finished by some thread
    for one, three in zip(runs[1], runs[3]):
        np.testing.assert_array_equal(one, three)


def _compiled_power(const: float | None):
    """``VecMath.power`` over W lanes as a callable f(X, N) -> X**N (lane arrays of shape (rows, W))."""
    import ctypes

    import llvmlite.binding as llvm
    from llvmlite import ir

    from nksim.kinetics.codegen.irmath import VecMath
    from nksim.kinetics.codegen.llvm import _target_machine

    vt = ir.VectorType(ir.DoubleType(), W)
    ptr = ir.DoubleType().as_pointer()
    mod = ir.Module(name="power_test")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [ptr, ptr, ptr]), name="power")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    vm = VecMath(b, W)
    x, n, out = (b.bitcast(a, vt.as_pointer()) for a in fn.args)
    b.store(vm.power(b.load(x, align=8), vm.c(const) if const is not None else b.load(n, align=8), const), out,
            align=8)
    b.ret_void()
    tm = _target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(mod)), tm)
    engine.finalize_object()
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3)(engine.get_function_address("power"))

    def f(X: np.ndarray, N: np.ndarray) -> np.ndarray:
        out = np.empty(W)
        proto(X.ctypes.data, N.ctypes.data, out.ctypes.data)
        _keep = engine  # noqa: F841
        return out

    return f


def _ladder(x: float, n: float) -> float:
    """The scalar code's x**n: repeated multiplication for a whole n in 0..16, 0 for x <= 0."""
    if x <= 0.0:
        return 0.0
    if n == int(n) and 0 <= n <= 16:
        r = 1.0
        for _ in range(int(n)):
            r *= x
        return r
    return float(np.exp(n * np.log(x)))


@pytest.mark.parametrize("case", ["uniform whole", "none whole", "mixed", "whole and out of range"])
def test_lane_power_takes_the_same_numbers_on_every_path(case):
    """A batch whose lanes share one whole exponent, one with no whole exponent, and a mixed one take different
    branches of the vector power; each gives the scalar code's numbers: the repeated product bit for bit where the
    exponent is whole in 0..16, exp(n log x) within a few ulp elsewhere, 0 for x <= 0."""
    rng = np.random.default_rng(11)
    f = _compiled_power(None)
    exponents = {"uniform whole": lambda k: np.full(W, float(k % 17)),
                 "none whole": lambda k: rng.uniform(0.05, 12.0, W) + 1e-9,
                 "mixed": lambda k: np.where(rng.random(W) < 0.5, rng.integers(0, 17, W).astype(float),
                                             rng.uniform(0.0, 17.0, W)),
                 "whole and out of range": lambda k: rng.choice([3.0, 12.0, 17.0, 20.0, -1.0], W)}[case]
    for k in range(60):
        x = rng.lognormal(0.0, 3.0, W) * np.where(rng.random(W) < 0.15, -1.0, 1.0)
        x[rng.random(W) < 0.1] = 0.0
        n = np.ascontiguousarray(exponents(k))
        got = f(np.ascontiguousarray(x), n)
        want = np.array([_ladder(a, m) for a, m in zip(x, n)])
        exact = (n == np.floor(n)) & (n >= 0) & (n <= 16) | (x <= 0)
        np.testing.assert_array_equal(got[exact], want[exact], err_msg=f"{case}: x={x}, n={n}")
        np.testing.assert_allclose(got[~exact], want[~exact], rtol=1e-14, err_msg=f"{case}: x={x}, n={n}")


@pytest.mark.parametrize("const", [0.0, 1.0, 4.0, 12.0, 1.0 / 3.0, 0.663])
def test_lane_power_with_a_constant_exponent(const):
    rng = np.random.default_rng(5)
    f = _compiled_power(const)
    x = np.ascontiguousarray(rng.lognormal(0.0, 3.0, W) * np.resize([1.0, -1.0, 1.0, 1.0], W))
    want = np.array([_ladder(a, const) for a in x])
    if float(const).is_integer():
        np.testing.assert_array_equal(f(x, np.zeros(W)), want)
    else:
        np.testing.assert_allclose(f(x, np.zeros(W)), want, rtol=1e-14)


def test_lane_cube_root_within_one_ulp():
    """The constant exponent 1/3 (a lesion's radius from its volume) is a division-free cube root: within 1 ulp of
    numpy's over the whole double range, subnormals included, +inf for +inf, 0 for x <= 0."""
    f = _compiled_power(1.0 / 3.0)
    rng = np.random.default_rng(2)
    x = np.concatenate([np.exp(rng.uniform(np.log(1e-300), np.log(1e300), 40000)), np.linspace(1.0, 8.0, 4000),
                        [5e-324, 1e-310, 2.2e-308, 1.0, 8.0, 27.0, 1.7e308]])
    x = np.resize(x, (x.size + W - 1) // W * W).reshape(-1, W)
    got = np.array([f(np.ascontiguousarray(r), np.zeros(W)) for r in x])
    want = np.cbrt(x)
    assert np.max(np.abs(got - want) / np.spacing(want)) <= 1.0
    np.testing.assert_array_equal(f(np.resize([np.inf, 0.0, -8.0, np.nan], W), np.zeros(W))[:4],
                                  [np.inf, 0.0, 0.0, 0.0])


def test_absent_agents_guards_change_no_value():
    """The work only absent agents feed is guarded (nksim.kinetics.codegen.zeroguard): the guarded graph has the
    unguarded graph's values whether each agent is absent (its states exactly zero) or present."""
    import math

    from nksim.kinetics.codegen.zeroguard import agent_states, guard_absent_agents
    from nksim.kinetics.processes import layout, trace
    from nksim.kinetics.symbolic import evaluate

    nl, nc = 2, 2
    tr = trace(nl, nc)
    lay = layout()
    agents = agent_states(lay, nl, nc)
    assert {"antibody", "engager", "IL-2 injections"} <= set(agents)
    outs = tr.derivatives + tr.algebraic
    guarded = guard_absent_agents(outs, agents)

    def lazy_wheres(roots):
        seen, stack = {}, list(roots)
        while stack:
            e = stack.pop()
            if e.id not in seen:
                seen[e.id] = e
                stack.extend(e.args)
        return sum(e.op == "where" and e.lazy for e in seen.values())

    assert lazy_wheres(guarded) >= lazy_wheres(outs) + 10
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    sc = sc.model_copy(update={"tumor": sc.tumor.model_copy(update={"n_target_lesions": nl,
                                                                     "nontarget_remainder": False})})
    inp = build_inputs(sc, sample_patients(sc, np.arange(1)))
    rng = np.random.default_rng(4)
    for trial in range(4):
        y = inp.y0[0] * rng.lognormal(0, 1, inp.y0.shape[1]) + rng.lognormal(5, 3, inp.y0.shape[1])
        absent = [a for a in agents if rng.random() < 0.6]
        for a in absent:
            y[agents[a]] = 0.0
        env = {("y", i): float(v) for i, v in enumerate(y)}
        env.update({("p", i): float(v) for i, v in enumerate(inp.params[0])})
        env.update({("seg", 0): 0.0, ("seg", 1): 1e8 * trial, ("seg", 2): 0.0, ("t",): 5.0 + trial})
        for k, (e, g) in enumerate(zip(outs, guarded)):
            want, got = evaluate(e, env), evaluate(g, env)
            assert got == want or (math.isnan(got) and math.isnan(want)), (k, absent, got, want)


def _compiled_unary(name: str):
    """``VecMath.<name>`` (exp or log) over W lanes as a callable on one row of W doubles."""
    import ctypes

    import llvmlite.binding as llvm
    from llvmlite import ir

    from nksim.kinetics.codegen.irmath import VecMath
    from nksim.kinetics.codegen.llvm import _target_machine

    vt = ir.VectorType(ir.DoubleType(), W)
    ptr = ir.DoubleType().as_pointer()
    mod = ir.Module(name=f"{name}_test")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [ptr, ptr]), name=name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x, out = (b.bitcast(a, vt.as_pointer()) for a in fn.args)
    b.store(getattr(VecMath(b, W), name)(b.load(x, align=8)), out, align=8)
    b.ret_void()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(mod)), _target_machine())
    engine.finalize_object()
    proto = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(engine.get_function_address(name))

    def f(X: np.ndarray) -> np.ndarray:
        out = np.empty(W)
        X = np.ascontiguousarray(X, dtype=float)
        proto(X.ctypes.data, out.ctypes.data)
        _keep = engine  # noqa: F841
        return out

    return f


def test_generated_exp_and_log_are_the_lane_functions_bit_for_bit():
    """The code generators' exp and log (LLVM IR, used by the kernel and the events) compute nksim.kinetics.lanes'
    vexp and vlog operation for operation: equal bit for bit, special values included."""
    rng = np.random.default_rng(8)
    xs = np.concatenate([rng.uniform(-720.0, 720.0, 4000), rng.uniform(-1e-6, 1e-6, 400),
                         np.exp(rng.uniform(-740.0, 709.0, 4000)),
                         [0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, 709.78, 709.79, -708.4, -745.2]])
    xs = np.resize(xs, (xs.size + W - 1) // W * W).reshape(-1, W)
    e, g = np.empty_like(xs), np.empty_like(xs)
    _explog(xs, e, g)
    fe, fg = _compiled_unary("exp"), _compiled_unary("log")
    got_e = np.array([fe(r) for r in xs])
    got_g = np.array([fg(r) for r in xs])
    np.testing.assert_array_equal(got_e.view(np.int64)[~np.isnan(e)], e.view(np.int64)[~np.isnan(e)])
    np.testing.assert_array_equal(np.isnan(got_e), np.isnan(e))
    np.testing.assert_array_equal(got_g.view(np.int64)[~np.isnan(g)], g.view(np.int64)[~np.isnan(g)])
    np.testing.assert_array_equal(np.isnan(got_g), np.isnan(g))

