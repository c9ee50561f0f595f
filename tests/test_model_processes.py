"""The model written once: declarations, the symbolic dialect, the generated layout and docs, the code generators."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

import nksim
from nksim.kinetics import processes as procs
from nksim.kinetics.codegen import docs_table, layout_file
from nksim.kinetics.codegen.python import module_source, python_functions
from nksim.kinetics.codegen.schedule import schedule
from nksim.kinetics.processes import PROCESSES, layout, trace
from nksim.kinetics.symbolic import Expr, evaluate, exp, pos, where
from nksim.registry import load_registry


def test_committed_layout_is_the_generated_one():
    """_layout.py is generated from the declarations; regenerate it after changing one."""
    assert layout_file.TARGET.read_text(encoding="utf-8") == layout_file.render(), \
        "run: python -m nksim.kinetics.codegen.layout_file"


def test_committed_docs_tables_are_the_generated_ones():
    doc = docs_table.DOC.read_text(encoding="utf-8")
    assert docs_table.update(doc) == doc, "run: python -m nksim.kinetics.codegen.docs_table"


def test_every_declaration_is_complete_and_every_registry_name_exists():
    reg = load_registry()
    names = set(reg)
    for prm, owner in layout().PARAMS:
        assert prm.unit and prm.doc, (owner, prm.name)
        if prm.registry is not None:
            assert prm.registry in names, f"{owner}.{prm.name}: registry has no {prm.registry!r}"
        else:
            assert prm.derived, f"{owner}.{prm.name}: say how it is derived"
    for st, owner in layout().STATES:
        assert st.unit and st.doc, (owner, st.name)


def test_each_process_is_one_small_file():
    for mod in PROCESSES:
        n = len(Path(mod.__file__).read_text(encoding="utf-8").splitlines())
        assert n < 300, f"{mod.__name__}: {n} lines"


def test_every_state_changes_by_a_rate_or_an_event():
    tr = trace(2, 4)
    jumped = {i for states, _ in tr.events.values() for i in states}
    for i, d in enumerate(tr.derivatives):
        assert not (d.op == "const" and d.val == 0.0) or i in jumped, f"state {i} never changes"


def test_the_dialect_refuses_branching_on_a_value():
    x = Expr("y", val=0)
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 1.0)
    with pytest.raises(TypeError, match="condition"):
        where(x, 1.0, 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="operand"):
        (x > 1.0) + 1.0  # noqa: B018
    assert (x + 1.0) * 2.0 is (x + 1.0) * 2.0  # hash-consed: one node for one operation


def test_scheduled_code_equals_the_expression_tree():
    """The generated scalar code (statements in regions, branches for where) gives the values a plain recursive
    evaluation of the traced expressions gives."""
    rng = np.random.default_rng(5)
    tr = trace(2, 2)
    rhs, _ = python_functions(2, 2)
    L = layout()
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    from nksim.kinetics.inputs import build_inputs
    from nksim.population.sampling import sample_patients

    sc = sc.model_copy(update={"tumor": sc.tumor.model_copy(update={"n_target_lesions": 2,
                                                                     "nontarget_remainder": False})})
    inp = build_inputs(sc, sample_patients(sc, np.arange(1)))
    assert inp.n_classes == 2
    for _ in range(4):
        y = inp.y0[0] * rng.lognormal(0, 1, inp.y0.shape[1]) + rng.lognormal(8, 3, inp.y0.shape[1])
        t = float(rng.uniform(0, 40))
        seg = np.array([t - 1.0, 1e7, 1e6])
        env = {("t",): t}
        env.update({("y", i): float(v) for i, v in enumerate(y)})
        env.update({("p", i): float(v) for i, v in enumerate(inp.params[0])})
        env.update({("seg", k): float(v) for k, v in enumerate(seg)})
        dy, alg = np.zeros_like(y), np.zeros(L.NALG)
        rhs(t, y, inp.params[0], seg, dy, alg)
        want = [evaluate(d, env) for d in tr.derivatives]
        np.testing.assert_allclose(dy, want, rtol=1e-13, atol=1e-300)


def test_where_computes_only_the_branch_it_needs():
    """In Python every where is an if: the branch not taken is never evaluated (log(0) there would fail)."""
    x = Expr("y", val=0)
    x.name = "x"
    e = where(x > 0.0, exp(-x) * 2.0, 0.0)
    region = schedule([e], lambda w: (True, True))
    assert len(region.items) == 2  # the condition, then one group holding both branches
    lazy = where(x > 0.0, pos(x) * 3.0, 0.0, lazy=True)
    region = schedule([lazy], lambda w: (w.lazy, False))
    assert any(type(it).__name__ == "Group" for it in region.items)


def test_a_new_process_is_one_file(monkeypatch):
    """The worked example of docs/model.md: a module with its states, parameters and rate laws, added to
    PROCESSES, appears in the layout, the derivatives and the generated code, and nothing else changes."""
    from nksim.kinetics.processes.base import Model, Param, State

    mod = types.ModuleType("nksim.kinetics.processes.macrophages")
    mod.STATES = [State("Mac", "cells/uL", "tumor-associated macrophages (hypothetical)", atol=1e-6)]
    mod.PARAMS = [Param("mac0", "cells/uL", "count at rest", registry="treg0_per_ul"),
                  Param("k_mac", "1/d", "homeostatic return", registry="k_treg")]

    def rates(m: Model) -> None:
        m.flux("Mac", m.p("k_mac") * (m.p("mac0") - m.y("Mac"))
               - m.p("w_kill") * m.p("ld_int") * m.q.chemo_f * m.y("Mac"))

    mod.rates = rates
    monkeypatch.setattr(procs, "PROCESSES", PROCESSES + (mod,))
    layout.cache_clear()
    try:
        L = layout()
        assert "Mac" in L.SYSTEMIC_INDEX and "mac0" in L.PARAM_INDEX
        tr = trace(1, 1)
        d = tr.derivatives[L.SYSTEMIC_INDEX["Mac"]]
        assert d.op != "const"
        ns: dict = {}
        exec(module_source(1, 1), ns)  # the generated scalar code (not the cached one: this layout is temporary)
        env = {("y", L.SYSTEMIC_INDEX["Mac"]): 10.0, ("t",): 0.0, ("seg", 0): 0.0}
        env.update({("p", i): 1.0 for i in range(L.NPAR)})
        env[("p", L.PARAM_INDEX["mac0"])] = 30.0
        env[("p", L.PARAM_INDEX["k_mac"])] = 0.5
        env[("p", L.PARAM_INDEX["t_ld"])] = np.inf
        env[("p", L.PARAM_INDEX["tau_chemo"])] = 1.0
        assert evaluate(d, env) == pytest.approx(0.5 * (30.0 - 10.0))
        y = np.zeros(L.n_states(1, 1))
        y[L.SYSTEMIC_INDEX["Mac"]] = 10.0
        p = np.array([env[("p", i)] for i in range(L.NPAR)] + [1.0] * (L.NLP + L.NCP))
        dy = np.zeros_like(y)
        ns["rhs"](0.0, y, p, np.zeros(L.NSEG), dy, np.zeros(L.NALG))
        assert dy[L.SYSTEMIC_INDEX["Mac"]] == pytest.approx(10.0)
    finally:
        monkeypatch.undo()
        layout.cache_clear()
    assert "Mac" not in layout().SYSTEMIC_INDEX
