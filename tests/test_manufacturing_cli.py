"""`nksim manufacture`: table, JSON, run folder with plots; YAML inputs; costs only from user-supplied unit costs."""

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from nksim.cli import app
from nksim.errors import InputError
from nksim.manufacturing import builtin_processes, simulate_lots, summarize_lots
from nksim.manufacturing.cli import run_manufacture
from nksim.manufacturing.loader import load_manufacturing_spec

runner = CliRunner()


def test_builtins_listed_and_load():
    names = builtin_processes()
    assert {"cb-car19-il15", "pb-nk-mbil21-lv", "ipsc-nk-bank"} <= set(names)
    for n in names:
        assert load_manufacturing_spec(n).name == n


def test_cli_table_and_run_folder(tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["manufacture", "cb-car19-il15", "--lots", "30", "--seed", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for s in ("release pass rate", "doses per lot", "vein-to-vein", "cost per dose", "NOT DATA", "assumption"):
        assert s in res.output
    for f in ("summary.json", "lots.csv", "ledger_lot0.json", "process.yaml", "growth_curves.png", "doses_per_lot.png"):
        assert (out / f).stat().st_size > 0, f
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["n_lots"] == 30 and s["seed"] == 2
    assert any(a["status"] == "assumption" for a in s["assumptions"])


def test_cli_json(tmp_path):
    res = runner.invoke(app, ["manufacture", "ipsc-nk-bank", "--lots", "20", "--json", "--no-plots",
                              "--out", str(tmp_path / "j")])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["patients_per_bank"]["vials"] == 100
    assert 0.0 <= s["release_pass"]["rate"] <= 1.0
    assert s["cost"] is None and "no unit costs" in s["cost_note"]


def test_cli_bad_input_is_an_input_error(tmp_path):
    res = runner.invoke(app, ["manufacture", "no-such-process", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    res = runner.invoke(app, ["manufacture", "cb-car19-il15", "--lots", "0", "--out", str(tmp_path / "y")])
    assert isinstance(res.exception, InputError) and "--lots" in str(res.exception)


def test_scenario_yaml_with_block_and_bare_spec(tmp_path):
    block = {"source": {"kind": "peripheral_blood"}, "expansion": {"method": "mbil15_41bbl", "days": 14},
             "dose": {"cells_per_kg": 1e6}}
    full = tmp_path / "scenario.yaml"
    full.write_text(yaml.safe_dump({"name": "my-trial", "product": {"name": "x"}, "manufacturing": block}), encoding="utf-8")
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(block), encoding="utf-8")
    a, b = load_manufacturing_spec(str(full)), load_manufacturing_spec(str(bare))
    assert a.expansion == b.expansion and a.name == "scenario" and b.name == "bare"
    res = runner.invoke(app, ["manufacture", str(full), "--lots", "5", "--no-plots", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output


def test_cost_arithmetic_from_unit_costs():
    """Unit costs of 1 per item make the cost a count: QC + collection per lot, facility days, cryo bags, etc."""
    spec = load_manufacturing_spec({
        "expansion": {"method": "mbil21", "days": 14}, "gene_transfer": {"method": "retroviral", "day": 4},
        "dose": {"cells_per_kg": 1e7},
        "costs": {"qc_per_lot": 1000.0, "collection_per_lot": 500.0, "facility_per_day": 10.0, "cryo_per_dose": 1.0,
                  "feeder_per_stimulation": 100.0, "vector_per_lot": 2000.0, "media_per_l": 1.0}})
    lots = simulate_lots(spec, 40, seed=1)
    for lot in lots:
        it = lot.cost_items
        assert it["qc"] == 1000.0 and it["collection"] == 500.0 and it["vector"] == 2000.0
        assert it["feeders"] == 100.0 * math.ceil(14 / 7)
        assert math.isclose(it["facility"], 10.0 * (14 + 1.0))  # culture + formulation days
        assert it["cryo"] == lot.doses
        assert it["media"] > 0
        assert math.isclose(lot.cost, sum(it.values()))
    s = summarize_lots(lots, spec)
    total_cost = sum(lot.cost for lot in lots)
    released_doses = sum(lot.doses for lot in lots if lot.released)
    assert math.isclose(s["cost"]["per_released_dose"], total_cost / released_doses)


def test_run_manufacture_api(tmp_path):
    spec = load_manufacturing_spec("nk92-irradiated")
    s = run_manufacture(spec, 10, 0, tmp_path / "nk92", plots=False, progress=False)
    assert s["cd3_per_kg"]["median"] == 0.0 and s["car_fraction"]["median"] == 0.0
    lots = simulate_lots(spec, 3, seed=0)
    assert not lots[0].persistent
    with pytest.raises(InputError):
        run_manufacture(spec, 10, -1, tmp_path / "z")


def test_parameter_uncertainty_replicates(tmp_path):
    from nksim.manufacturing.uncertainty import PROCESS_CHOICES, uncertainty_replicates

    spec = load_manufacturing_spec({**load_manufacturing_spec("cb-car19-il15").model_dump(),
                                    "parameters": {"mfg_cb_thaw_recovery": 0.9}})
    a = uncertainty_replicates(spec, 15, 3, 4)
    b = uncertainty_replicates(spec, 15, 3, 4)
    assert a == b  # reproducible
    assert "mfg_cb_thaw_recovery" not in a["varied"]  # fixed by the process
    assert not PROCESS_CHOICES & set(a["varied"])  # release limits etc. are choices, not unknowns
    assert "mfg_fold21_median_mbil21" in a["varied"]
    m = a["metrics"]["release_pass_rate"]
    assert 0.0 <= m["q05"] <= m["median"] <= m["q95"] <= 1.0
    with pytest.raises(InputError, match="uncertainty"):
        uncertainty_replicates(spec, 15, 3, 1)
    res = runner.invoke(app, ["manufacture", "ipsc-nk-bank", "--lots", "10", "--uncertainty", "3", "--no-plots",
                              "--json", "--out", str(tmp_path / "u")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["uncertainty"]["replicates"] == 3


def test_table_counts_whole_patients_plural_doses_and_the_two_costs_explained(tmp_path):
    from nksim.manufacturing.cli import COST_NOTE, _planned, _rows

    spec = load_manufacturing_spec({
        "expansion": {"method": "mbil21", "days": 14}, "dose": {"cells_per_kg": 1e7},
        "costs": {"qc_per_lot": 1000.0, "facility_per_day": 10.0}})
    s = summarize_lots(simulate_lots(spec, 40, seed=3), spec)
    rows = {r[0]: r[1:] for r in _rows(s)}
    for name in ("patients a lot can treat (full dose)", "full doses per lot (at the planned dose)"):
        med, span = rows[name]
        lo, hi = span.split(" - ")
        assert med.isdigit() and lo.isdigit() and hi.isdigit()  # no "62.1 patients"
        assert int(lo) <= int(med) <= int(hi)
    assert _planned(1) == "lot released with >= 1 full dose (the plan)" and "doses" in _planned(4)
    assert any(k.startswith("cost per usable dose") for k in rows)
    assert any(k.startswith("cost per dose of a released lot") for k in rows)
    assert "failed" in COST_NOTE
    res = runner.invoke(app, ["manufacture", "cb-car19-il15", "--lots", "10", "--no-plots", "--out",
                              str(tmp_path / "m")])
    assert res.exit_code == 0 and "lot meets planned" not in res.output
