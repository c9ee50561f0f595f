"""The parameter registry: every entry sourced or flagged, overrides by name, CLI output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nksim.errors import InputError
from nksim.kinetics import layout
from nksim.registry import STATUSES, load_registry


def test_every_entry_has_source_and_status():
    reg = load_registry()
    assert len(reg) > 80
    for p in reg.values():
        assert p.source.strip(), p.name
        assert p.status in STATUSES
        assert p.low <= p.default <= p.high
        if p.status == "assumption":
            assert "assumption" in p.source.lower(), p.name
        if p.iiv_omega2 is not None:
            assert p.iiv_omega2 >= 0


def test_resolve_overrides_and_unknown_name():
    reg = load_registry()
    vals = reg.resolve({"k_nat": 0.9})
    assert vals["k_nat"] == 0.9 and vals["kappa"] == reg["kappa"].default
    with pytest.raises(InputError) as exc:
        reg.resolve({"kapa": 3})
    assert "kapa" in str(exc.value) and "kappa" in str(exc.value)
    with pytest.raises(InputError):
        reg.resolve({"k_nat": float("nan")})


def test_kinetic_model_reads_only_registered_or_derived_names():
    # every kinetics registry entry is used by the model: declared by a process (registry=...) or read by the input
    # builder to derive a parameter (no dead entries)
    import inspect

    from nksim.kinetics import cohort_dosing, inputs, pathways
    from nksim.kinetics.processes import PROCESSES
    from nksim.population import sampling

    src = "".join(inspect.getsource(m) for m in (inputs, cohort_dosing, pathways, sampling, *PROCESSES))
    for p in load_registry().values():
        if p.module == "kinetics":
            assert f'"{p.name}"' in src, f"registry parameter {p.name} is not used by the kinetic model"
    assert layout.NPAR == len(layout.SCALAR_PARAMS)


def test_params_cli_json():
    proc = subprocess.run([sys.executable, "-m", "nksim.cli", "params", "--json"], capture_output=True,
                          encoding="utf-8", errors="replace")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    names = {r["name"] for r in rows}
    assert {"kappa", "f_comp", "delta_0"} <= names
    kappa = next(r for r in rows if r["name"] == "kappa")
    assert kappa["default"] == 4.0 and "Bhat" in kappa["source"]


def test_engine_tolerances_are_the_states_declared_ones():
    """The solver's absolute tolerance of each systemic state is the one its process declares (State.atol), else
    the scenario's atol_cells: declared once, not in a second table."""
    import numpy as np

    from nksim.kinetics.inputs import build_inputs
    from nksim.kinetics.processes import layout as model_layout
    from nksim.population.sampling import sample_patients
    from nksim.spec.io import load_scenario

    sc = load_scenario("ball-car-t-like")
    atol = build_inputs(sc, sample_patients(sc, np.arange(2))).atol
    for i, state in enumerate(model_layout().SYSTEMIC):
        assert atol[i] == (sc.simulation.atol_cells if state.atol is None else state.atol), state.name
    assert np.all(atol[len(model_layout().SYSTEMIC):] == sc.simulation.atol_cells)
