"""Infix formulas of expressions (SBML Level 3 infix syntax; the docs table; ``repr`` of a node)."""

from __future__ import annotations

from typing import Callable

from nksim.kinetics.symbolic import Expr

_BIN = {"add": "+", "sub": "-", "mul": "*", "div": "/", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
        "and": "&&", "or": "||"}
_PREC = {"or": 1, "and": 2, "gt": 3, "ge": 3, "lt": 3, "le": 3, "add": 4, "sub": 4, "mul": 5, "div": 5}


def _num(x: float) -> str:
    if x == float("inf"):
        return "INF"
    if x != x:
        return "NaN"
    return repr(float(x))


def infix(e: Expr, leaf: Callable[[Expr], str] | None = None, named: Callable[[Expr], str | None] | None = None,
          depth: int = 0) -> str:
    """The formula of ``e``. ``leaf`` names leaves (default: their labels); ``named``: a name to use instead of
    expanding a node (None: expand), e.g. a quantity defined by its own rule."""
    if e.op == "const":
        return _num(e.val)  # type: ignore[arg-type]
    if e.op in ("y", "p", "seg", "t", "arg", "pool"):
        if leaf is not None:
            return leaf(e)
        return e.name or ("time" if e.op == "t" else f"{e.op}[{e.val}]")
    if depth and named is not None:
        n = named(e)
        if n is not None:
            return n

    def sub(x: Expr, prec: int = 0, right: bool = False) -> str:
        s = infix(x, leaf, named, depth + 1)
        px = _PREC.get(x.op, 9)
        if (named is not None and named(x) is not None) or x.op in ("y", "p", "seg", "t", "arg", "pool", "const"):
            px = 9
        if px < prec or (right and px == prec and x.op in _PREC):
            return f"({s})"
        return s

    op = e.op
    if op in _BIN:
        p = _PREC[op]
        return f"{sub(e.args[0], p)} {_BIN[op]} {sub(e.args[1], p, right=True)}"
    if op in ("exp", "log", "sqrt"):
        return f"{op if op != 'log' else 'ln'}({sub(e.args[0])})"
    if op == "pos":
        a = sub(e.args[0])
        return f"piecewise({a}, {a} > 0, 0)"
    if op == "pow":
        a = sub(e.args[0])
        return f"piecewise(({a})^({sub(e.args[1])}), {a} > 0, 0)"
    if op == "where":
        return f"piecewise({sub(e.args[1])}, {sub(e.args[0])}, {sub(e.args[2])})"
    raise ValueError(f"no infix form for {op!r}")
