"""The traced model as Python source: the scalar right-hand side and the event function of one configuration.

``rhs(t, y, p, seg, dy, alg)`` writes d(state)/dt and the algebraic outputs; ``event(kind, t, y, p, seg, a, b)``
applies one event in place (states and the segment description). Every ``where`` becomes an ``if``, so the code
computes only what its branch needs (and never divides by a zero its condition excludes). The reference backend
compiles this source with numba; uncompiled it is the plain-Python baseline of the benchmark.
"""

from __future__ import annotations

import linecache
import math
import re
from functools import lru_cache
from typing import Callable

from nksim.kinetics.codegen.schedule import Group, Region, schedule
from nksim.kinetics.processes import trace
from nksim.kinetics.symbolic import Expr

_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
        "and": "and", "or": "or"}
HEADER = '''import math


def _power(x, n):
    """x**n for x >= 0 (0 for x <= 0); a whole n from 0 to 16 by repeated multiplication."""
    if x <= 0.0:
        return 0.0
    k = int(n)
    if k == n and 0 <= k <= 16:
        r = 1.0
        for _ in range(k):
            r *= x
        return r
    return x ** n
'''


class _Writer:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.used: set[str] = set()
        self.lines: list[str] = []

    def name(self, e: Expr) -> str:
        if e.id in self.names:
            return self.names[e.id]
        base = re.sub(r"\W", "_", e.name) if e.name else "x"
        n = base
        k = 1
        while n in self.used or n in ("t", "y", "p", "seg", "dy", "alg", "a", "b", "kind", "math"):
            n = f"{base}_{k}"
            k += 1
        self.used.add(n)
        self.names[e.id] = n
        return n

    def atom(self, e: Expr) -> str:
        op = e.op
        if op == "const":
            v = float(e.val)  # type: ignore[arg-type]
            if v != v:
                return "math.nan"
            if v in (math.inf, -math.inf):
                return "math.inf" if v > 0 else "(-math.inf)"
            return repr(v) if v >= 0 else f"({v!r})"
        if op == "y":
            return f"y[{e.val}]"
        if op == "p":
            return f"p[{e.val}]"
        if op == "seg":
            return f"seg[{e.val}]"
        if op == "t":
            return "t"
        if op == "arg":
            return "ab"[e.val]  # type: ignore[index]
        return self.names[e.id]

    def stmt(self, e: Expr, ind: str) -> None:
        a = [self.atom(x) for x in e.args]
        op = e.op
        if op in _OPS:
            rhs = f"{a[0]} {_OPS[op]} {a[1]}"
        elif op in ("exp", "log", "sqrt"):
            rhs = f"math.{op}({a[0]})"
        elif op == "pos":
            rhs = f"{a[0]} if {a[0]} > 0.0 else 0.0"
        elif op == "pow":
            rhs = f"_power({a[0]}, {a[1]})"
        elif op == "where":
            rhs = f"{a[1]} if {a[0]} else {a[2]}"
        else:
            raise ValueError(op)
        self.lines.append(f"{ind}{self.name(e)} = {rhs}")

    def region(self, r: Region, ind: str) -> None:
        for it in r.items:
            if isinstance(it, Group):
                for w in it.wheres:
                    self.name(w)
                self.lines.append(f"{ind}if {self.atom(it.cond)}:")
                self._branch(it.then, [w.args[1] for w in it.wheres], it.wheres, ind + "    ")
                self.lines.append(f"{ind}else:")
                self._branch(it.other, [w.args[2] for w in it.wheres], it.wheres, ind + "    ")
            else:
                self.stmt(it, ind)

    def _branch(self, r: Region | None, values: list[Expr], wheres: list[Expr], ind: str) -> None:
        if r is not None:
            self.region(r, ind)
        for w, v in zip(wheres, values):
            self.lines.append(f"{ind}{self.names[w.id]} = {self.atom(v)}")


def _guard_all(w: Expr) -> tuple[bool, bool]:
    return True, True


def rhs_source(nl: int, nc: int, name: str = "rhs") -> str:
    """Python source of ``name(t, y, p, seg, dy, alg)`` for ``nl`` lesions and ``nc`` classes."""
    tr = trace(nl, nc)
    w = _Writer()
    region = schedule(tr.derivatives + tr.algebraic, _guard_all)
    w.region(region, "    ")
    for i, e in enumerate(tr.derivatives):
        w.lines.append(f"    dy[{i}] = {w.atom(e)}")
    for k, e in enumerate(tr.algebraic):
        w.lines.append(f"    alg[{k}] = {w.atom(e)}")
    doc = (f'    """d(state)/dt and algebraic outputs of the model with {nl} lesion(s) and {nc} antigen class(es), '
           f'generated from nksim.kinetics.processes."""')
    return "\n".join([f"def {name}(t, y, p, seg, dy, alg):", doc, *w.lines, ""])


def event_source(nl: int, nc: int, name: str = "event") -> str:
    """Python source of ``name(kind, t, y, p, seg, a, b)``: the jumps of event ``kind`` at time t, in place."""
    tr = trace(nl, nc)
    lines = [f"def {name}(kind, t, y, p, seg, a, b):",
             f'    """Apply event ``kind`` at time t ({nl} lesion(s), {nc} class(es)); generated."""']
    first = True
    for code, (states, seg) in tr.events.items():
        w = _Writer()
        outs = list(states.values()) + list(seg.values())
        w.region(schedule(outs, _guard_all), "        ")
        kw = "if" if first else "elif"
        first = False
        lines.append(f"    {kw} kind == {code}:")
        lines += w.lines
        for i, e in states.items():
            lines.append(f"        y[{i}] = {w.atom(e)}")
        for k, e in seg.items():
            lines.append(f"        seg[{k}] = {w.atom(e)}")
    lines.append("")
    return "\n".join(lines)


def module_source(nl: int, nc: int) -> str:
    return "\n\n".join([HEADER, rhs_source(nl, nc), event_source(nl, nc)])


def _module(nl: int, nc: int, tag: str) -> dict:
    """The generated module's namespace (its source registered with linecache, so tracebacks show the lines)."""
    src = module_source(nl, nc)
    fname = f"<nksim-model-{nl}x{nc}{tag}>"
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    ns: dict = {}
    exec(compile(src, fname, "exec"), ns)
    return ns


@lru_cache(maxsize=None)
def python_functions(nl: int, nc: int) -> tuple[Callable, Callable]:
    """(rhs, event) as plain Python functions."""
    ns = _module(nl, nc, "")
    return ns["rhs"], ns["event"]


@lru_cache(maxsize=None)
def numba_functions(nl: int, nc: int) -> tuple[Callable, Callable]:
    """(rhs, event) compiled by numba (IEEE semantics: a division by zero gives inf, as in the vector kernel)."""
    from numba import njit

    ns = _module(nl, nc, "-numba")
    ns["_power"] = njit(ns["_power"])
    return njit(error_model="numpy")(ns["rhs"]), njit(error_model="numpy")(ns["event"])
