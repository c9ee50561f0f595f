"""The reference NK / CAR-NK model, one module per process (MODEL.md numbering; docs/model.md).

Each module declares its states, parameters, pools, algebraic outputs and events, and writes its rate laws and
event jumps once, in the symbolic dialect of :mod:`nksim.kinetics.symbolic`. Everything else is derived from them:
the state and parameter layout (:func:`layout`, committed as ``nksim.kinetics._layout``), the compiled lane kernel,
the scalar reference right-hand side, SBML and the docs table (:mod:`nksim.kinetics.codegen`).

To add a process: write a module here with the declarations it needs and ``quantities`` / ``rates`` / ``on_event``
as it needs them, add it to :data:`PROCESSES`, add its registry parameters to ``data/parameters.yaml``, wire any
derived parameter in ``nksim.kinetics.inputs``, and run ``python -m nksim.kinetics.codegen.layout_file`` to
regenerate the layout (a test fails until it is regenerated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType, SimpleNamespace

from nksim.kinetics.processes import (
    antibody,
    chemotherapy,
    cytokines,
    cytostasis,
    dosing,
    engager,
    exhaustion,
    host,
    inflammation,
    killing,
    off_tumor,
    product,
    systemic_antigen,
    trafficking,
    tregs,
    tumor,
)
from nksim.kinetics.processes.base import Algebraic, Event, Model, Param, Pool, State, TransitChain
from nksim.kinetics.symbolic import Expr

# order = the order in which contributions to a derivative are added, and the layout order
PROCESSES: tuple[ModuleType, ...] = (
    dosing, trafficking, cytokines, product, killing, exhaustion, tumor, chemotherapy, host, antibody, inflammation,
    off_tumor, systemic_antigen, cytostasis, tregs, engager,
)
EV_NONE = 0  # no event: the segment description is brought up to the current time only


def _collect(attr: str) -> list:
    out = []
    for mod in PROCESSES:
        for item in getattr(mod, attr, ()):
            out.append((item, mod.__name__.rsplit(".", 1)[-1]))
    return out


@lru_cache(maxsize=1)
def layout() -> SimpleNamespace:
    """The state / parameter / event layout derived from the declarations (what ``_layout.py`` holds)."""
    states = _collect("STATES")
    params = _collect("PARAMS")
    sys_states = [s for s, _ in states if s.scope == "systemic"]
    les_states = [s for s, _ in states if s.scope == "lesion"]
    cls_states = [s for s, _ in states if s.scope == "class"]
    if len(cls_states) != 1:
        raise ValueError("exactly one per-class state (the tumor cells of a class) is supported")
    names = [s.name for s, _ in states]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"states declared twice: {sorted(dup)}")
    pnames = [p.name for p, _ in params]
    dup = {n for n in pnames if pnames.count(n) > 1}
    if dup:
        raise ValueError(f"parameters declared twice: {sorted(dup)}")
    scal = [p for p, _ in params if p.scope == "scalar"]
    lesp = [p for p, _ in params if p.scope == "lesion"]
    clsp = [p for p, _ in params if p.scope == "class"]
    pools = [p for p, _ in _collect("POOLS")]
    algs = [a for a, _ in _collect("ALGEBRAIC")]
    events = [e for e, _ in _collect("EVENTS")]
    codes = [e.code for e in events]
    if len(set(codes)) != len(codes) or EV_NONE in codes:
        raise ValueError(f"event codes must be distinct and not {EV_NONE}: {codes}")
    les_fixed = len(les_states)
    sys_index = {s.name: i for i, s in enumerate(sys_states)}
    par_index = {p.name: i for i, p in enumerate(scal)}
    chains = []
    for ch, owner in _collect("CHAINS"):
        bad = [n for n in ch.states if n not in sys_index]
        if len(ch.states) < 2 or bad or ch.rate not in par_index or len(set(ch.states)) != len(ch.states):
            raise ValueError(f"transit chain of {owner}: needs >= 2 distinct systemic states and a scalar rate "
                             f"parameter; got states {ch.states} (not systemic: {bad}), rate {ch.rate!r}")
        chains.append((tuple(sys_index[n] for n in ch.states), par_index[ch.rate]))
    used = [i for st, _ in chains for i in st]
    if len(set(used)) != len(used):
        raise ValueError(f"a state belongs to two transit chains: {used}")

    def lesion_block(n_classes: int) -> int:
        return les_fixed + n_classes

    return SimpleNamespace(
        STATES=states, PARAMS=params, SYSTEMIC=sys_states, LESION=les_states, CLASS_STATE=cls_states[0],
        SYSTEMIC_INDEX=sys_index, NSYS=len(sys_states),
        LESION_INDEX={s.name: i for i, s in enumerate(les_states)}, LES_FIXED=les_fixed,
        SCALAR=scal, PARAM_INDEX=par_index, NPAR=len(scal),
        LESION_PARAMS=lesp, LESION_PARAM_INDEX={p.name: i for i, p in enumerate(lesp)}, NLP=len(lesp),
        CLASS_PARAMS=clsp, CLASS_PARAM_INDEX={p.name: i for i, p in enumerate(clsp)}, NCP=len(clsp),
        POOLS=pools, POOL_INDEX={p.name: i for i, p in enumerate(pools)}, NSEG=1 + len(pools),
        ALGEBRAIC=algs, ALGEBRAIC_INDEX={a.name: i for i, a in enumerate(algs)}, NALG=len(algs),
        EVENTS=events, EVENT_CODE={e.name: e.code for e in events},
        CHAINS=tuple(chains),  # transit chains: (state indices from the source on, rate parameter index)
        lesion_block=lesion_block,
        n_states=lambda nl, nc: len(sys_states) + nl * lesion_block(nc),
        n_params=lambda nl, nc: len(scal) + nl * len(lesp) + nc * len(clsp),
    )


def _model(nl: int, nc: int, mode: str, pools_as_states: bool = False) -> Model:
    m = Model(layout(), nl, nc, mode, pools_as_states)  # type: ignore[arg-type]
    for mod in PROCESSES:
        fn = getattr(mod, "quantities", None)
        if fn is not None:
            fn(m)
    return m


@dataclass
class Traced:
    """The model traced for one configuration: d(state)/dt and the algebraic outputs as expressions, and per event
    code the states and segment entries it changes (index -> new value).

    With ``pools_as_states`` (the SBML form) the closed-form pools are leaves ('pool', k) with
    d(pool k)/dt = -``pool_rates[k]`` x pool k, switches read time itself, and an event's segment entries k + 1 are
    the pools' new values."""

    nl: int
    nc: int
    derivatives: list[Expr]
    algebraic: list[Expr]
    events: dict[int, tuple[dict[int, Expr], dict[int, Expr]]] = field(default_factory=dict)
    model: Model | None = None
    pool_rates: list[Expr] = field(default_factory=list)


def trace(nl: int, nc: int, pools_as_states: bool = False) -> Traced:
    """Run every process's rate laws and event jumps for ``nl`` lesions and ``nc`` antigen classes."""
    if nl < 1 or nc < 1 or nc & (nc - 1):
        raise ValueError(f"need >= 1 lesion and a power of two of antigen classes, got {nl} and {nc}")
    lay = layout()
    m = _model(nl, nc, "rates", pools_as_states)
    for mod in PROCESSES:
        fn = getattr(mod, "rates", None)
        if fn is not None:
            fn(m)
    alg = [m.algebraic.get(k, Expr("const", val=0.0)) for k in range(lay.NALG)]
    out = Traced(nl, nc, m.derivatives(), alg, model=m,
                 pool_rates=[getattr(m.q, pool.rate) for pool in lay.POOLS] if pools_as_states else [])
    for code, name in [(EV_NONE, None)] + [(e.code, e.name) for e in lay.EVENTS]:
        em = _model(nl, nc, "event", pools_as_states)
        if name is not None:
            for mod in PROCESSES:
                fn = getattr(mod, "on_event", None)
                if fn is not None:
                    fn(em, name)
        seg = {0: em.t}
        for k, pool in enumerate(lay.POOLS):
            seg[k + 1] = em.pool(pool.name)  # decayed to t, plus any jump
        out.events[code] = (dict(em.cur), seg)
    return out


__all__ = ["PROCESSES", "Algebraic", "Event", "Model", "Param", "Pool", "State", "Traced", "TransitChain", "layout",
           "trace"]
