"""Work that only absent agents feed, skipped while they are absent: a rewrite of the traced right-hand side for the
vector kernel.

A state declared with an ``agent`` (:class:`nksim.kinetics.processes.State`: the antibody, the engager, a cytokine
depot, systemic antigen-bearing cells or tumor, the T-cell activation program) is exactly zero in every patient of a
scenario that does not give that agent. Much of the right-hand side is then zero by its structure: a
product with such a state as a factor, a quotient with it in the numerator, a sum of such terms. This module finds,
for each agent, the largest such subexpressions (zero whenever all of the agent's states are zero, used by something
that is not) and wraps each use in ``where(agent present, subexpression, 0)`` with the condition "some state of the
agent is not exactly zero (or is NaN)", computed lazily: the vector kernel computes the subexpression only when some
lane has the agent (:mod:`nksim.kinetics.codegen.schedule` puts it in a guarded region). Only agents that most
scenarios lack are declared: a guard costs a test and a branch, and guarding cells that most products have (the
transduced and untransduced pools) made GPC3's kernel 9% slower.

The numbers are those of the unguarded code: where the guard is false, the subexpression would have evaluated to
zero (IEEE: 0 x finite = 0, 0 / nonzero = 0, 0 + 0 = 0, and the model's power of 0 is 0; only signed zeros and a NaN
made elsewhere could differ, and a NaN state counts as present).
"""

from __future__ import annotations

from nksim.kinetics.symbolic import LEAVES, Expr, postorder


def agent_states(lay, nl: int, nc: int) -> dict[str, list[int]]:
    """State indices of each agent for a configuration of ``nl`` lesions and ``nc`` antigen classes."""
    out: dict[str, list[int]] = {}
    for s in lay.SYSTEMIC:
        if s.agent:
            out.setdefault(s.agent, []).append(lay.SYSTEMIC_INDEX[s.name])
    for s in lay.LESION:
        if s.agent:
            k = lay.LESION_INDEX[s.name]
            out.setdefault(s.agent, []).extend(lay.NSYS + l * lay.lesion_block(nc) + k for l in range(nl))
    return out


def _zero_sets(order: list[Expr], zero_of: dict[int, frozenset[str]]) -> dict[int, frozenset[str]]:
    """For each node (``order``: children first), the agents whose absence makes it exactly zero by structure."""
    every = frozenset().union(*zero_of.values()) if zero_of else frozenset()
    none: frozenset[str] = frozenset()
    memo: dict[int, frozenset[str]] = {}
    for e in order:
        op = e.op
        if op == "y":
            z = zero_of.get(e.val, none)  # type: ignore[arg-type]
        elif op == "const":
            z = every if e.val == 0.0 else none
        elif op in LEAVES:
            z = none
        elif op == "mul":
            z = memo[e.args[0].id] | memo[e.args[1].id]
        elif op in ("add", "sub"):
            z = memo[e.args[0].id] & memo[e.args[1].id]
        elif op in ("div", "pos", "pow"):  # 0 / d, max(0, 0), the model's power of 0
            z = memo[e.args[0].id]
        elif op == "where":
            z = memo[e.args[1].id] & memo[e.args[2].id]
        else:  # exp, log, sqrt, conditions: not zero at zero
            z = none
        memo[e.id] = z
    return memo


def guard_absent_agents(outputs: list[Expr], agents: dict[str, list[int]]) -> list[Expr]:
    """``outputs`` with the work that only absent agents feed guarded (see the module docstring)."""
    if not agents:
        return outputs
    zero_of: dict[int, frozenset[str]] = {}
    for name, idx in agents.items():
        for i in idx:
            zero_of[i] = zero_of.get(i, frozenset()) | {name}
    order = postorder(outputs)
    zs = _zero_sets(order, zero_of)
    leaves = {e.val: e for e in order if e.op == "y"}
    present: dict[str, Expr | None] = {}

    def condition(agent: str) -> Expr | None:
        """Some state of ``agent`` is not exactly zero (or is NaN); None where the graph reads none of them."""
        if agent not in present:
            c = None
            for i in sorted(agents[agent]):
                if i in leaves:
                    nz = Expr("nz", (leaves[i],))
                    c = nz if c is None else Expr("or", (c, nz))
            present[agent] = c
        return present[agent]

    zero = Expr("const", val=0.0)
    rebuilt: dict[int, Expr] = {}

    def use(a: Expr, parent_zero: frozenset[str]) -> Expr:
        """``a`` (rebuilt) as a parent that is zero for the agents ``parent_zero`` uses it."""
        if a.op in LEAVES:
            return a
        r = rebuilt[a.id]
        z = zs[a.id] - parent_zero
        cond = condition(min(z)) if z else None
        return r if cond is None else Expr("where", (cond, r, zero), lazy=True)

    for x in order:
        if x.op not in LEAVES:
            args = tuple(use(a, zs[x.id]) for a in x.args)
            rebuilt[x.id] = x if all(a is b for a, b in zip(args, x.args)) else Expr(x.op, args, x.val, x.lazy)
    return [use(o, frozenset()) for o in outputs]
