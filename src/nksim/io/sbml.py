"""SBML export: one virtual patient's kinetic model as an SBML Level 3 Version 2 file.

``to_sbml(scenario, patient=0)`` writes the model traced from the process modules (:mod:`nksim.kinetics.processes`,
the same expressions the engine compiles) for the scenario's configuration (lesions x antigen classes), with the
patient's own numbers: initial state, parameters, and dosing / treatment events at their times. The file runs in any
SBML simulator (libRoadRunner / Tellurium, COPASI, AMICI, ...); the test suite integrates it with libRoadRunner and
requires the trajectories to match nksim's reference backend (tests/test_export_sbml.py).

What the file holds
-------------------
- **Compartment**: one, ``V_b``: the patient's blood volume in mL. The rate laws that divide by the blood volume read
  its size. Nothing is a species in it: see the states.
- **States** are *parameters with rate rules* (``constant="false"``), in their own units (cells as counts, WBC in
  cells/uL, antibody in ug/mL, q and the hazards dimensionless, ...). The model is written as derivatives of counts,
  not as reactions between chemical species: cells sit in different places (blood + tissue, lung, each lesion)
  that are not volumes of one compartment, and several states are not amounts at all. Species with
  ``hasOnlySubstanceUnits`` would say the same with an extra layer (substance units, a compartment each) and no gain.
- **Closed-form pools** (the lung first-pass pools, which the engine decays exactly between events) are states too,
  with d pool/dt = -rate x pool.
- **Named intermediate quantities** of the rate laws (IL-15 ``il15``, the cytokine signal ``sig``, entry rates
  ``k_in_0``, kills ``kill_car_0`` ...) are parameters with assignment rules, listed in dependency order; conditions
  are written inline (``piecewise``). The **algebraic outputs** (``il15_pg_ml``, ``cytokine_pg_ml``, ``kill_rate``,
  ...) are assignment rules as well (the lung outputs are the pool states themselves).
- **Model parameters** hold the patient's values with their units; each carries an annotation (and notes) with the
  registry parameter it equals, that parameter's source and status, or, for a derived parameter, what it is derived
  from (``nksim.kinetics.inputs``).
- **Events**: one per engine event (infusion, lymphodepletion, IL-2 / IL-15 dose, antibody dose, chemotherapy
  log-kill, and the boundaries of a concomitant-treatment window), triggered at ``study_day >= t`` (``initialValue``
  false, so an event at the start fires at the start), its state jumps as event assignments. Events at the same time
  carry decreasing priorities in the engine's order, and ``useValuesFromTriggerTime`` is **false**: without a delay
  it is the same for a lone event, and for simultaneous events it makes each see the jumps of the ones before it, as
  the engine applies them one after another (with ``true`` SBML evaluates all of them on the values before any).
- **Time**: SBML time 0 is the patient's start time t0 (the parameter ``t_origin``, e.g. -5 d when lymphodepletion
  comes 5 days before the first infusion), so any simulator's default start at 0 is right; the assignment rule
  ``study_day = time + t_origin`` is nksim's time axis (days since the first product infusion), which the rate laws,
  switches and event triggers read. Simulate to ``t_end - t_origin`` for nksim's horizon.
- **Switches**: lymphodepletion on and the concomitant-treatment window read ``study_day`` in ``piecewise``. The
  engine reads them against the start of the current between-event segment; as each switches at an event time (the
  lymphodepletion event, the window's boundary events), the two are the same function of time. The other
  ``piecewise`` in the rate laws are the model's own (a tumor class below one cell does not grow, the cut-off of the
  decaying chemotherapy exposure after 30 time constants, guards against division by zero).
- **Function definitions**: a formula that reads a costly quantity more than once (the quasi-steady-state IL-15 and
  IL-2, the signal S, ...) is written as a call of a function definition of its own (``f_il15(prod15, k_u, k_15,
  consumption)``), its arguments the symbols it reads. It is the same formula; simulators that expand assignment rules
  in place (libRoadRunner does) then evaluate each argument once. ``max(x, 0)`` (L3V2) is the engine's read of a state
  as max(y, 0).

What it does not hold
---------------------
- The clinical layer: new lesions, death, response and CRS grades are drawn after the solve from the trajectories
  (new lesions and hazard deaths from the cumulative hazards ``cum_new_lesion_hazard`` / ``cum_death_hazard``, which
  are in the file); no lesion appears inside the ODE. There is no extinction threshold in the ODE either: a tumor
  class below one cell stops growing (``piecewise`` in its rate law) but is not set to zero.
- The readouts computed from states after the solve (blood counts per uL, volumes, diameters: see docs/results.md).
- The segment-wise closed form of the pools: the pools are ODEs here (the same function, integrated), without the
  engine's shortcut of treating a pool as empty once it has decayed by e^-46 within a between-event segment.

Requires ``python-libsbml`` (``pip install python-libsbml`` or the ``sbml`` extra).
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from nksim.errors import InputError
from nksim.kinetics.symbolic import CONDITIONS, Expr, _scalar_op, lift, postorder

# A formula becomes a function call (its own function definition, the symbols it reads as arguments) when that saves
# this many expression nodes once every quantity it reads is written out: libRoadRunner expands each reference to an
# assignment rule in place, while a function's arguments are evaluated once.
LIFT_MIN_SAVING = 24
ANNOTATION_NS = "urn:nksim:sbml:parameter:1"
ANNOTATION_PREFIX = "nksim"
TIME_ORIGIN = "days since the first product infusion (day 0)"

# model unit strings (process declarations) -> SBML unit definition id; the definitions follow
UNIT_IDS: dict[str, str] = {
    "cells": "cell", "cells/d": "cell_per_day", "cells/uL": "cell_per_uL", "cells/mL": "cell_per_mL",
    "pg": "pg", "pg/mL": "pg_per_mL", "pg/(mL d)": "pg_per_mL_per_day", "pg/(cell d)": "pg_per_cell_per_day",
    "pg/cell": "pg_per_cell", "pg/ug": "pg_per_ug", "ug/mL": "ug_per_mL", "1/d": "per_day", "mL/(mL d)": "per_day", "d": "day",
    "mL": "mL", "cm": "cm", "1e9 cell-days": "cell_day_1e9", "1/(1e10 cell d)": "per_1e10_cell_per_day",
    "1/(1e11 cell d)": "per_1e11_cell_per_day",
    "1": "dimensionless", "flag": "dimensionless", "fraction": "dimensionless", "fold": "dimensionless",
    "bits": "dimensionless", "targets/cell": "dimensionless", "kills/cell": "dimensionless",
    "effectors/tumor cell": "dimensionless", "divisions/cell": "dimensionless",
}
_DAY = ("second", 1, 0, 86400.0)
# id -> [(kind, exponent, scale, multiplier)]: a unit is (multiplier x 10^scale x kind)^exponent
UNIT_DEFINITIONS: dict[str, list[tuple[str, int, int, float]]] = {
    "day": [_DAY],
    "cm": [("metre", 1, -2, 1.0)],
    "per_day": [("second", -1, 0, 86400.0)],
    "cell": [("item", 1, 0, 1.0)],
    "cell_per_day": [("item", 1, 0, 1.0), ("second", -1, 0, 86400.0)],
    "cell_per_uL": [("item", 1, 0, 1.0), ("litre", -1, -6, 1.0)],
    "cell_per_mL": [("item", 1, 0, 1.0), ("litre", -1, -3, 1.0)],
    "mL": [("litre", 1, -3, 1.0)],
    "pg": [("gram", 1, -12, 1.0)],
    "pg_per_mL": [("gram", 1, -12, 1.0), ("litre", -1, -3, 1.0)],
    "pg_per_mL_per_day": [("gram", 1, -12, 1.0), ("litre", -1, -3, 1.0), ("second", -1, 0, 86400.0)],
    "pg_per_cell": [("gram", 1, -12, 1.0), ("item", -1, 0, 1.0)],
    "pg_per_cell_per_day": [("gram", 1, -12, 1.0), ("item", -1, 0, 1.0), ("second", -1, 0, 86400.0)],
    "ug_per_mL": [("gram", 1, -6, 1.0), ("litre", -1, -3, 1.0)],
    "pg_per_ug": [("dimensionless", 1, -6, 1.0)],
    "cell_day_1e9": [("item", 1, 0, 1e9), _DAY],
    "per_1e10_cell_per_day": [("item", -1, 0, 1e10), ("second", -1, 0, 86400.0)],
    "per_1e11_cell_per_day": [("item", -1, 0, 1e11), ("second", -1, 0, 86400.0)],
}
# names the L3 infix parser reads as constants or csymbols: never used as ids
_RESERVED = {"time", "pi", "e", "exponentiale", "true", "false", "inf", "infinity", "nan", "notanumber",
             "avogadro", "t", "rateof", "delay"}


def _libsbml():
    try:
        import libsbml
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("sbml export", "python-libsbml not installed",
                         "python-libsbml: pip install python-libsbml (or nksim[sbml])") from None
    return libsbml


def _sid(text: str) -> str:
    s = re.sub(r"\W", "_", text)
    if not re.match(r"[A-Za-z_]", s):
        s = "_" + s
    return s


def _check(code: int, what: str) -> None:
    libsbml = _libsbml()
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise RuntimeError(f"libsbml: {what} failed: {libsbml.OperationReturnValue_toString(code)}")


# ---- expressions -------------------------------------------------------------------------------------------------
def _bind(e: Expr, a: float, b: float, memo: dict[int, Expr] | None = None) -> Expr:
    """``e`` with the event amounts (arg leaves) replaced by numbers, constant subexpressions folded and a ``where``
    with a constant condition reduced to its branch."""
    memo = {} if memo is None else memo
    if e.id in memo:
        return memo[e.id]
    if e.op == "arg":
        out = lift(float(a if e.val == 0 else b))
    elif not e.args:
        out = e
    else:
        args = tuple(_bind(x, a, b, memo) for x in e.args)
        if e.op == "where" and args[0].op == "const":
            out = args[1] if args[0].val else args[2]
        elif e.op in ("and", "or") and any(x.op == "const" for x in args):
            c, other = (args[0], args[1]) if args[0].op == "const" else (args[1], args[0])
            if other.op == "const":
                out = Expr("const", val=bool(_scalar_op(e.op, [c.val, other.val])))
            else:  # and(True, x) = x, and(False, x) = False; or(True, x) = True, or(False, x) = x
                out = other if bool(c.val) == (e.op == "and") else c
        elif all(x.op == "const" for x in args):
            v = _scalar_op(e.op, [x.val for x in args])
            out = lift(float(v)) if e.op not in CONDITIONS else Expr("const", val=bool(v))
        elif args == e.args:
            out = e
        else:
            out = Expr(e.op, args, e.val, lazy=e.lazy)
    memo[e.id] = out
    return out


def _ast_names(ast) -> tuple[int, list[str]]:
    """(number of nodes that are not names, the names read, with repeats, in order) of a libsbml AST."""
    import libsbml

    size = 0
    names: list[str] = []
    stack = [ast]
    while stack:
        x = stack.pop()
        if x.getType() == libsbml.AST_NAME:
            names.append(x.getName())
        else:
            if x.getType() == libsbml.AST_NAME_TIME:
                raise ValueError("formulas read study_day, not the csymbol time")
            size += 1
        stack.extend(x.getChild(i) for i in range(x.getNumChildren() - 1, -1, -1))
    return size, names


def _walk(roots: list[Expr]) -> dict[int, Expr]:
    seen: dict[int, Expr] = {}
    stack = list(roots)
    while stack:
        e = stack.pop()
        if e.id in seen:
            continue
        seen[e.id] = e
        stack.extend(e.args)
    return seen


def _rule_nodes(roots: list[Expr]) -> list[Expr]:
    """The named quantities that get an assignment rule of their own: those the formulas would otherwise print more
    than once (used by two parents, or inside a subexpression printed twice). Conditions stay inline."""
    post = postorder(roots)
    prints: dict[int, int] = {}
    for r in roots:
        prints[r.id] = prints.get(r.id, 0) + 1
    out = []
    for x in reversed(post):  # parents before children
        c = prints.get(x.id, 0)
        rule = (c >= 2 and x.name is not None and x.op not in CONDITIONS
                and x.op not in ("const", "y", "p", "pool", "t", "seg", "arg"))
        if rule:
            out.append(x)
        for a in x.args:
            prints[a.id] = prints.get(a.id, 0) + (1 if rule else c)
    return out


# ---- the patient -------------------------------------------------------------------------------------------------
def _resolve(scenario: Any, patient: int | str, seed: int | None, overrides: Mapping[str, Any] | None):
    from nksim.kinetics.inputs import build_inputs
    from nksim.population.sampling import sample_patients
    from nksim.spec.io import load_scenario

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if seed is not None:
        if int(seed) < 0:
            raise InputError("seed", seed, "an integer >= 0")
        sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"seed": int(seed)})})
    pid, typical = parse_patient(patient)
    if typical:
        sc = sc.model_copy(update={"population": sc.population.model_copy(update={"variability": False})})
    patients = sample_patients(sc, np.array([pid], dtype=np.int64))
    inp = build_inputs(sc, patients, overrides)
    return sc, pid, typical, patients, inp


def parse_patient(patient: int | str) -> tuple[int, bool]:
    """(patient id, typical?) from an id (a non-negative integer, as nksim numbers patients) or ``"typical"``: patient 0
    of the scenario with between-patient variability off, so every continuous parameter and covariate is at its
    typical value (its categorical draws, KIR-ligand match and an HCC growth class, stay patient 0's)."""
    if isinstance(patient, str):
        text = patient.strip().lower()
        if text == "typical":
            return 0, True
        if re.fullmatch(r"\d+", text):
            return int(text), False
        raise InputError("patient", patient, "a patient id (an integer >= 0, as nksim numbers patients) or 'typical'")
    if isinstance(patient, (bool, np.bool_)) or not isinstance(patient, (int, np.integer)) or patient < 0:
        raise InputError("patient", patient, "a patient id (an integer >= 0, as nksim numbers patients) or 'typical'")
    return int(patient), False


# ---- the document ------------------------------------------------------------------------------------------------
class _Ids:
    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, base: str) -> str:
        s = _sid(base)
        n, k = s, 1
        while n in self.used or n.lower() in _RESERVED:
            n = f"{s}_{k}"
            k += 1
        self.used.add(n)
        return n


def _xhtml(*paragraphs: str) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>'


def _num(x: float) -> str:
    if math.isinf(x):
        return "INF" if x > 0 else "-INF"
    if x != x:
        return "NaN"
    return repr(float(x))


def to_sbml(scenario: Any, patient: int | str = 0, seed: int | None = None, *,
            overrides: Mapping[str, Any] | None = None, model_id: str | None = None) -> str:
    """The kinetic model of one virtual patient as an SBML Level 3 Version 2 document (a string).

    ``scenario``: a Scenario, a built-in name or a YAML path. ``patient``: the patient's id in the cohort (as
    ``nksim.simulate`` numbers them; any id >= 0 is a valid draw), or ``"typical"`` (see :func:`parse_patient`). ``seed``: overrides the scenario's seed (the patient's draws depend on it). ``overrides``: per-patient
    overrides as for ``nksim.simulate`` (dose level, dose, product attributes, a dosing table keyed by patient id).

    See the module docstring for what the file holds (states as parameters with rate rules, the blood volume as the
    one compartment, pools as ODEs, events with priorities) and what it does not (the clinical layer)."""
    from nksim.kinetics.processes import layout, trace
    from nksim.registry import load_registry
    from nksim.version import __version__

    libsbml = _libsbml()
    sc, pid, typical, patients, inp = _resolve(scenario, patient, seed, overrides)
    L = layout()
    nl, nc = inp.n_lesions, inp.n_classes
    tr = trace(nl, nc, pools_as_states=True)
    reg = load_registry()
    y0 = inp.y0[0]
    pv = inp.params[0]

    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    ids = _Ids()
    mid = model_id or _sid(f"nksim_{sc.name}_{'typical' if typical else f'patient_{pid}'}")
    ids.used.add(mid)
    _check(model.setId(mid), "model id")
    model.setName(f"nksim {sc.name}, {'typical patient' if typical else f'patient {pid}'}")
    _check(model.setTimeUnits("day"), "time units")
    model.setVolumeUnits("mL")
    for uid, parts in UNIT_DEFINITIONS.items():
        ud = model.createUnitDefinition()
        _check(ud.setId(uid), f"unit {uid}")
        ids.used.add(uid)
        for kind, exponent, scale, mult in parts:
            u = ud.createUnit()
            u.setKind(libsbml.UnitKind_forName(kind))
            u.setExponent(exponent)
            u.setScale(scale)
            u.setMultiplier(mult)

    # -- leaves: states, pools, parameters (V_b is the compartment) -------------------------------------------
    lb = L.lesion_block(nc)
    state_ids: list[str] = []
    state_meta: list[tuple[str, str]] = []
    for s in L.SYSTEMIC:
        state_ids.append(s.name)
        state_meta.append((s.unit, s.doc))
    for l in range(nl):
        for s in L.LESION:
            state_ids.append(f"{s.name}_{l}")
            state_meta.append((s.unit, f"{s.doc}, lesion {l}"))
        for c in range(nc):
            state_ids.append(f"T_{l}_{c}")
            state_meta.append((L.CLASS_STATE.unit, f"{L.CLASS_STATE.doc} {inp.class_labels[c]}, lesion {l}"))
    assert len(state_ids) == L.n_states(nl, nc) == len(y0)
    state_ids = [ids.take(s) for s in state_ids]
    pool_ids = [ids.take(p.name) for p in L.POOLS]
    par_decl: list[tuple[str, Any, str]] = []  # (id, Param, scope note)
    for p in L.SCALAR:
        par_decl.append((p.name, p, ""))
    for l in range(nl):
        for p in L.LESION_PARAMS:
            par_decl.append((f"{p.name}_{l}", p, f"lesion {l}"))
    for c in range(nc):
        for p in L.CLASS_PARAMS:
            par_decl.append((f"{p.name}_c{c}", p, f"antigen class {c} ({inp.class_labels[c]})"))
    assert len(par_decl) == L.n_params(nl, nc) == len(pv)
    par_ids = [ids.take(n) for n, _, _ in par_decl]
    origin_id = ids.take("t_origin")
    day_id = ids.take("study_day")

    def leaf(e: Expr) -> str:
        if e.op == "y":
            return state_ids[e.val]  # type: ignore[index]
        if e.op == "p":
            return par_ids[e.val]  # type: ignore[index]
        if e.op == "pool":
            return pool_ids[e.val]  # type: ignore[index]
        if e.op == "t":
            return day_id
        raise ValueError(f"no SBML form for the leaf {e.op!r} (segment values are not used with pools as states)")

    # compartment: the blood volume
    vb_index = L.PARAM_INDEX["V_b"]
    comp = model.createCompartment()
    _check(comp.setId(par_ids[vb_index]), "compartment id")
    comp.setSpatialDimensions(3)
    comp.setSize(float(pv[vb_index]))
    comp.setUnits("mL")
    comp.setConstant(True)

    def annotate(obj: Any, p: Any, scope: str) -> None:
        attrs = {"unit": p.unit}
        paras = [p.doc + (f" ({scope})" if scope else "") + f" [{p.unit}]"]
        if p.registry is not None:
            r = reg[p.registry]
            attrs.update(registry=r.name, source=r.source, status=r.status, registry_unit=r.unit,
                         registry_default=repr(r.default))
            paras.append(f"registry parameter {r.name} (default {r.default:g} {r.unit}; status {r.status}); "
                         f"source: {r.source}")
            if r.note:
                paras.append(f"note: {r.note}")
        else:
            attrs.update(status="derived", derived=p.derived)
            paras.append(f"derived in nksim.kinetics.inputs from: {p.derived}")
        paras.append("value: this patient's")
        xml = " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items())
        _check(obj.setAnnotation(f'<{ANNOTATION_PREFIX}:parameter xmlns:{ANNOTATION_PREFIX}="{ANNOTATION_NS}" '
                                 f'name={quoteattr(p.name)} {xml}/>'), f"annotation of {p.name}")
        _check(obj.setNotes(_xhtml(*paras)), f"notes of {p.name}")

    annotate(comp, L.SCALAR[vb_index], "")
    par = model.createParameter()
    _check(par.setId(origin_id), "t_origin")
    par.setValue(float(inp.t0))
    par.setUnits("day")
    par.setConstant(True)
    _check(par.setNotes(_xhtml(f"study day at SBML time 0: the patient's start time t0 = {inp.t0:g} d (the first "
                               "event, rounded down to a whole day; 0 when the first infusion comes first)")),
           "notes of t_origin")
    par = model.createParameter()
    _check(par.setId(day_id), "study_day")
    par.setValue(float(inp.t0))
    par.setUnits("day")
    par.setConstant(False)
    _check(par.setNotes(_xhtml(f"nksim's time axis: {TIME_ORIGIN}; = time + {origin_id}")), "notes of study_day")
    for k, ((_, p, scope), sid) in enumerate(zip(par_decl, par_ids)):
        if k == vb_index:
            continue
        par = model.createParameter()
        _check(par.setId(sid), f"parameter {sid}")
        par.setValue(float(pv[k]))
        par.setUnits(UNIT_IDS[p.unit])
        par.setConstant(True)
        annotate(par, p, scope)
    for i, sid in enumerate(state_ids):
        unit, text = state_meta[i]
        par = model.createParameter()
        _check(par.setId(sid), f"state {sid}")
        par.setValue(float(y0[i]))
        par.setUnits(UNIT_IDS[unit])
        par.setConstant(False)
        _check(par.setNotes(_xhtml(f"state: {text} [{unit}]")), f"notes of {sid}")
    for k, (pl, sid) in enumerate(zip(L.POOLS, pool_ids)):
        par = model.createParameter()
        _check(par.setId(sid), f"pool {sid}")
        par.setValue(0.0)
        par.setUnits(UNIT_IDS[pl.unit])
        par.setConstant(False)
        _check(par.setNotes(_xhtml(f"pool: {pl.doc} [{pl.unit}]; the engine solves it in closed form between "
                                   f"events, here d/dt = -{pl.rate} x {sid}")), f"notes of {sid}")

    # -- named quantities -> assignment rules, in dependency order -----------------------------------------------
    pool_leaves = [tr.model.pool(pl.name) for pl in L.POOLS]  # type: ignore[union-attr]
    pool_odes = [lift(0.0) - rate * leafe for rate, leafe in zip(tr.pool_rates, pool_leaves)]
    roots = [*tr.derivatives, *tr.algebraic, *pool_odes]
    named: dict[int, str] = {}
    for e in _rule_nodes(roots):
        named[e.id] = ids.take(e.name)  # type: ignore[arg-type]

    from nksim.kinetics.codegen.infix import infix

    def name_of(e: Expr) -> str | None:
        n = named.get(e.id)
        if n is None and e.op == "pos":  # max(x, 0): branch-free, and x is written once
            return f"max({infix(e.args[0], leaf, name_of, 1)}, 0)"
        return n

    def formula(e: Expr, own: bool = False) -> str:
        if not own and e.id in named:
            return named[e.id]
        if e.op == "pos":
            return f"max({infix(e.args[0], leaf, name_of, 1)}, 0)"
        return infix(e, leaf, name_of)

    order: list[Expr] = []
    done: set[int] = set()

    def visit(e: Expr) -> None:  # post-order over named nodes: a rule after the rules it reads
        stack: list[tuple[Expr, bool]] = [(e, False)]
        while stack:
            x, expanded = stack.pop()
            if expanded:
                if x.id in named and x.id not in done:
                    done.add(x.id)
                    order.append(x)
                continue
            if x.id in done:
                continue
            stack.append((x, True))
            for a in reversed(x.args):
                if a.id not in done:
                    stack.append((a, False))

    for r in roots:
        visit(r)
    parser = libsbml.L3ParserSettings()
    parser.setModel(model)
    parser.setParseLog(libsbml.L3P_PARSE_LOG_AS_LN)

    def math_of(text: str, what: str):
        ast = libsbml.parseL3FormulaWithSettings(text, parser)
        if ast is None:
            raise RuntimeError(f"libsbml cannot parse the formula of {what}: {libsbml.getLastParseL3Error()}\n{text}")
        return ast

    # Each formula is written inline, unless it reads a costly quantity more than once: then it becomes a call of a
    # function definition of its own whose arguments are the symbols it reads (see _lift).
    cost: dict[str, int] = {}

    def emit(e: Expr, sid: str, own: bool = False):
        text = formula(e, own)
        ast = math_of(text, sid)
        size, names = _ast_names(ast)
        inline = size + sum(cost.get(n, 1) for n in names)
        distinct = list(dict.fromkeys(names))
        lifted = size + len(distinct) + sum(cost.get(n, 1) for n in distinct)
        if inline - lifted < LIFT_MIN_SAVING:
            return ast, inline
        fid = ids.take(f"f_{sid}")
        fd = model.createFunctionDefinition()
        _check(fd.setId(fid), f"function {fid}")
        _check(fd.setMath(math_of(f"lambda({', '.join(distinct)}, {text})", fid)), f"function {fid}")
        return math_of(f"{fid}({', '.join(distinct)})", sid), lifted

    rule = model.createAssignmentRule()
    rule.setVariable(day_id)
    _check(rule.setMath(math_of(f"time + {origin_id}", day_id)), "rule study_day")
    cost[day_id] = 3
    rule_params: list[tuple[str, Expr]] = [(named[e.id], e) for e in order]
    for sid, e in rule_params:
        par = model.createParameter()
        _check(par.setId(sid), f"quantity {sid}")
        par.setConstant(False)
        par.setValue(0.0)
    for sid, e in rule_params:
        ast, cost[sid] = emit(e, sid, own=True)
        rule = model.createAssignmentRule()
        rule.setVariable(sid)
        _check(rule.setMath(ast), f"rule {sid}")

    # algebraic outputs
    out_notes = []
    for k, a in enumerate(L.ALGEBRAIC):
        e = tr.algebraic[k]
        if formula(e) == a.name:  # the output is a state of that name (the lung pools)
            out_notes.append(f"{a.name}: the pool state {a.name} [{a.unit}]")
            continue
        sid = ids.take(a.name)
        par = model.createParameter()
        _check(par.setId(sid), f"output {sid}")
        par.setConstant(False)
        par.setValue(0.0)
        par.setUnits(UNIT_IDS[a.unit])
        _check(par.setNotes(_xhtml(f"output: {a.doc} [{a.unit}]")), f"notes of {sid}")
        ast, cost[sid] = emit(e, sid)
        rule = model.createAssignmentRule()
        rule.setVariable(sid)
        _check(rule.setMath(ast), f"output rule {sid}")

    # rate rules: states, then pools
    for i, d in enumerate(tr.derivatives):
        if d.op == "const" and d.val == 0.0:
            continue  # changed only by events
        rule = model.createRateRule()
        rule.setVariable(state_ids[i])
        _check(rule.setMath(emit(d, f"d_{state_ids[i]}")[0]), f"rate rule {state_ids[i]}")
    for k, ode in enumerate(pool_odes):
        rule = model.createRateRule()
        rule.setVariable(pool_ids[k])
        _check(rule.setMath(emit(ode, f"d_{pool_ids[k]}")[0]), f"rate rule {pool_ids[k]}")

    # -- events ----------------------------------------------------------------------------------------------------
    # An event's jumps are traced in a model of their own; a part of them that is the same function of the states as
    # a quantity with a rule (e.g. a lesion's tumor cells tl_0) reads that rule: with useValuesFromTriggerTime false
    # the rule's value is the one when the event executes, as the engine's.
    canon: dict[tuple, int] = {}
    memo_c: dict[int, int] = {}

    def key(e: Expr) -> int:
        k = memo_c.get(e.id)
        if k is None:
            sig_ = (e.op, repr(e.val), tuple(key(a) for a in e.args))
            k = memo_c[e.id] = canon.setdefault(sig_, len(canon))
        return k

    rule_by_key = {key(e): sid for sid, e in rule_params}

    def event_name(e: Expr) -> str | None:
        if e.args:
            n = rule_by_key.get(key(e))
            if n is not None:
                return n
        if e.op == "pos":
            return f"max({infix(e.args[0], leaf, event_name, 1)}, 0)"
        return None

    def event_formula(e: Expr) -> str:
        n = event_name(e)
        return n if n is not None else infix(e, leaf, event_name)

    ev_names = {e.code: e for e in L.EVENTS}
    kinds = [(j, float(inp.ev_t[0, j]), int(inp.ev_k[0, j]), float(inp.ev_a[0, j]), float(inp.ev_b[0, j]))
             for j in range(inp.ev_k.shape[1]) if int(inp.ev_k[0, j]) != 0]
    n_ev = len(kinds)
    counts: dict[str, int] = {}
    for order_k, (j, t_ev, code, a, b) in enumerate(kinds):
        kind = ev_names[code]
        counts[kind.name] = counts.get(kind.name, 0) + 1
        jumps, seg = tr.events[code]
        memo: dict[int, Expr] = {}
        assigns: list[tuple[str, str]] = []
        for i in sorted(jumps):
            e = _bind(jumps[i], a, b, memo)
            if e.op == "y" and e.val == i:
                continue
            assigns.append((state_ids[i], event_formula(e)))
        for k in range(len(L.POOLS)):
            e = _bind(seg[k + 1], a, b, memo)
            if e.op == "pool" and e.val == k:
                continue
            assigns.append((pool_ids[k], event_formula(e)))
        ev = model.createEvent()
        eid = ids.take(f"{kind.name}_{counts[kind.name]}")
        _check(ev.setId(eid), f"event {eid}")
        amounts = [f"{desc} = {v:g}" for desc, v in ((kind.a, a), (kind.b, b)) if desc and not desc.startswith("(")]
        ev.setName(f"{kind.name} on day {t_ev:g}" + (f" ({'; '.join(amounts)})" if amounts else ""))
        ev.setUseValuesFromTriggerTime(False)
        trig = ev.createTrigger()
        trig.setInitialValue(False)
        trig.setPersistent(True)
        _check(trig.setMath(math_of(f"{day_id} >= {_num(t_ev)}", eid)), f"trigger of {eid}")
        pr = ev.createPriority()
        _check(pr.setMath(math_of(str(n_ev - order_k), eid)), f"priority of {eid}")
        for var, text in assigns:
            ea = ev.createEventAssignment()
            ea.setVariable(var)
            _check(ea.setMath(math_of(text, f"{eid}: {var}")), f"assignment {eid}: {var}")
        _check(ev.setNotes(_xhtml(
            f"engine event {order_k + 1} of {n_ev} (code {code}, {kind.name}) at day {t_ev!r}; a = {a!r}"
            f"{' (' + kind.a + ')' if kind.a else ''}, b = {b!r}{' (' + kind.b + ')' if kind.b else ''}",
            "events at the same time apply in the engine's order: higher priority first, each seeing the jumps "
            "of the ones before it (useValuesFromTriggerTime false, no delay)")), f"notes of {eid}")

    save = ", ".join(f"{t:g}" for t in inp.t_save[:8]) + (", ..." if len(inp.t_save) > 8 else "")
    who = "typical patient (no between-patient variability)" if typical else f"patient {pid}"
    _check(model.setNotes(_xhtml(
        f"nksim {__version__}: scenario {sc.name!r}, {who}, seed {sc.simulation.seed}; {nl} lesion(s) x {nc} "
        f"antigen class(es) ({', '.join(inp.class_labels)}).",
        f"Time: SBML time 0 is study day t0 = {inp.t0:g} (parameter {origin_id}); {day_id} = time + {origin_id} is "
        f"nksim's time axis, {TIME_ORIGIN}. nksim simulates to study day {inp.t_end:g} (SBML time "
        f"{inp.t_end - inp.t0:g}) and saves at study days {save} (every {sc.simulation.save_every_d:g} d and the "
        "scan days).",
        "States are parameters with rate rules (cells as counts); the one compartment V_b is the blood volume (mL). "
        "The lung first-pass pools (closed form in the engine) are ODE states here. Named quantities and the "
        "algebraic outputs are assignment rules. Events are the patient's dosing and treatment events; at equal "
        "times they apply in priority order, each seeing the jumps before it.",
        "Not in the file: the clinical layer (new lesions and deaths are drawn from the cumulative hazards after the "
        "solve; response, CRS), and readouts computed after the solve (blood counts per uL, volumes, diameters).",
        *out_notes)), "model notes")

    _declare_derived_units(model)
    return libsbml.writeSBMLToString(doc)


def _declare_derived_units(model: Any) -> None:
    """Give a quantity with an assignment rule the units libsbml derives for its formula, where it can derive them
    (no literal number or undeclared unit inside), repeating until nothing changes. Most formulas hold a literal (the
    1 cell of the killing law, 1 in 1 - S, ...), whose unit SBML leaves undeclared, so most quantities stay without."""
    libsbml = _libsbml()
    known = {libsbml.UnitDefinition.printUnits(ud, True): ud.getId() for ud in model.getListOfUnitDefinitions()}
    changed = True
    while changed:
        changed = False
        model.populateListFormulaUnitsData()
        for rule in model.getListOfRules():
            if not rule.isAssignment():
                continue
            par = model.getParameter(rule.getVariable())
            if par is None or par.isSetUnits() or rule.containsUndeclaredUnits():
                continue
            ud = rule.getDerivedUnitDefinition()
            if ud is None or ud.getNumUnits() == 0:
                continue
            text = libsbml.UnitDefinition.printUnits(ud, True)
            uid = known.get(text)
            if uid is None:
                new = ud.clone()
                uid = "u_" + _sid(text).strip("_").lower()[:40]
                new.setId(uid)
                _check(model.addUnitDefinition(new), f"unit {uid}")
                known[text] = uid
            par.setUnits(uid)
            changed = True


def sbml_problems(text: str, units: bool = True) -> list[tuple[str, int, str]]:
    """libsbml's consistency check of a document: (severity, error id, message) for every problem found, errors and
    warnings (``units``: include the unit-consistency checks)."""
    libsbml = _libsbml()
    doc = libsbml.readSBMLFromString(text)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, units)
    doc.checkConsistency()
    out = []
    for k in range(doc.getNumErrors()):
        err = doc.getError(k)
        out.append((err.getSeverityAsString(), err.getErrorId(), err.getMessage().strip()))
    return out


def write_sbml(text: str, path: Any) -> Any:
    from pathlib import Path

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


__all__ = ["sbml_problems", "to_sbml", "write_sbml", "parse_patient"]
