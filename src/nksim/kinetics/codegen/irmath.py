"""Vector (or scalar) math emitted as LLVM IR: constants, selects, and exp / log / power as the polynomial
reductions of :mod:`nksim.kinetics.lanes` (vexp / vlog: Cody & Waite, Tang), operation for operation, so every piece
of generated code computes them identically (and without libm calls the JIT would have to resolve)."""

from __future__ import annotations

import math

from llvmlite import ir

_DBL = ir.DoubleType()
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
# exp / log reductions (the constants of nksim.kinetics.lanes)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.44269504088896338700e+00
_SQRT2 = 1.4142135623730951
_EXP_HI = 709.782712893384
_EXP_LO = -708.3964185322641
_TINY = 2.2250738585072014e-308
MAX_WHOLE = 16  # powers with a whole exponent up to this are repeated products (nksim.kinetics.symbolic.power)
_RCBRT_MAGIC = 0x553EF1A9FBE76C00  # K - bits(x) / 3: the bits of a first guess at x^(-1/3) (within 3.5%)


class VecMath:
    """Math on values of one width (W lanes, or 1: plain doubles) at an IR builder."""

    def __init__(self, builder: ir.IRBuilder, width: int) -> None:
        self.b = builder
        self.width = width
        self.ty = ir.VectorType(_DBL, width) if width > 1 else _DBL
        self.ity = ir.VectorType(_I64, width) if width > 1 else _I64

    # ---- helpers ---------------------------------------------------------------------------------------------
    def c(self, x: float) -> ir.Constant:
        return ir.Constant(self.ty, [x] * self.width) if self.width > 1 else ir.Constant(_DBL, x)

    def ci(self, x: int) -> ir.Constant:
        return ir.Constant(self.ity, [x] * self.width) if self.width > 1 else ir.Constant(_I64, x)

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        suffix = f"v{self.width}f64" if self.width > 1 else "f64"
        full = f"llvm.{name}.{suffix}"
        mod = self.b.module
        try:
            fn = mod.get_global(full)
        except KeyError:
            fn = ir.Function(mod, ir.FunctionType(self.ty, [self.ty] * len(args)), name=full)
        return self.b.call(fn, list(args))

    def sel(self, cond: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(cond, a, b)

    def gt(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered(">", a, b)

    def lt(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered("<", a, b)

    def any(self, cond: ir.Value) -> ir.Value:
        if self.width == 1:
            return cond
        bits = self.b.bitcast(cond, ir.IntType(self.width))
        return self.b.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(self.width), 0))

    def fma(self, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
        """a * b + c with one rounding."""
        return self.intrinsic("fma", a, b, c)

    def pair(self, a: float, bcoef: float, x: ir.Value) -> ir.Value:
        """a + bcoef x (one rounding)."""
        return self.fma(self.c(bcoef), x, self.c(a))

    def pow2(self, n: ir.Value) -> ir.Value:
        biased = self.b.add(self.b.fptosi(n, self.ity), self.ci(1023))
        return self.b.bitcast(self.b.shl(biased, self.ci(52)), self.ty)

    def exp(self, x: ir.Value) -> ir.Value:
        """:func:`nksim.kinetics.lanes.vexp`, operation for operation."""
        b = self.b
        xc = self.intrinsic("minnum", self.intrinsic("maxnum", x, self.c(_EXP_LO)), self.c(_EXP_HI))
        n = self.intrinsic("rint", b.fmul(xc, self.c(_LOG2E)))
        nn = b.fneg(n)
        r = self.fma(nn, self.c(_LN2_LO), self.fma(nn, self.c(_LN2_HI), xc))
        r2 = b.fmul(r, r)
        r4 = b.fmul(r2, r2)
        q1 = self.fma(self.pair(1.0 / 720, 1.0 / 5040, r), r2, self.pair(1.0 / 24, 1.0 / 120, r))
        q2 = self.fma(self.pair(1.0 / 3628800, 1.0 / 39916800, r), r2, self.pair(1.0 / 40320, 1.0 / 362880, r))
        q3 = self.pair(1.0 / 479001600, 1.0 / 6227020800, r)
        tail = self.fma(self.pair(1.0 / 2, 1.0 / 6, r), r2, b.fmul(self.fma(self.fma(q3, r4, q2), r4, q1), r4))
        p = b.fadd(self.c(1.0), b.fadd(r, tail))
        n1 = self.intrinsic("minnum", n, self.c(1023.0))
        out = b.fmul(b.fmul(p, self.pow2(n1)), self.pow2(b.fsub(n, n1)))
        out = self.sel(self.lt(x, self.c(_EXP_LO)), self.c(0.0),
                       self.sel(self.gt(x, self.c(_EXP_HI)), self.c(math.inf), out))
        return self.sel(b.fcmp_ordered(">=", x, x), out, x)

    def log(self, x: ir.Value) -> ir.Value:
        """:func:`nksim.kinetics.lanes.vlog`, operation for operation."""
        b = self.b
        subn = self.sel(self.lt(x, self.c(_TINY)), self.c(1.0), self.c(0.0))
        xs = self.sel(self.gt(subn, self.c(0.0)), b.fmul(x, self.c(18014398509481984.0)), x)
        bits = b.bitcast(xs, self.ity)
        e = b.sitofp(b.sub(b.lshr(bits, self.ci(52)), self.ci(1023)), self.ty)
        mbits = b.or_(b.and_(bits, self.ci((1 << 52) - 1)), self.ci(1023 << 52))
        m = b.bitcast(mbits, self.ty)
        e = self.fma(subn, self.c(-54.0), e)
        high = self.sel(self.gt(m, self.c(_SQRT2)), self.c(1.0), self.c(0.0))
        m = self.sel(self.gt(high, self.c(0.0)), b.fmul(m, self.c(0.5)), m)
        e = b.fadd(e, high)
        f = b.fdiv(b.fsub(m, self.c(1.0)), b.fadd(m, self.c(1.0)))
        s = b.fmul(f, f)
        s2 = b.fmul(s, s)
        s4 = b.fmul(s2, s2)
        b0 = self.fma(self.pair(1.0 / 7, 1.0 / 9, s), s2, self.pair(1.0 / 3, 1.0 / 5, s))
        b1 = self.fma(self.pair(1.0 / 15, 1.0 / 17, s), s2, self.pair(1.0 / 11, 1.0 / 13, s))
        b2 = self.fma(self.c(1.0 / 23), s2, self.pair(1.0 / 19, 1.0 / 21, s))
        tail = b.fmul(s, self.fma(b2, b.fmul(s4, s4), self.fma(b1, s4, b0)))
        f2 = b.fadd(f, f)
        out = self.fma(e, self.c(_LN2_HI), b.fadd(f2, self.fma(f2, tail, b.fmul(e, self.c(_LN2_LO)))))
        out = self.sel(self.gt(x, self.c(0.0)), out,
                       self.sel(self.lt(x, self.c(0.0)), self.c(math.nan), self.c(-math.inf)))
        return self.sel(self.lt(x, self.c(math.inf)), out, x)

    def power(self, x: ir.Value, n: ir.Value, const: float | None = None) -> ir.Value:
        """x**n for x > 0 (0 otherwise): repeated multiplication where n is whole in 0..MAX_WHOLE (as the scalar
        code), the cube root (:meth:`cbrt`) for a constant 1/3, exp(n log x) in other lanes. ``const``: n's value
        where it is a constant of the model (the branches are then decided here). With a run-time n, a batch whose
        lanes share one whole n (a parameter without variability between patients: the usual case) multiplies that
        many times in a loop, and a batch with no whole n takes only exp(n log x); the lane-by-lane ladder is left for
        mixed batches. Every path gives the ladder's numbers."""
        b = self.b
        if const is not None:
            if float(const).is_integer() and 0 <= const <= MAX_WHOLE:
                out = self._product(x, int(const))
            elif const == 1.0 / 3.0:
                out = self.cbrt(x)
            else:
                out = self.exp(b.fmul(n, self.log(x)))
            return self.sel(self.gt(x, self.c(0.0)), out, self.c(0.0))
        whole = b.and_(b.and_(b.fcmp_ordered("==", self.intrinsic("floor", n), n),
                              b.fcmp_ordered(">=", n, self.c(0.0))), b.fcmp_ordered("<=", n, self.c(float(MAX_WHOLE))))
        fn = b.function
        gen, other, head, body, mixed, done = (fn.append_basic_block(f"pow.{name}") for name in
                                               ("general", "whole", "loop", "times", "mixed", "done"))
        incoming: list[tuple[ir.Value, ir.Block]] = []
        b.cbranch(b.not_(self.any(whole)), gen, other)
        b.position_at_end(gen)
        incoming.append((self.exp(b.fmul(n, self.log(x))), b.block))
        b.branch(done)
        b.position_at_end(other)
        if self.width > 1:
            n0 = b.extract_element(n, ir.Constant(_I32, 0))
            splat = b.shuffle_vector(n, ir.Constant(self.ty, ir.Undefined),
                                     ir.Constant(ir.VectorType(_I32, self.width), [0] * self.width))
            same = b.bitcast(b.and_(whole, b.fcmp_ordered("==", n, splat)), ir.IntType(self.width))
            uniform = b.icmp_unsigned("==", same, ir.Constant(ir.IntType(self.width), (1 << self.width) - 1))
        else:
            n0, uniform = n, whole
        k = b.fptosi(n0, _I32)
        b.cbranch(uniform, head, mixed)
        # every lane's n is the same whole k: 1 * x * ... * x in a loop (small code, the scalar code's order)
        b.position_at_end(head)
        i = b.phi(_I32)
        r = b.phi(self.ty)
        i.add_incoming(ir.Constant(_I32, 0), other)
        r.add_incoming(self.c(1.0), other)
        b.cbranch(b.icmp_signed("<", i, k), body, done)
        b.position_at_end(body)
        i.add_incoming(b.add(i, ir.Constant(_I32, 1)), body)
        r.add_incoming(b.fmul(r, x), body)
        b.branch(head)
        incoming.append((r, head))
        b.position_at_end(mixed)
        incoming.append((self._ladder(x, n, whole), b.block))
        b.branch(done)
        b.position_at_end(done)
        phi = b.phi(self.ty)
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return self.sel(self.gt(x, self.c(0.0)), phi, self.c(0.0))

    def cbrt(self, x: ir.Value) -> ir.Value:
        """x^(1/3) for x > 0, within 1 ulp (+inf for +inf; other x: a value the caller selects away). A first guess
        at y = x^(-1/3) from the bits of x (within 3.5%), four Newton steps on y that need no division
        (y <- y (4 - x y^3) / 3: relative errors 3.5e-2, 2.4e-3, 1.2e-5, 3e-10, 2e-19), then t = x y^2 and one
        correction t + (x - t^3) y^2 / 3 with the residual fused. About a third of exp(log(x) / 3)'s operations."""
        b = self.b
        subn = self.lt(x, self.c(_TINY))
        xs = self.sel(subn, b.fmul(x, self.c(18014398509481984.0)), x)  # 2^54: a normal number, cube root 2^18
        third = b.fptosi(b.fmul(b.sitofp(b.bitcast(xs, self.ity), self.ty), self.c(1.0 / 3.0)), self.ity)
        y = b.bitcast(b.sub(self.ci(_RCBRT_MAGIC), third), self.ty)
        for _ in range(4):
            y3 = b.fmul(b.fmul(y, y), y)
            y = b.fmul(b.fmul(y, b.fsub(self.c(4.0), b.fmul(xs, y3))), self.c(1.0 / 3.0))
        y2 = b.fmul(y, y)
        t = b.fmul(xs, y2)
        resid = self.fma(b.fneg(b.fmul(t, t)), t, xs)
        t = b.fadd(t, b.fmul(resid, b.fmul(y2, self.c(1.0 / 3.0))))
        t = self.sel(subn, b.fmul(t, self.c(1.0 / 262144.0)), t)
        return self.sel(b.fcmp_ordered("==", x, self.c(math.inf)), x, t)

    def _product(self, x: ir.Value, k: int) -> ir.Value:
        """1 * x * ... * x (k factors), as the scalar code multiplies."""
        r = self.c(1.0)
        for _ in range(k):
            r = self.b.fmul(r, x)
        return r

    def _ladder(self, x: ir.Value, n: ir.Value, whole: ir.Value) -> ir.Value:
        """x**n lane by lane: the repeated product where n is whole (a loop over 1..MAX_WHOLE multiplying the lanes
        with n >= k), exp(n log x) (computed only when some lane needs it) elsewhere."""
        b = self.b
        fn = b.function
        entry = b.block
        head, body, after = (fn.append_basic_block(f"ladder.{name}") for name in ("loop", "times", "after"))
        b.branch(head)
        b.position_at_end(head)
        k = b.phi(self.ty)
        r = b.phi(self.ty)
        k.add_incoming(self.c(1.0), entry)
        r.add_incoming(self.c(1.0), entry)
        b.cbranch(b.fcmp_ordered("<=", b.extract_element(k, ir.Constant(_I32, 0)) if self.width > 1 else k,
                                 ir.Constant(_DBL, float(MAX_WHOLE))), body, after)
        b.position_at_end(body)
        r.add_incoming(self.sel(b.fcmp_ordered(">=", n, k), b.fmul(r, x), r), body)
        k.add_incoming(b.fadd(k, self.c(1.0)), body)
        b.branch(head)
        b.position_at_end(after)
        with b.if_then(self.any(b.not_(whole)), likely=False):
            general = self.exp(b.fmul(n, self.log(x)))
            gblock = b.block
        phi = b.phi(self.ty)
        phi.add_incoming(general, gblock)
        phi.add_incoming(r, after)
        return self.sel(whole, r, phi)
