"""Order an expression graph into straight-line code with guarded regions.

Every non-leaf node becomes one statement. A :func:`~nksim.kinetics.symbolic.where` whose branch is *guarded*
opens a region that is computed only when its condition holds (a ``if`` in Python, a branch around the block in the
vector kernel when no lane needs it); a node is placed in the innermost region that holds all its uses, so work
needed only under a condition is done only then. Wheres with the same condition share one region. Within a region
statements keep the order in which the processes created them, as far as dependencies allow, or (``demand``) the
order of their first use.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, Union

from nksim.kinetics.symbolic import LEAVES, Expr, postorder

Path = tuple[tuple[tuple[int, int], bool], ...]


@dataclass
class Group:
    """Wheres sharing the condition ``cond`` at one level: ``then`` is computed when it holds, ``other`` when not."""

    cond: Expr
    wheres: list[Expr] = field(default_factory=list)
    then: "Region | None" = None
    other: "Region | None" = None


@dataclass
class Region:
    items: list[Union[Expr, Group]] = field(default_factory=list)


def _lcp(a: Path, b: Path) -> Path:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


def _demand_order(outputs: list[Expr]) -> dict[int, int]:
    """Position of each node in a depth-first post-order from ``outputs``, in their order: a node right before its
    first use."""
    return {e.id: k for k, e in enumerate(x for x in postorder(outputs) if x.op not in LEAVES)}


def _layers(outputs: list[Expr], guard: Callable[[Expr], tuple[bool, bool]]) -> dict[int, int]:
    """For each guarded where, its layer among the guarded wheres of its condition: 1 + the highest layer of those it
    is computed from (0 if none). Wheres of one condition and layer share a region; a where computed from another of
    its condition (through values outside both) cannot share that one's region without a cycle."""
    below: dict[int, dict[int, int]] = {}  # node -> condition -> 1 + highest layer of the guarded wheres under it
    layer: dict[int, int] = {}
    empty: dict[int, int] = {}
    for e in postorder(outputs):
        if e.op in LEAVES:
            continue
        acc: dict[int, int] = {}
        for a in e.args:
            for c, k in below.get(a.id, empty).items():
                if acc.get(c, -1) < k:
                    acc[c] = k
        if e.op == "where" and any(guard(e)):
            c = e.args[0].id
            layer[e.id] = acc.get(c, 0)
            acc = dict(acc)
            acc[c] = layer[e.id] + 1
        below[e.id] = acc if acc else empty
    return layer


def schedule(outputs: list[Expr], guard: Callable[[Expr], tuple[bool, bool]], demand: bool = False) -> Region:
    """Code order for ``outputs``. ``guard(where)`` says whether its then / else value is computed only under its
    condition (Python: both; the vector kernel: the then value of a lazy where). ``demand``: order statements by
    first use (depth first from the outputs, in their order) instead of by creation, so that values live briefly
    (fewer register spills in the vector kernel)."""
    layers = _layers(outputs, guard)

    def region_key(w: Expr) -> tuple[int, int]:
        """The region a guarded where's branches go to: one per condition and layer."""
        return (w.args[0].id, layers.get(w.id, 0))

    place: dict[int, Path] = {}
    node: dict[int, Expr] = {}
    stack: list[tuple[Expr, Path]] = [(e, ()) for e in reversed(outputs)]
    while stack:
        e, path = stack.pop()
        if e.op in LEAVES:
            continue
        old = place.get(e.id)
        new = path if old is None else _lcp(old, path)
        if old is not None and new == old:
            continue
        place[e.id] = new
        node[e.id] = e
        if e.op == "where":
            c, a, b = e.args
            gt, ge = guard(e)
            rk = region_key(e)
            stack.append((b, new + ((rk, False),) if ge else new))
            stack.append((a, new + ((rk, True),) if gt else new))
            stack.append((c, new))
        else:
            for ch in reversed(e.args):
                stack.append((ch, new))

    rank = _demand_order(outputs) if demand else {}

    def guarded(e: Expr) -> bool:
        return e.op == "where" and any(guard(e))

    def build(path: Path, members: list[int]) -> Region:
        """members: ids of the nodes placed at ``path`` or deeper."""
        depth = len(path)
        items: dict[object, Union[Expr, Group]] = {}
        key_of: dict[int, object] = {}
        deeper: dict[int, list[int]] = {}
        for i in members:
            p = place[i]
            e = node[i]
            if len(p) == depth:
                if guarded(e):
                    cid = region_key(e)
                    g = items.get(("g", cid))
                    if g is None:
                        g = items[("g", cid)] = Group(e.args[0])
                    g.wheres.append(e)
                    key_of[i] = ("g", cid)
                else:
                    items[i] = e
                    key_of[i] = i
            else:
                cid = p[depth][0]
                key_of[i] = ("g", cid)
                deeper.setdefault(cid, []).append(i)
        for cid, ids in deeper.items():
            if ("g", cid) not in items:  # only reached through an outer where's hoisting: a guard of its own
                cond = next(node[i] for i in ids)
                raise AssertionError(f"region without its where near {cond.op}")
        # sub-regions
        for key, it in items.items():
            if isinstance(it, Group):
                cid = key[1]  # type: ignore[index]
                ids = deeper.get(cid, [])
                it.then = build(path + ((cid, True),), [i for i in ids if place[i][depth][1]])
                it.other = build(path + ((cid, False),), [i for i in ids if not place[i][depth][1]])
        # dependencies between items of this level
        deps: dict[object, set] = {k: set() for k in items}
        users: dict[object, set] = {k: set() for k in items}
        for i in members:
            ki = key_of[i]
            for ch in node[i].args:
                if ch.op in LEAVES or ch.id not in place:
                    continue
                kc = key_of.get(ch.id)
                if kc is None or kc == ki:
                    continue  # placed outside this region: already computed
                deps[ki].add(kc)
                users[kc].add(ki)
        order_key = {}
        for k, it in items.items():
            ids = [w.id for w in it.wheres] if isinstance(it, Group) else [it.id]
            order_key[k] = min(rank.get(i, i) for i in ids)
        ready = [(order_key[k], n, k) for n, k in enumerate(items) if not deps[k]]
        heapq.heapify(ready)
        seq = {k: n for n, k in enumerate(items)}
        out = Region()
        while ready:
            _, _, k = heapq.heappop(ready)
            out.items.append(items[k])
            for u in users[k]:
                deps[u].discard(k)
                if not deps[u]:
                    heapq.heappush(ready, (order_key[u], seq[u], u))
        if len(out.items) != len(items):
            raise AssertionError("cycle in the expression graph")
        return out

    return build((), list(place))
