"""Symbolic rate laws: the one dialect every process of the model is written in.

A process writes its rate laws with ordinary Python arithmetic on :class:`Expr` values (states, parameters, time)
and the few functions below. Running a process's ``rates`` for one configuration (number of lesions and antigen
classes) traces an expression graph; code generators turn that graph into the compiled lane kernel, the scalar
reference right-hand side, SBML and the docs table (:mod:`nksim.kinetics.codegen`). Nothing else writes an equation.

Semantics are those of IEEE doubles: ``a / b`` with b = 0 gives inf, no exceptions. A comparison gives a condition,
usable only in :func:`where`; ``bool(expr)`` is an error, so a process cannot branch on a value by mistake.
"""

from __future__ import annotations

import itertools
import math
import weakref
from typing import Union

Number = Union[int, float]
_ids = itertools.count()
_interned: "weakref.WeakValueDictionary[tuple, Expr]" = weakref.WeakValueDictionary()
_LEAF_OPS = frozenset({"y", "p", "seg", "t", "arg", "pool"})


class Expr:
    """A node of the expression graph. ``op`` names the operation, ``args`` are child nodes, ``val`` holds a
    constant's value or a leaf's index; ``name`` is the quantity's name where a process gave it one."""

    __slots__ = ("op", "args", "val", "name", "id", "lazy", "__weakref__")

    def __new__(cls, op: str, args: tuple["Expr", ...] = (), val: object = None, lazy: bool = False) -> "Expr":
        # operations and constants are hash-consed: the same operation on the same operands is the same node, so
        # common subexpressions are computed once whichever process wrote them (leaves belong to their model)
        key = None
        if op not in _LEAF_OPS:
            key = (op, tuple(a.id for a in args), repr(val), lazy)
            e = _interned.get(key)
            if e is not None:
                return e
        e = object.__new__(cls)
        e.op = op
        e.args = args
        e.val = val
        e.name = None
        e.id = next(_ids)
        e.lazy = lazy
        if key is not None:
            _interned[key] = e
        return e

    # ---- arithmetic ------------------------------------------------------------------------------------------
    def __add__(self, o: "Expr | Number") -> "Expr":
        return _bin("add", self, o)

    def __radd__(self, o: Number) -> "Expr":
        return _bin("add", o, self)

    def __sub__(self, o: "Expr | Number") -> "Expr":
        return _bin("sub", self, o)

    def __rsub__(self, o: Number) -> "Expr":
        return _bin("sub", o, self)

    def __mul__(self, o: "Expr | Number") -> "Expr":
        return _bin("mul", self, o)

    def __rmul__(self, o: Number) -> "Expr":
        return _bin("mul", o, self)

    def __truediv__(self, o: "Expr | Number") -> "Expr":
        return _bin("div", self, o)

    def __rtruediv__(self, o: Number) -> "Expr":
        return _bin("div", o, self)

    def __neg__(self) -> "Expr":
        return _bin("sub", 0.0, self)

    # ---- conditions ------------------------------------------------------------------------------------------
    def __gt__(self, o: "Expr | Number") -> "Expr":  # type: ignore[override]
        return _bin("gt", self, o)

    def __ge__(self, o: "Expr | Number") -> "Expr":  # type: ignore[override]
        return _bin("ge", self, o)

    def __lt__(self, o: "Expr | Number") -> "Expr":  # type: ignore[override]
        return _bin("lt", self, o)

    def __le__(self, o: "Expr | Number") -> "Expr":  # type: ignore[override]
        return _bin("le", self, o)

    def __and__(self, o: "Expr") -> "Expr":
        return _bin("and", self, o)

    def __or__(self, o: "Expr") -> "Expr":
        return _bin("or", self, o)

    def __bool__(self) -> bool:
        raise TypeError("a symbolic value has no truth value: use where(condition, a, b) in a rate law")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        from nksim.kinetics.codegen.infix import infix

        return infix(self)

    @property
    def is_condition(self) -> bool:
        return self.op in CONDITIONS


CONDITIONS = {"gt", "ge", "lt", "le", "and", "or"}
UNARY = {"exp", "log", "sqrt", "pos"}
LEAVES = {"const", "y", "p", "seg", "t", "arg", "pool"}


def const(x: Number) -> Expr:
    return Expr("const", val=float(x))


def lift(x: "Expr | Number") -> Expr:
    """A number as a constant node; a node as itself."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return const(x)
    raise TypeError(f"cannot use {type(x).__name__} {x!r} in a rate law")


def _bin(op: str, a: "Expr | Number", b: "Expr | Number") -> Expr:
    a, b = lift(a), lift(b)
    if op in ("and", "or") and not (a.is_condition and b.is_condition):
        raise TypeError(f"'{op}' joins two conditions")
    if op not in CONDITIONS and (a.is_condition or b.is_condition):
        raise TypeError(f"a condition cannot be an operand of '{op}': use where()")
    return Expr(op, (a, b))


def _unary(op: str, x: "Expr | Number") -> Expr:
    x = lift(x)
    if x.is_condition:
        raise TypeError(f"{op}() of a condition")
    return Expr(op, (x,))


def exp(x: "Expr | Number") -> Expr:
    return _unary("exp", x)


def log(x: "Expr | Number") -> Expr:
    return _unary("log", x)


def sqrt(x: "Expr | Number") -> Expr:
    return _unary("sqrt", x)


def pos(x: "Expr | Number") -> Expr:
    """max(x, 0); NaN reads as 0."""
    return _unary("pos", x)


def power(x: "Expr | Number", n: "Expr | Number") -> Expr:
    """x**n for x >= 0 (0 for x <= 0); a whole n from 0 to 16 by repeated multiplication."""
    return Expr("pow", (lift(x), lift(n)))


def where(cond: Expr, a: "Expr | Number", b: "Expr | Number", lazy: bool = False) -> Expr:
    """``a`` where ``cond`` holds, else ``b`` (lane by lane). ``lazy``: ``a`` is costly and rarely needed, so the
    vector kernel computes it only when some lane needs it (the value is the same either way)."""
    if not isinstance(cond, Expr) or not cond.is_condition:
        raise TypeError("where() takes a condition (a comparison) first")
    return Expr("where", (cond, lift(a), lift(b)), lazy=lazy)


def minimum(a: "Expr | Number", b: "Expr | Number") -> Expr:
    a, b = lift(a), lift(b)
    return where(a < b, a, b)


def total(terms) -> Expr:
    """The sum of the terms, added left to right (0 for none)."""
    out: Expr | None = None
    for x in terms:
        out = lift(x) if out is None else out + x
    return const(0.0) if out is None else out


def postorder(roots: "list[Expr]") -> "list[Expr]":
    """Every node of the graph under ``roots`` once, children before parents (leaves included): depth first from the
    roots in their order, a node's operands in theirs, so each node comes right before its first use."""
    order: list[Expr] = []
    seen: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(e, False) for e in reversed(roots)]
    while stack:
        e, done = stack.pop()
        if done:
            order.append(e)
            continue
        if e.id in seen:
            continue
        seen.add(e.id)
        stack.append((e, True))
        stack.extend((a, False) for a in reversed(e.args))
    return order


def evaluate(x: "Expr | Number", env: dict) -> float:
    """A node's value with leaves from ``env`` (keys: ('y', i), ('p', i), ('seg', k), ('t',), ('arg', k)); a plain
    evaluator for tests and small tools."""
    memo: dict[int, float] = {}

    def ev(e: Expr) -> float:
        if e.id in memo:
            return memo[e.id]
        op = e.op
        if op == "const":
            v = e.val
        elif op in LEAVES:
            v = env[(op,) if e.val is None else (op, e.val)]
        elif op == "where":
            v = ev(e.args[1]) if ev(e.args[0]) else ev(e.args[2])
        else:
            xs = [ev(a) for a in e.args]
            v = _scalar_op(op, xs)
        memo[e.id] = v
        return v

    return ev(lift(x))


def _scalar_op(op: str, xs: list) -> float:
    a = xs[0]
    b = xs[1] if len(xs) > 1 else None
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return a / b if b != 0 else (math.copysign(math.inf, a) if a != 0 else math.nan)
    if op == "gt":
        return a > b
    if op == "ge":
        return a >= b
    if op == "lt":
        return a < b
    if op == "le":
        return a <= b
    if op == "and":
        return a and b
    if op == "or":
        return a or b
    if op == "exp":
        return math.exp(a) if a < 709.78 else math.inf
    if op == "log":
        return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
    if op == "sqrt":
        return math.sqrt(a) if a >= 0 else math.nan
    if op == "pos":
        return a if a > 0 else 0.0
    if op == "nz":  # not exactly zero, or NaN (the code generators' guard of an absent agent)
        return a != 0.0
    if op == "pow":
        return a ** b if a > 0 else 0.0
    raise ValueError(f"unknown operation {op!r}")
