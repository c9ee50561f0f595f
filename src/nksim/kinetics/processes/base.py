"""What a process declares, and the model a configuration traces its rate laws into.

A process module (one per process of MODEL.md) declares, once:

- ``STATES``: :class:`State` entries (systemic, per lesion, or per lesion and antigen class);
- ``PARAMS``: :class:`Param` entries (scalar, per lesion, per class), each naming the registry parameter it is read
  from, or ``derived`` with the place that derives it;
- ``POOLS``: closed-form decaying pools (:class:`Pool`), ``ALGEBRAIC`` outputs and ``EVENTS`` it owns;
- ``CHAINS``: linear transit chains among its states (:class:`TransitChain`), which the integrator solves exactly;
- ``quantities(m)``: named intermediate quantities (lazy: computed when first read, by whichever process reads it);
- ``rates(m)``: its contributions to the time derivatives (``m.flux``) and algebraic outputs (``m.alg``);
- ``on_event(m, kind)``: its state jumps at a dosing or treatment event.

:class:`Model` is the per-configuration (lesions x antigen classes) tracer these functions write into. The state,
parameter and event layout derived from all declarations is generated into ``nksim.kinetics._layout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from nksim.kinetics.symbolic import Expr, exp, lift, pos, where

Scope = Literal["systemic", "lesion", "class"]
LUNG_HORIZON = 46.0  # exp(-46) < 1e-20: a decaying pool is treated as empty after that many of its time constants


@dataclass(frozen=True)
class State:
    """A state variable. ``atol``: absolute tolerance (None: the scenario's ``atol_cells``). ``agent``: the agent
    (antibody, engager, cytokine depot, a cell group of the product, ...) without which the state stays exactly zero;
    the vector kernel skips the work that only such states feed while every lane's are zero
    (:mod:`nksim.kinetics.codegen.zeroguard`; the numbers do not change)."""

    name: str
    unit: str
    doc: str
    scope: Scope = "systemic"
    atol: float | None = None
    agent: str = ""


@dataclass(frozen=True)
class Param:
    """A parameter of the right-hand side. ``registry``: the registry parameter it equals; None: derived in
    ``nksim.kinetics.inputs`` (``derived`` says from what)."""

    name: str
    unit: str
    doc: str
    scope: Literal["scalar", "lesion", "class"] = "scalar"
    registry: str | None = None
    derived: str = ""


@dataclass(frozen=True)
class Pool:
    """A linear pool fed only at events and decaying at the quantity ``rate`` (1/d) in between, solved in closed
    form: the engine carries its value at the start of each between-event segment (SBML: an ODE state)."""

    name: str
    unit: str
    doc: str
    rate: str


@dataclass(frozen=True)
class TransitChain:
    """A linear transit chain among systemic states: ``states[0]`` is the source and every later state i gains
    ``rate`` x (state i-1 - state i) (1/d, a scalar parameter) in the process's rate laws, besides anything else. A
    declaration changes no equation: the integrator takes the chain's transit terms inside the exponential of its
    steps (exactly) and everything else of the right-hand side explicitly (:mod:`nksim.kinetics.integrate.chains`),
    which removes the step-size limit a fast chain with feedback sets."""

    states: tuple[str, ...]
    rate: str
    doc: str = ""


@dataclass(frozen=True)
class Algebraic:
    name: str
    unit: str
    doc: str


@dataclass(frozen=True)
class Event:
    """A dosing or treatment event kind: ``code`` is its number in the engine's event arrays; ``a`` and ``b`` say
    what its two amounts are."""

    name: str
    code: int
    a: str = ""
    b: str = ""


class _Lazy:
    """Named quantities computed on first read; a cycle is an error naming it."""

    def __init__(self, owner: "Model", lesion: int | None) -> None:
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_lesion", lesion)
        object.__setattr__(self, "_vals", {})
        object.__setattr__(self, "_busy", set())

    def __getattr__(self, name: str):
        vals = self._vals
        if name in vals:
            return vals[name]
        defs = self._owner._defs_l if self._lesion is not None else self._owner._defs
        if name not in defs:
            raise AttributeError(f"no quantity {name!r} is defined by any process")
        if name in self._busy:
            raise RecursionError(f"quantity {name!r} depends on itself")
        self._busy.add(name)
        fn = defs[name]
        v = fn(self._owner) if self._lesion is None else fn(self._owner, self._lesion)
        v = lift(v) if isinstance(v, (int, float)) else v
        self._busy.discard(name)
        if isinstance(v, Expr) and v.name is None and v.op not in ("const", "y", "p", "seg", "t", "arg", "pool"):
            v.name = name if self._lesion is None else f"{name}_{self._lesion}"
        vals[name] = v
        return v

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("define quantities with Model.define / Model.define_lesion")


class Model:
    """The model traced for one configuration: ``nl`` lesions, ``nc`` antigen classes.

    In ``rates`` mode processes read states and add fluxes; in ``event`` mode they read the current (already jumped)
    values and assign new ones. Leaves are ('y', i) states, ('p', i) parameters, ('seg', k) the segment description
    (k = 0 its start time, then the pools at that time), ('t',) time and ('arg', 0 | 1) an event's two amounts."""

    def __init__(self, layout, nl: int, nc: int, mode: Literal["rates", "event"] = "rates",
                 pools_as_states: bool = False) -> None:
        self.L = layout
        self.nl = nl
        self.nc = nc
        self.mode = mode
        self.pools_as_states = pools_as_states
        self.t = Expr("t")
        # the start of the current between-event segment; with pools as states (SBML) switches read time itself
        self.t_seg = self.t if pools_as_states else Expr("seg", val=0)
        self.arg_a = Expr("arg", val=0)
        self.arg_b = Expr("arg", val=1)
        self.n_antigens = max(0, (nc - 1).bit_length())
        self._defs: dict[str, Callable] = {}
        self._defs_l: dict[str, Callable] = {}
        self._leaf: dict[tuple, Expr] = {}
        self.q = _Lazy(self, None)
        self._lq = [_Lazy(self, l) for l in range(nl)]
        self.dy: dict[int, list[Expr]] = {}
        self.algebraic: dict[int, Expr] = {}
        self.cur: dict[int, Expr] = {}  # event mode: current value of each state that has jumped
        self.cur_pool: dict[int, Expr] = {}

    # ---- leaves ---------------------------------------------------------------------------------------------
    def _get(self, op: str, i: int, name: str) -> Expr:
        key = (op, i)
        e = self._leaf.get(key)
        if e is None:
            e = self._leaf[key] = Expr(op, val=i)
            e.name = name
        return e

    def _state_index(self, name: str, lesion: int | None = None, cls: int | None = None) -> int:
        L = self.L
        if lesion is None:
            return L.SYSTEMIC_INDEX[name]
        if not 0 <= lesion < self.nl:
            raise IndexError(f"lesion {lesion} of {self.nl}")
        b0 = L.NSYS + lesion * L.lesion_block(self.nc)
        if cls is None:
            return b0 + L.LESION_INDEX[name]
        return b0 + L.LES_FIXED + cls

    def raw(self, name: str, lesion: int | None = None, cls: int | None = None) -> Expr:
        """A state as it is (event mode: its value after the jumps so far)."""
        i = self._state_index(name, lesion, cls)
        if i in self.cur:
            return self.cur[i]
        label = name if lesion is None else (f"{name}_{lesion}" if cls is None else f"T_{lesion}_{cls}")
        return self._get("y", i, label)

    def y(self, name: str, lesion: int | None = None) -> Expr:
        """A state read as max(y, 0) (a state a step leaves slightly below zero reads as zero)."""
        return self._pos_of(self.raw(name, lesion))

    def tumor(self, lesion: int, cls: int) -> Expr:
        """Viable tumor cells of antigen class ``cls`` in lesion ``lesion``, read as max(y, 0)."""
        return self._pos_of(self.raw("T", lesion, cls))

    def _pos_of(self, e: Expr) -> Expr:
        key = ("pos", e.id)
        v = self._leaf.get(key)
        if v is None:
            v = self._leaf[key] = pos(e)
        return v

    def p(self, name: str) -> Expr:
        return self._get("p", self.L.PARAM_INDEX[name], name)

    def pl(self, lesion: int, name: str) -> Expr:
        L = self.L
        return self._get("p", L.NPAR + lesion * L.NLP + L.LESION_PARAM_INDEX[name], f"{name}_{lesion}")

    def pc(self, cls: int, name: str) -> Expr:
        L = self.L
        return self._get("p", L.NPAR + self.nl * L.NLP + cls * L.NCP + L.CLASS_PARAM_INDEX[name], f"{name}_c{cls}")

    # ---- closed-form pools ----------------------------------------------------------------------------------
    def pool(self, name: str) -> Expr:
        """A pool's value now: its value at the segment start decayed in closed form (event mode: after the jumps)."""
        k = self.L.POOL_INDEX[name]
        if k in self.cur_pool:
            return self.cur_pool[k]
        if self.pools_as_states:  # SBML: the pool is a state of its own, d/dt = -rate x pool (see Traced.pool_rates)
            return self._get("pool", k, name)
        return self._get("seg", k + 1, f"{name}_seg") * self.decay(self.L.POOLS[k].rate)

    def decay(self, rate: str) -> Expr:
        """exp(-rate (t - t_seg)) for the pools decaying at quantity ``rate``; computed only when one of them is
        non-empty and the pools are not yet below 1e-20 of their size."""
        key = ("decay", rate)
        v = self._leaf.get(key)
        if v is None:
            x = getattr(self.q, rate) * (self.t - self.t_seg)
            segs = [self._get("seg", k + 1, f"{pl.name}_seg") for k, pl in enumerate(self.L.POOLS) if pl.rate == rate]
            held = segs[0]
            for s in segs[1:]:
                held = held + s
            v = self._leaf[key] = where((held > 0.0) & (x < LUNG_HORIZON), exp(-x), 0.0, lazy=True)
            v.name = f"decay_{rate}"
        return v

    # ---- quantities -----------------------------------------------------------------------------------------
    def define(self, name: str, fn: Callable[["Model"], Expr]) -> None:
        if name in self._defs:
            raise ValueError(f"quantity {name!r} is defined twice")
        self._defs[name] = fn

    def define_lesion(self, name: str, fn: Callable[["Model", int], Expr]) -> None:
        if name in self._defs_l:
            raise ValueError(f"lesion quantity {name!r} is defined twice")
        self._defs_l[name] = fn

    def lq(self, lesion: int) -> _Lazy:
        """Per-lesion quantities of lesion ``lesion``."""
        return self._lq[lesion]

    # ---- contributions --------------------------------------------------------------------------------------
    def flux(self, name: str, rate: Expr | float, lesion: int | None = None, cls: int | None = None) -> None:
        """Add ``rate`` to d(state)/dt."""
        self.dy.setdefault(self._state_index(name, lesion, cls), []).append(lift(rate))

    def alg(self, name: str, value: Expr | float) -> None:
        """Add ``value`` to an algebraic output."""
        k = self.L.ALGEBRAIC_INDEX[name]
        v = lift(value)
        self.algebraic[k] = v if k not in self.algebraic else self.algebraic[k] + v

    def assign(self, name: str, value: Expr | float, lesion: int | None = None, cls: int | None = None) -> None:
        """Event mode: the state jumps to ``value`` (later reads see the new value)."""
        if self.mode != "event":
            raise RuntimeError("assign() is for on_event; rate laws use flux()")
        self.cur[self._state_index(name, lesion, cls)] = lift(value)

    def assign_pool(self, name: str, value: Expr | float) -> None:
        if self.mode != "event":
            raise RuntimeError("assign_pool() is for on_event")
        self.cur_pool[self.L.POOL_INDEX[name]] = lift(value)

    # ---- results --------------------------------------------------------------------------------------------
    def derivatives(self) -> list[Expr]:
        """d(state)/dt for every state: its contributions added in process order (0 where there are none)."""
        n = self.L.n_states(self.nl, self.nc)
        out = []
        for i in range(n):
            terms = self.dy.get(i, [])
            acc = terms[0] if terms else lift(0.0)
            for x in terms[1:]:
                acc = acc + x
            out.append(acc)
        return out
