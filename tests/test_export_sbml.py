"""SBML export (nksim.io.sbml): libsbml validation of every built-in scenario, and a cross-check against a peer
simulator: the exported file integrated by libRoadRunner (CVODE) matches nksim's reference backend (the generated
scalar right-hand side under scipy's LSODA) to 1e-4 relative on tumor cells per lesion and product cells, wherever
they are above one cell, at the save times.

Both sides run at rtol 1e-10 and the same absolute tolerances, state by state: 1e-8 x the scenario's (1e-9 cells for
cell counts), given to libRoadRunner as a vector (a scalar there is scaled by each state's value when it is set).

The fast slice covers every scenario with its typical patient (its tests are grouped by lesion x antigen-class
configuration, so each process compiles the reference right-hand side of a configuration once); the slow version
adds sampled patients.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np
import pytest

import nksim
from nksim.errors import InputError
from nksim.io.sbml import parse_patient, sbml_problems, to_sbml

libsbml = pytest.importorskip("libsbml")

RTOL = 1e-10
MATCH = 1e-4  # relative, where the reference is above one cell
SAMPLED = (1, 7)  # sampled patients of the slow version (besides the typical one)


@lru_cache(maxsize=None)
def _config(name: str) -> tuple[int, int]:
    from nksim.kinetics.inputs import build_inputs
    from nksim.population.sampling import sample_patients

    sc = nksim.load_scenario(name)
    inp = build_inputs(sc, sample_patients(sc, np.array([0])))
    return inp.n_lesions, inp.n_classes


def _groups() -> dict[tuple[int, int], list[str]]:
    out: dict[tuple[int, int], list[str]] = defaultdict(list)
    for name in nksim.list_scenarios():
        out[_config(name)].append(name)
    return dict(sorted(out.items()))


GROUPS = _groups()


# libRoadRunner runs in a child process: its LLVM (LLJIT) shares the test process with llvmlite's (the engine and
# numba), and in a long pytest worker that has compiled and threaded a lot it crashed inside RoadRunner() now and
# then (a segfault that takes the xdist worker down); alone it never did. A child process keeps the two apart.
_RR_CHILD = """
import json, sys
import numpy as np
import roadrunner as rr_mod
C = rr_mod.Config
C.setValue(C.LLVM_BACKEND, C.LLJIT)  # compiles these models several times faster than the default MCJIT
rr_mod.Logger.setLevel(rr_mod.Logger.LOG_ERROR)
job = json.load(open(sys.argv[1], encoding="utf-8"))
rr = rr_mod.RoadRunner(open(job["sbml"], encoding="utf-8").read())
rr.integrator.relative_tolerance = job["rtol"]
n = len(rr.integrator.getAbsoluteToleranceVector())
atol = job["atol"]
rr.integrator.setValue("absolute_tolerance", [atol.get(rr.model.getStateVectorId(i), job["atol_default"])
                                              for i in range(n)])
rr.integrator.maximum_num_steps = 1_000_000
np.save(job["out"], np.asarray(rr.simulate(times=job["times"], selections=job["selections"])))
"""


def _roadrunner_simulate(sbml: str, rtol: float, atol: dict[str, float], atol_default: float, times: list[float],
                         selections: list[str]) -> np.ndarray:
    """libRoadRunner's result (time x selections) for an SBML text, computed in a child process."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    pytest.importorskip("roadrunner")
    with tempfile.TemporaryDirectory(prefix="nksim-rr-") as d:
        job = {"sbml": str(Path(d) / "model.xml"), "out": str(Path(d) / "result.npy"), "rtol": rtol, "atol": atol,
               "atol_default": atol_default, "times": times, "selections": selections}
        Path(job["sbml"]).write_text(sbml, encoding="utf-8")
        (Path(d) / "job.json").write_text(json.dumps(job), encoding="utf-8")
        proc = subprocess.run([sys.executable, "-c", _RR_CHILD, str(Path(d) / "job.json")], capture_output=True,
                              text=True, encoding="utf-8", timeout=1800)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return np.load(job["out"])


def cross_check(name: str, patient: int | str, overrides: dict | None = None) -> dict[str, float]:
    """Integrate the exported model of one patient with libRoadRunner and the reference backend; returns the largest
    relative difference per compared quantity (tumor cells per lesion, product cells by pool), where the reference
    is above one cell."""
    from nksim.io.sbml import _resolve
    from nksim.kinetics import layout as L
    from nksim.kinetics.processes import layout
    from nksim.kinetics.reference import solve_reference_batch

    sc, pid, typical, patients, inp = _resolve(name, patient, None, overrides)
    nl, nc = inp.n_lesions, inp.n_classes
    ys, als, _ = solve_reference_batch(inp.y0, inp.params, nl, nc, inp.ev_t, inp.ev_k, inp.ev_a, inp.ev_b, inp.t0,
                                       inp.t_end, inp.t_save, RTOL, inp.atol * 1e-8)
    ref, ref_alg = ys[0], als[0]

    lay = layout()
    sids = [s.name for s in lay.SYSTEMIC]
    for l in range(nl):
        sids += [f"{s.name}_{l}" for s in lay.LESION] + [f"T_{l}_{c}" for c in range(nc)]
    atol = {k: float(v) for k, v in zip(sids, inp.atol * 1e-8)}  # the reference's, state by state (pools: as cells)
    cells = sc.simulation.atol_cells * 1e-8
    sel = ["time", *sids, "lung_t", "lung_u"]
    res = _roadrunner_simulate(to_sbml(sc, patient, overrides=overrides), RTOL, atol, cells,
                               [float(t) for t in inp.t_save - inp.t0], sel)
    assert np.allclose(res[:, 0] + inp.t0, inp.t_save, rtol=0, atol=1e-9)
    got = np.maximum(res[:, 1:1 + len(sids)], 0.0)
    got_lung = np.maximum(res[:, 1 + len(sids):], 0.0)
    ix = {s: k for k, s in enumerate(sids)}

    def tumor(y: np.ndarray, l: int) -> np.ndarray:
        return sum(y[:, ix[f"T_{l}_{c}"]] for c in range(nc))

    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for l in range(nl):
        pairs[f"tumor_{l}"] = (tumor(ref, l), tumor(got, l))
    product = ["E_t", "E_u", "M_t", "M_u"] + [f"{g}_{l}" for l in range(nl) for g in ("K_t", "K_u", "N_t", "N_u",
                                                                                     "X_t", "X_u")]
    for s in product:
        pairs[s] = (ref[:, ix[s]], got[:, ix[s]])
    pairs["lung_t"] = (ref_alg[:, L.A_LUNG_T], got_lung[:, 0])
    pairs["lung_u"] = (ref_alg[:, L.A_LUNG_U], got_lung[:, 1])
    out = {}
    for key, (a, b) in pairs.items():
        above = a > 1.0
        out[key] = float(np.max(np.abs(b[above] - a[above]) / a[above])) if above.any() else 0.0
    return out


def _report(name: str, patient: int | str, diffs: dict[str, float]) -> str:
    worst = max(diffs, key=diffs.get)  # type: ignore[arg-type]
    return f"{name} patient {patient}: largest relative difference {diffs[worst]:.2e} ({worst})"


# ---- (a) validation ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", nksim.list_scenarios())
def test_sbml_validates_without_errors(name: str) -> None:
    text = to_sbml(name, "typical")
    problems = sbml_problems(text)
    errors = [p for p in problems if p[0] in ("Error", "Fatal")]
    assert not errors, errors[:5]
    # the warnings left are the unit checker's 'cannot be fully checked' (literal numbers and the named
    # quantities, which carry no declared unit) and the matching 'no units declared' notes on those quantities
    allowed = {99505, 99508, 20702, 80701, 10563}
    assert {p[1] for p in problems} <= allowed, Counter(p[1] for p in problems)
    doc = libsbml.readSBMLFromString(text)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    m = doc.getModel()
    assert m.getNumCompartments() == 1 and m.getCompartment(0).getId() == "V_b"
    assert m.getNumEvents() > 0 and all(e.isSetPriority() for e in m.getListOfEvents())


def test_parameter_annotations_carry_registry_source_and_status() -> None:
    from nksim.registry import load_registry

    reg = load_registry()
    m = libsbml.readSBMLFromString(to_sbml("hcc-gpc3-car-nk-il15", 0)).getModel()
    k_lb = m.getParameter("k_LB")
    ann = k_lb.getAnnotationString()
    assert 'registry="k_LB"' in ann and f'status="{reg["k_LB"].status}"' in ann and "source=" in ann
    assert m.getUnitDefinition(k_lb.getUnits()).getNumUnits() == 1  # 1/d
    derived = m.getParameter("nat_t").getAnnotationString()
    assert 'status="derived"' in derived and "derived=" in derived
    assert m.getCompartment("V_b").getUnits() == "mL"
    # the states carry the patient's initial values; the algebraic outputs are assignment rules
    assert m.getParameter("H").getConstant() is False
    for out in ("il15_pg_ml", "il2_pg_ml", "signal", "cytokine_pg_ml", "kill_rate"):
        assert m.getAssignmentRuleByVariable(out) is not None


def _same_day_doses() -> dict:
    """Patient 0 gets lymphodepletion, two infusions, IL-2 and a log-kill course all on day 0, and a third infusion
    on day 10: five engine events at one time, whose order matters (the second infusion's CAR expression update reads
    the cells the first added; the log-kill reads the cells lymphodepletion left)."""
    import pandas as pd

    return {"dosing": pd.DataFrame({"ID": [0] * 7, "TIME": [0, 0, 0, 0, 0, 0, 10], "EVID": [1] * 7,
                                    "AMT": [1.0, 5e7, 3e7, 2e7, 1.0, 1.5, 1e8], "CMT": [3, 1, 1, 2, 4, 7, 1]})}


def test_events_follow_the_engine_schedule_in_order() -> None:
    from nksim.io.sbml import _resolve

    ov = _same_day_doses()
    sc, _, _, _, inp = _resolve("hcc-post-lt-allo-nk", 0, None, ov)
    m = libsbml.readSBMLFromString(to_sbml(sc, 0, overrides=ov)).getModel()
    times = [float(t) for t, k in zip(inp.ev_t[0], inp.ev_k[0]) if k]
    assert m.getNumEvents() == len(times) and times.count(0.0) == 6  # and the concomitant window opens
    prios = [float(libsbml.formulaToL3String(e.getPriority().getMath())) for e in m.getListOfEvents()]
    assert prios == sorted(prios, reverse=True) and len(set(prios)) == len(prios)
    for e, t in zip(m.getListOfEvents(), times):
        assert not e.getUseValuesFromTriggerTime() and not e.getTrigger().getInitialValue()
        trig = e.getTrigger().getMath()
        assert trig.getChild(0).getName() == "study_day" and trig.getChild(1).getValue() == t
    assert [e.getId() for e in m.getListOfEvents()][:6] == ["lymphodepletion_1", "infusion_1", "infusion_2", "il2_1",
                                                             "log_kill_1", "boundary_1"]


def test_roadrunner_matches_reference_same_day_events_and_hepatic_artery() -> None:
    """Simultaneous events apply in the engine's order; a hepatic-artery infusion splits the dose between the liver
    lesions and blood by the lesions' tumor cells at that moment (an event reading assignment rules)."""
    diffs = cross_check("hcc-post-lt-allo-nk", 0, _same_day_doses())
    assert max(diffs.values()) <= MATCH, diffs
    sc = nksim.load_scenario("hcc-post-lt-allo-nk")
    assert sc.tumor.lesions_in_liver
    ia = {"regimen": sc.regimen.model_copy(update={"route": "hepatic_artery"})}
    diffs = cross_check("hcc-post-lt-allo-nk", 0, ia)
    assert max(diffs.values()) <= MATCH, diffs


def test_bad_patient_ids_are_clear_errors() -> None:
    assert parse_patient("typical") == (0, True)
    assert parse_patient(" 12 ") == (12, False)
    assert parse_patient(3) == (3, False)
    for bad in (-1, "abc", "-2", 1.5, True):
        with pytest.raises(InputError, match="patient"):
            parse_patient(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="patient"):
        to_sbml("hcc-post-lt-allo-nk", -3)


def test_cli_export_sbml(tmp_path) -> None:
    from typer.testing import CliRunner

    from nksim.cli import app

    out = tmp_path / "model.xml"
    r = CliRunner().invoke(app, ["export", "sbml", "hcc-post-lt-allo-nk", "--patient", "typical", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "0 errors" in r.output and out.read_text(encoding="utf-8") == to_sbml("hcc-post-lt-allo-nk", "typical")
    r = CliRunner().invoke(app, ["export", "sbml", "hcc-post-lt-allo-nk", "-p", "4", "-s", "11", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == to_sbml("hcc-post-lt-allo-nk", 4, seed=11) != to_sbml("hcc-post-lt-allo-nk", 4)
    r = CliRunner().invoke(app, ["export", "sbml", "hcc-post-lt-allo-nk", "--patient", "first", "-o", str(out)])
    assert r.exit_code != 0 and isinstance(r.exception, InputError) and "--patient" in str(r.exception)


# ---- (b) cross-check with libRoadRunner ---------------------------------------------------------------------------
@pytest.mark.parametrize("config", list(GROUPS), ids=[f"{nl}x{nc}" for nl, nc in GROUPS])
def test_roadrunner_matches_reference_typical_patient(config: tuple[int, int]) -> None:
    lines = []
    for name in GROUPS[config]:
        diffs = cross_check(name, "typical")
        lines.append(_report(name, "typical", diffs))
        bad = {k: v for k, v in diffs.items() if not v <= MATCH}
        assert not bad, (name, bad)
    print("\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize("config", list(GROUPS), ids=[f"{nl}x{nc}" for nl, nc in GROUPS])
def test_roadrunner_matches_reference_sampled_patients(config: tuple[int, int]) -> None:
    lines = []
    for name in GROUPS[config]:
        for pid in SAMPLED:
            diffs = cross_check(name, pid)
            lines.append(_report(name, pid, diffs))
            bad = {k: v for k, v in diffs.items() if not v <= MATCH}
            assert not bad, (name, pid, bad)
    print("\n".join(lines))


def test_copasi_matches_reference() -> None:
    """COPASI (python-copasi, a test dependency) imports the file and its deterministic
    time course matches the reference backend as libRoadRunner's does."""
    import COPASI as copasi
    from nksim.io.sbml import _resolve
    from nksim.kinetics import layout as L
    from nksim.kinetics.reference import solve_reference_batch

    name = "hcc-post-lt-allo-nk"
    sc, _, _, _, inp = _resolve(name, "typical", None, None)
    ys, _, _ = solve_reference_batch(inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a,
                                     inp.ev_b, inp.t0, inp.t_end, inp.t_save, RTOL, inp.atol * 1e-8)
    dm = copasi.CRootContainer.addDatamodel()
    assert dm.importSBMLFromString(to_sbml(name, "typical"))
    task = dm.getTask("Time-Course")
    task.setMethodType(copasi.CTaskEnum.Method_deterministic)
    prob = task.getProblem()
    span = inp.t_end - inp.t0
    prob.setStepNumber(int(round(span)))
    prob.setDuration(span)
    prob.setTimeSeriesRequested(True)
    task.getMethod().getParameter("Relative Tolerance").setDblValue(RTOL)
    task.getMethod().getParameter("Absolute Tolerance").setDblValue(1e-9)
    task.getMethod().getParameter("Max Internal Steps").setIntValue(1_000_000)
    assert task.process(True), task.getProcessError()
    ts = task.getTimeSeries()
    titles = [ts.getTitle(i) for i in range(ts.getNumVariables())]
    t = np.array([ts.getData(j, 0) for j in range(ts.getRecordedSteps())]) + inp.t0
    keep = np.isin(t, inp.t_save)
    for sid, k in (("E_t", L.S_E_T), ("E_u", L.S_E_U), ("T_0_0", L.NSYS + L.LES_FIXED)):
        col = titles.index(f"Values[{sid}]")
        got = np.array([ts.getData(j, col) for j in range(ts.getRecordedSteps())])[keep]
        ref = ys[0][np.isin(inp.t_save, t), k]
        above = ref > 1.0
        assert sid == "E_t" or above.sum() > 10
        assert np.all(np.abs(got[above] - ref[above]) <= MATCH * ref[above]), sid
    copasi.CRootContainer.removeDatamodel(dm)


if __name__ == "__main__":  # python tests/test_export_sbml.py [patients...]: the table of largest differences
    import sys
    import time

    pats = [p if p == "typical" else int(p) for p in sys.argv[1:]] or ["typical"]
    for name in nksim.list_scenarios():
        for p in pats:
            t = time.time()
            d = cross_check(name, p)
            print(f"{_report(name, p, d)}  [{time.time() - t:.1f} s]", flush=True)
