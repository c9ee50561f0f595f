"""Structured control flow on an llvmlite ``IRBuilder``: mutable variables and arrays on the stack, counted and
conditional loops with ``break``/``continue``, short-circuit ``and``, so that imperative code (the lane scheduler)
reads as it would in Python. Variables are allocas in the function's entry block; LLVM's mem2reg/SROA turns them
into registers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llvmlite import ir

DBL = ir.DoubleType()
I64 = ir.IntType(64)
I1 = ir.IntType(1)


def i64(x: int) -> ir.Constant:
    return ir.Constant(I64, int(x))


def f64(x: float) -> ir.Constant:
    return ir.Constant(DBL, float(x))


class Var:
    """A mutable scalar on the stack."""

    def __init__(self, flow: Flow, ptr: ir.Value) -> None:
        self.flow = flow
        self.ptr = ptr

    def get(self) -> ir.Value:
        return self.flow.b.load(self.ptr)

    def set(self, v: ir.Value) -> None:
        self.flow.b.store(v, self.ptr)


class Flow:
    """Builds a function body; ``fn`` must have no blocks yet."""

    def __init__(self, fn: ir.Function) -> None:
        self.fn = fn
        self._allocas = fn.append_basic_block("allocas")
        body = fn.append_basic_block("body")
        self.b = ir.IRBuilder(self._allocas)
        self.b.branch(body)
        self.b.position_at_end(body)
        self._loops: list[tuple[ir.Block, ir.Block]] = []  # (continue target, break target)

    # ---- storage ---------------------------------------------------------------------------------------------
    def var(self, ty: ir.Type, init: ir.Value | None = None) -> Var:
        with self.b.goto_block(self._allocas):
            ptr = self.b.alloca(ty)
        v = Var(self, ptr)
        if init is not None:
            v.set(init)
        return v

    def array(self, ty: ir.Type, count: int | ir.Value, align: int = 32, per: int = 1) -> ir.Value:
        """Pointer to the first of ``count`` x ``per`` elements of type ``ty`` on the stack (``count``: a constant,
        or an i64 argument of the function: one allocation per call)."""
        with self.b.goto_block(self._allocas):
            if isinstance(count, ir.Value):
                first = self.b.alloca(ty, size=self.b.mul(count, i64(per)))
                first.align = align
                return first
            count *= per
            ptr = self.b.alloca(ir.ArrayType(ty, max(1, count)))
            ptr.align = align
            first = self.b.bitcast(ptr, ty.as_pointer())
        return first

    def at(self, ptr: ir.Value, *index: ir.Value | int) -> ir.Value:
        """Address of ``ptr[index]`` (an index sum of the given terms)."""
        idx = None
        for x in index:
            xv = i64(x) if isinstance(x, int) else x
            idx = xv if idx is None else self.b.add(idx, xv)
        return self.b.gep(ptr, [idx if idx is not None else i64(0)], inbounds=True)

    def load(self, ptr: ir.Value, *index: ir.Value | int) -> ir.Value:
        return self.b.load(self.at(ptr, *index), align=8)

    def store(self, v: ir.Value, ptr: ir.Value, *index: ir.Value | int) -> None:
        self.b.store(v, self.at(ptr, *index), align=8)

    # ---- conditions ------------------------------------------------------------------------------------------
    def all_(self, *conds: Callable[[], ir.Value]) -> ir.Value:
        """Short-circuit ``c1() and c2() and ...``: each condition is evaluated only when the previous ones hold."""
        b = self.b
        end = self.fn.append_basic_block("and.end")
        incoming = []
        for k, c in enumerate(conds):
            v = c()
            if k == len(conds) - 1:
                incoming.append((v, b.block))
                b.branch(end)
            else:
                nxt = self.fn.append_basic_block("and.next")
                incoming.append((ir.Constant(I1, 0), b.block))
                b.cbranch(v, nxt, end)
                b.position_at_end(nxt)
        b.position_at_end(end)
        phi = b.phi(I1)
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return phi

    # ---- loops -----------------------------------------------------------------------------------------------
    @contextmanager
    def while_(self, cond: Callable[[], ir.Value]) -> Iterator[None]:
        """``while cond(): body`` (cond is emitted at the loop head, so it is re-evaluated every pass)."""
        b = self.b
        head = self.fn.append_basic_block("while.head")
        body = self.fn.append_basic_block("while.body")
        after = self.fn.append_basic_block("while.end")
        b.branch(head)
        b.position_at_end(head)
        b.cbranch(cond(), body, after)
        b.position_at_end(body)
        self._loops.append((head, after))
        yield
        self._loops.pop()
        if b.block.terminator is None:
            b.branch(head)
        b.position_at_end(after)

    @contextmanager
    def range_(self, start: ir.Value | int, stop: ir.Value | int, step: int = 1) -> Iterator[ir.Value]:
        """``for k in range(start, stop, step)`` (step > 0) yielding k (i64)."""
        b = self.b
        stop_v = i64(stop) if isinstance(stop, int) else stop
        k = self.var(I64, i64(start) if isinstance(start, int) else start)
        head = self.fn.append_basic_block("for.head")
        body = self.fn.append_basic_block("for.body")
        inc = self.fn.append_basic_block("for.inc")
        after = self.fn.append_basic_block("for.end")
        b.branch(head)
        b.position_at_end(head)
        b.cbranch(b.icmp_signed("<", k.get(), stop_v), body, after)
        b.position_at_end(body)
        self._loops.append((inc, after))
        yield k.get()
        self._loops.pop()
        if b.block.terminator is None:
            b.branch(inc)
        b.position_at_end(inc)
        k.set(b.add(k.get(), i64(step)))
        b.branch(head)
        b.position_at_end(after)

    def continue_(self) -> None:
        self._jump(self._loops[-1][0])

    def break_(self) -> None:
        self._jump(self._loops[-1][1])

    def _jump(self, target: ir.Block) -> None:
        self.b.branch(target)
        self.b.position_at_end(self.fn.append_basic_block("dead"))  # code after a jump is unreachable
