"""Mass balance through every step: for each population, cells in + generated = cells out + losses by cause, and
each step's cells in equal the previous step's cells out."""

import math

import pytest

from nksim.manufacturing import builtin_processes, check_ledger, load_manufacturing_spec, simulate_lots
from nksim.manufacturing.ledger import LedgerRow, row, totals

VARIANTS = {
    "pb_mrna_no_depletion": {
        "source": {"kind": "peripheral_blood", "cd3_depletion": False},
        "expansion": {"method": "mbil15_41bbl", "days": 14, "final_cd3_depletion": True},
        "gene_transfer": {"method": "mrna_electroporation"},
        "cryo": {"frozen": True, "il15_il18_pretreatment": True},
        "dose": {"cells_per_kg": 1e6, "basis": "car_positive"},
    },
    "cb_transposon_bioreactor": {
        "source": {"kind": "cord_blood", "nrbc": 1e8, "collection_to_cryo_h": 30},
        "expansion": {"method": "feeder_free", "vessel": "bioreactor", "days": 10},
        "gene_transfer": {"method": "transposon", "day": 0},
        "dose": {"flat_cells": 1e8, "doses_per_patient": 2},
    },
    "ipsc_expanded_crispr": {
        "source": {"kind": "ipsc", "bank_vials": 10},
        "expansion": {"method": "il2_alone", "days": 7, "seed_nk_cells": 1e12},
        "gene_transfer": {"method": "crispr_knockin", "day": 2},
        "dose": {"flat_cells": 3e8},
    },
    "no_culture_fresh": {
        "source": {"kind": "peripheral_blood"},
        "expansion": {"method": "none", "days": 0},
        "cryo": {"frozen": False},
        "dose": {"cells_per_kg": 1e7},
    },
}


def _all_specs():
    specs = [load_manufacturing_spec(n) for n in builtin_processes()]
    specs += [load_manufacturing_spec({"name": k, **v}) for k, v in VARIANTS.items()]
    return specs


@pytest.mark.parametrize("spec", _all_specs(), ids=lambda s: s.name)
def test_every_step_balances_and_chains(spec):
    for lot in simulate_lots(spec, 25, seed=4):
        assert check_ledger(lot.ledger) == []
        # the last NK row's output is what the lot delivers: frozen -> thawed viable cells in full doses
        nk_rows = [r for r in lot.ledger if r.population == "nk"]
        last = nk_rows[-1]
        filled = lot.doses * lot.cells_per_dose if lot.doses else 0.0
        expected = filled * lot.post_thaw_viability if spec.cryo.frozen else filled
        assert math.isclose(last.cells_out, expected, rel_tol=1e-9, abs_tol=1e-6)
        # global balance: all NK that entered or were made = delivered + every loss
        first_in = nk_rows[0].cells_in
        gen = sum(r.generated for r in nk_rows)
        lost = sum(totals(lot.ledger)["nk"].values())
        assert math.isclose(first_in + gen, last.cells_out + lost, rel_tol=1e-9)


def test_ledger_names_losses_by_cause():
    lot = simulate_lots("pb-nk-mbil21-lv", 1, seed=0)[0]
    causes = totals(lot.ledger)["nk"]
    for cause in ("selection_loss", "culture_death", "transfer_toxicity", "harvest_wash_formulation", "qc_samples",
                  "post_thaw_death"):
        assert causes.get(cause, 0.0) > 0.0, cause
    assert totals(lot.ledger)["t"]["cd3_depletion"] > 0.0


def test_check_ledger_catches_errors():
    good = [row("a", "nk", 10.0, 8.0, culture_death=2.0), row("b", "nk", 8.0, 8.0)]
    assert check_ledger(good) == []
    leaky = [LedgerRow("a", "nk", 10.0, 8.0, 0.0, {"death": 1.0})]
    assert "imbalance" in check_ledger(leaky)[0]
    broken_chain = [row("a", "nk", 10.0, 8.0, culture_death=2.0), row("b", "nk", 7.0, 7.0)]
    assert "previous out" in check_ledger(broken_chain)[0]
    negative = [LedgerRow("a", "nk", 10.0, 12.0, 0.0, {"death": -2.0})]
    assert any("negative" in p for p in check_ledger(negative))
