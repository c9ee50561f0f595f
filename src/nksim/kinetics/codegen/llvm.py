"""The traced model as LLVM IR, compiled in process: the W-lane right-hand side and the scalar event function.

``rhs(double* t, double* Y, double* P, double* SEG, double* DY, double* ALG)`` works on lane arrays (row k of each
array = quantity k of the W patients, W doubles apart) with ``<W x double>`` values throughout; a lazy ``where``
becomes a branch around the work when no lane needs it. ``event(i64 kind, double t, double* y, double* p,
double* seg, double a, double b)`` applies one event to one patient. Both follow IEEE semantics without fast-math;
exp and log are the same polynomial reductions for both widths (:mod:`nksim.kinetics.lanes`' vexp / vlog: Cody &
Waite, Tang), so the vector kernel and the event code agree with each other exactly and with libm to ~1 ulp.

Emitting IR directly from the expression graph replaces numba's typing of thousands of lane-operation call sites:
a configuration compiles in a fraction of a second, and the integrator (compiled once by numba, cached on disk)
calls these functions through their addresses.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import llvmlite.binding as llvm
from llvmlite import ir

from nksim.kinetics.codegen.irmath import VecMath
from nksim.kinetics.codegen.schedule import Group, Region, schedule
from nksim.kinetics.codegen.zeroguard import agent_states, guard_absent_agents
from nksim.kinetics.integrate.scheduler import emit_solve
from nksim.kinetics.integrate.stepir import emit_dense, emit_init, emit_step
from nksim.kinetics.integrate.tableau import TSIT5, Tableau
from nksim.kinetics.lanes import W
from nksim.kinetics.processes import layout, trace
from nksim.kinetics.symbolic import Expr, postorder

_DBL = ir.DoubleType()
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_PTR = _DBL.as_pointer()
_FCMP = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


class _Emitter(VecMath):
    """Emits the statements of a scheduled region at one width (W lanes or 1)."""

    def __init__(self, builder: ir.IRBuilder, width: int, leaves: dict[str, object]) -> None:
        super().__init__(builder, width)
        self.leaves = leaves
        self.scopes: list[dict[int, ir.Value]] = [{}]
        self.stores: dict[int, tuple[Expr, list[ir.Value]]] = {}  # outputs stored as soon as computed (top level)
        self.shared_denominators: set[int] = set()  # divide by these through one reciprocal each

    # ---- values ----------------------------------------------------------------------------------------------
    def value(self, e: Expr) -> ir.Value:
        for scope in reversed(self.scopes):
            if e.id in scope:
                return scope[e.id]
        op = e.op
        if op == "const":
            v = self.c(float(e.val))  # type: ignore[arg-type]
        elif op in ("y", "p", "seg", "arg", "t"):
            v = self.leaves[op](self, e.val)  # type: ignore[operator]
        else:
            raise KeyError(f"node {op} used before it is computed")
        self.scopes[-1][e.id] = v
        return v

    def stmt(self, e: Expr) -> None:
        b = self.b
        a = [self.value(x) for x in e.args]
        op = e.op
        if op == "add":
            v = b.fadd(a[0], a[1])
        elif op == "sub":
            v = b.fsub(a[0], a[1])
        elif op == "mul":
            v = b.fmul(a[0], a[1])
        elif op == "div":
            d = e.args[1]
            if d.id in self.shared_denominators:
                key = -1 - d.id  # the reciprocal's entry in the scopes
                rcp = next((sc[key] for sc in reversed(self.scopes) if key in sc), None)
                if rcp is None:
                    rcp = self.scopes[-1][key] = b.fdiv(self.c(1.0), a[1])
                v = b.fmul(a[0], rcp)
            else:
                v = b.fdiv(a[0], a[1])
        elif op == "nz":  # not exactly zero, or NaN
            v = b.fcmp_unordered("!=", a[0], self.c(0.0))
        elif op in _FCMP:
            v = b.fcmp_ordered(_FCMP[op], a[0], a[1])
        elif op == "and":
            v = b.and_(a[0], a[1])
        elif op == "or":
            v = b.or_(a[0], a[1])
        elif op == "exp":
            v = self.exp(a[0])
        elif op == "log":
            v = self.log(a[0])
        elif op == "sqrt":
            v = self.intrinsic("sqrt", a[0])
        elif op == "pos":
            v = self.sel(self.gt(a[0], self.c(0.0)), a[0], self.c(0.0))
        elif op == "pow":
            n = e.args[1]
            v = self.power(a[0], a[1], float(n.val) if n.op == "const" else None)  # type: ignore[arg-type]
        elif op == "where":
            v = self.sel(a[0], a[1], a[2])
        else:
            raise ValueError(op)
        self.scopes[-1][e.id] = v

    def region(self, r: Region) -> None:
        top = len(self.scopes) == 1 and bool(self.stores)
        for it in r.items:
            if isinstance(it, Group):
                self.group(it)
            else:
                self.stmt(it)
            if top:
                for e in it.wheres if isinstance(it, Group) else (it,):
                    for ptr in self.stores.pop(e.id, (e, ()))[1]:
                        self.b.store(self.scopes[0][e.id], ptr, align=8)

    def group(self, g: Group) -> None:
        """Lazy wheres sharing a condition: their then-values are computed only when some lane needs one."""
        b = self.b
        cond = self.value(g.cond)
        if g.other is not None and g.other.items:
            raise AssertionError("the vector kernel guards then-branches only")
        others = [self.value(w.args[2]) for w in g.wheres]
        entry = b.block
        self.scopes.append({})
        with b.if_then(self.any(cond), likely=False):
            if g.then is not None:
                self.region(g.then)
            thens = [self.sel(cond, self.value(w.args[1]), o) for w, o in zip(g.wheres, others)]
            tblock = b.block
        self.scopes.pop()
        for w, tv, ov in zip(g.wheres, thens, others):
            phi = b.phi(self.ty)
            phi.add_incoming(tv, tblock)
            phi.add_incoming(ov, entry)
            self.scopes[-1][w.id] = phi


def _shared_denominators(outputs: list[Expr]) -> set[int]:
    """Ids of the nodes that two or more divisions divide by."""
    count = Counter(e.args[1].id for e in postorder(outputs) if e.op == "div")
    return {i for i, c in count.items() if c > 1}


def _guard_lazy(w: Expr) -> tuple[bool, bool]:
    return bool(w.lazy), False


def _row(em: _Emitter, base: ir.Value, row: int) -> ir.Value:
    """Address of row ``row`` of a lane array (W doubles a row) or element ``row`` of a plain array."""
    b = em.b
    if em.width == 1:
        return b.gep(base, [ir.Constant(_I64, row)], inbounds=True)
    vp = b.bitcast(base, em.ty.as_pointer())
    return b.gep(vp, [ir.Constant(_I64, row)], inbounds=True)


def _load(arg: ir.Value):
    def f(em: _Emitter, k: int) -> ir.Value:
        return em.b.load(_row(em, arg, k), align=8)
    return f


def build_module(nl: int, nc: int, tableau: Tableau = TSIT5, exact_chains: bool = True) -> ir.Module:
    """IR of ``rhs_{nl}x{nc}`` (W lanes), ``event_{nl}x{nc}`` (one patient), ``step_{nl}x{nc}`` (a step attempt
    of ``tableau`` over W lanes), ``init_{nl}x{nc}`` (initial steps; both call the right-hand side) and
    ``dense_{nl}x{nc}`` (the tableau's dense output for one lane), ``alg_{nl}x{nc}`` (the algebraic outputs alone,
    at saved points) and ``solve_{nl}x{nc}``, the lane scheduler
    calling them (:mod:`nksim.kinetics.integrate.scheduler`). With ``exact_chains`` the processes' transit chains
    take Lawson steps (:mod:`nksim.kinetics.integrate.chains`); without, every state takes the tableau's steps."""
    tr = trace(nl, nc)
    mod = ir.Module(name=f"nksim_model_{nl}x{nc}")
    # ---- right-hand side over W lanes
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [_PTR] * 6), name=f"rhs_{nl}x{nc}")
    tp, yp, pp, sp, dyp, algp = fn.args
    for a in fn.args:
        a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    vt = ir.VectorType(_DBL, W)
    tval = b.load(b.bitcast(tp, vt.as_pointer()), align=8)
    em = _Emitter(b, W, {"y": _load(yp), "p": _load(pp), "seg": _load(sp), "t": lambda em, k: tval})
    # each output is stored as soon as it is computed, and computed where it is first needed (a depth-first order
    # from the outputs): short live ranges, a third fewer register spills than the processes' own order
    lay = layout()
    outs = guard_absent_agents(tr.derivatives + tr.algebraic, agent_states(lay, nl, nc))
    n = len(tr.derivatives)
    rows = [(e, dyp, i) for i, e in enumerate(outs[:n])] + [(e, algp, k) for k, e in enumerate(outs[n:])]
    for e, base, i in rows:
        em.stores.setdefault(e.id, (e, []))[1].append(_row(em, base, i))
    # a denominator that several divisions share (the killing pathways' ratio-dependent saturation of a lesion) is
    # inverted once: one division and multiplications instead of several divisions (within an ulp of them)
    em.shared_denominators = _shared_denominators(outs)
    em.region(schedule(outs, _guard_lazy, demand=True))
    for e, ptrs in em.stores.values():  # outputs that are leaves or constants
        for ptr in ptrs:
            b.store(em.value(e), ptr, align=8)
    b.ret_void()
    # ---- the algebraic outputs alone over W lanes (at saved points: the derivatives are not needed there)
    fa = ir.Function(mod, ir.FunctionType(ir.VoidType(), [_PTR] * 5), name=f"alg_{nl}x{nc}")
    tp, yp, pp, sp, algp = fa.args
    for a in fa.args:
        a.add_attribute("noalias")
    b = ir.IRBuilder(fa.append_basic_block("entry"))
    tval_a = b.load(b.bitcast(tp, vt.as_pointer()), align=8)
    em = _Emitter(b, W, {"y": _load(yp), "p": _load(pp), "seg": _load(sp), "t": lambda em, k: tval_a})
    em.region(schedule(tr.algebraic, _guard_lazy))
    for k, e in enumerate(tr.algebraic):
        b.store(em.value(e), _row(em, algp, k), align=8)
    b.ret_void()
    # ---- events, one patient
    fe = ir.Function(mod, ir.FunctionType(ir.VoidType(), [_I64, _DBL, _PTR, _PTR, _PTR, _DBL, _DBL]),
                     name=f"event_{nl}x{nc}")
    kind, t, y, p, seg, aa, bb = fe.args
    b = ir.IRBuilder(fe.append_basic_block("entry"))
    done = fe.append_basic_block("done")
    switch = b.switch(kind, done)
    for code, (states, segs) in tr.events.items():
        blk = fe.append_basic_block(f"kind{code}")
        switch.add_case(ir.Constant(_I64, code), blk)
        b.position_at_end(blk)
        em = _Emitter(b, 1, {"y": _load(y), "p": _load(p), "seg": _load(seg), "t": lambda em, k: t,
                             "arg": lambda em, k: (aa, bb)[k]})
        outs = list(states.values()) + list(segs.values())
        em.region(schedule(outs, _guard_lazy))
        vals = [em.value(e) for e in outs]
        for (i, _), v in zip(states.items(), vals):
            b.store(v, _row(em, y, i), align=8)
        for (k, _), v in zip(segs.items(), vals[len(states):]):
            b.store(v, _row(em, seg, k), align=8)
        b.branch(done)
    b.position_at_end(done)
    b.ret_void()
    chains = lay.CHAINS if exact_chains else ()
    step = emit_step(mod, tableau, n, fn, f"step_{nl}x{nc}", chains)
    init = emit_init(mod, tableau.order, n, fn, f"init_{nl}x{nc}")
    dense = emit_dense(mod, tableau, n, f"dense_{nl}x{nc}", chains)
    from nksim.kinetics.tracking import tracked

    emit_solve(mod, f"solve_{nl}x{nc}", n, lay.n_params(nl, nc), lay.NSEG, lay.NALG, tableau.stages, fn, fa, fe,
               step, init, dense, tracked(nl, nc), tuple(rate for _, rate in chains))
    return mod


@dataclass
class Compiled:
    """Addresses of a configuration's compiled functions (alive as long as this object)."""

    rhs: int
    event: int
    step: int
    init: int
    dense: int
    solve: int  # the lane scheduler (:func:`nksim.kinetics.integrate.scheduler.solve` calls it)
    n: int  # states, parameters, segment values and algebraic outputs the functions were compiled for
    npar: int
    nseg: int
    nalg: int
    engine: object
    tracked: object = None  # what the trackers read (nksim.kinetics.integrate.scheduler.Tracked)


_LOCK = threading.Lock()
_CACHE: dict[tuple, Compiled] = {}
_NATIVE: list[bool] = []


def _target_machine():
    """A new target machine for this host (LLVM's native target initialised on first use). Each execution engine
    takes ownership of the target machine it is created with and frees it with itself, so no two engines may share
    one: a configuration's engine dropped from the cache would leave the others' machine freed."""
    if not _NATIVE:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _NATIVE.append(True)
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(), opt=3)


def compiled(nl: int, nc: int, tableau: Tableau = TSIT5, exact_chains: bool = True) -> Compiled:
    """The configuration's functions, compiled once per process (thread-safe); ``exact_chains``: see
    :func:`build_module`."""
    key = (nl, nc, tableau.name, tableau.a.tobytes(), tableau.e.tobytes(), tableau.c.tobytes(), exact_chains)
    with _LOCK:
        c = _CACHE.get(key)
        if c is not None:
            return c
        from nksim.kinetics.tracking import tracked

        tm = _target_machine()
        lay = layout()
        mod = llvm.parse_assembly(str(build_module(nl, nc, tableau, exact_chains)))
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        engine = llvm.create_mcjit_compiler(mod, tm)
        engine.finalize_object()
        c = Compiled(engine.get_function_address(f"rhs_{nl}x{nc}"), engine.get_function_address(f"event_{nl}x{nc}"),
                     engine.get_function_address(f"step_{nl}x{nc}"), engine.get_function_address(f"init_{nl}x{nc}"),
                     engine.get_function_address(f"dense_{nl}x{nc}"), engine.get_function_address(f"solve_{nl}x{nc}"),
                     lay.n_states(nl, nc), lay.n_params(nl, nc), lay.NSEG, lay.NALG, engine, tracked(nl, nc))
        _CACHE[key] = c
        return c


def rhs_lanes(nl: int, nc: int):
    """The compiled W-lane right-hand side as a Python callable ``f(t, Y, P, SEG, DY, ALG)`` on float64 arrays (t of
    W values, the others (rows, W) C-contiguous), for tests and tools."""
    import ctypes

    import numpy as np

    c = compiled(nl, nc)
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 6)(c.rhs)

    def f(t, Y, P, SEG, DY, ALG) -> None:
        arrs = [np.ascontiguousarray(t, dtype=float)] + [Y, P, SEG, DY, ALG]
        for a in arrs[1:]:
            if not (a.flags.c_contiguous and a.dtype == np.float64 and a.ndim == 2 and a.shape[1] == W):
                raise ValueError(f"lane arrays must be C-contiguous float64 of shape (rows, {W})")
        proto(*[a.ctypes.data for a in arrs])
        _keep = (c, arrs)  # noqa: F841

    return f
