"""The patient table of a chunk built from columns (nksim.clinical.outcomes with kernel-tracked summaries): the same
table whether the covariates come as arrays or as a table (in any row order), the tracked readouts do not read the
time courses that the tracked summaries replace, and the readout draws the engine is handed are the patients' own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import small

from nksim.clinical.inputs import ReadoutInputs
from nksim.clinical.outcomes import SAFETY_COLUMNS, outcomes_from_inputs
from nksim.clinical.resolved import resolve
from nksim.errors import InputError
from nksim.engine import solve_summaries
from nksim.kinetics import layout as L
from nksim.population.sampling import sample_patients


@pytest.fixture(scope="module")
def chunk():
    sc = small("hcc-post-lt-allo-nk", n=24, horizon=200.0)
    patients = sample_patients(sc, np.arange(24))
    solved = solve_summaries(sc, patients, None, "compiled", lambda inp: None)
    assert solved.tracked is not None and solved.draws is not None
    settings = resolve(sc).settings
    scan_days = settings.scan_days[settings.scan_days <= solved.t[-1]]
    return {"seed": sc.simulation.seed, "settings": dataclasses.replace(settings, scan_days=scan_days),
            "solved": solved, "cov": patients.join(solved.inp.product_given),
            "scan_times": np.concatenate([[solved.t[0]], scan_days])}


def inputs(c, readout=None, tracked=True) -> ReadoutInputs:
    s = c["solved"]
    is_target = np.array([bool(s.inp.params[0, L.NPAR + l * L.NLP + L.LP_TARGET]) for l in range(s.inp.n_lesions)])
    return ReadoutInputs.from_arrays(c["cov"].index.to_numpy(), s.t, c["scan_times"], readout or s.readout,
                                     is_target, tracked=s.tracked if tracked else None,
                                     draws=s.draws if tracked else None)


def test_columns_and_tables_give_one_patient_table(chunk):
    cov, st, seed = chunk["cov"], chunk["settings"], chunk["seed"]
    from_columns = outcomes_from_inputs(inputs(chunk), {k: v.to_numpy() for k, v in cov.items()}, st, seed)
    from_table = outcomes_from_inputs(inputs(chunk), cov, st, seed)
    shuffled = outcomes_from_inputs(inputs(chunk), cov.iloc[::-1], st, seed)  # aligned by patient id
    for other in (from_table, shuffled):
        pd.testing.assert_frame_equal(from_columns, other, check_exact=True)
    assert list(from_columns.columns[-len(cov.columns):]) == list(cov.columns)  # readouts first, then covariates
    assert set(SAFETY_COLUMNS) <= set(from_columns.columns)
    # the draws the engine passes are those the readouts would draw themselves
    again = outcomes_from_inputs(dataclasses.replace(inputs(chunk), draws=None), cov, st, seed)
    pd.testing.assert_frame_equal(from_columns, again, check_exact=True)
    with pytest.raises(InputError, match="values per column"):
        outcomes_from_inputs(inputs(chunk), {k: v.to_numpy()[1:] for k, v in cov.items()}, st, seed)


def test_tracked_readouts_do_not_read_the_replaced_time_courses(chunk):
    cov, st, seed = chunk["cov"], chunk["settings"], chunk["seed"]
    changed = {k: v.copy() for k, v in chunk["solved"].readout.items()}
    for name in ("cytokine_pg_ml", "offtumor_activity", "new_lesion_hazard", "death_hazard"):
        changed[name] = changed[name] * 3.0 + 1.0
    want = outcomes_from_inputs(inputs(chunk), cov, st, seed)
    got = outcomes_from_inputs(inputs(chunk, changed), cov, st, seed)
    pd.testing.assert_frame_equal(want, got, check_exact=True)
    # on the grid (no tracked summaries) the same change moves the readouts: the check above can fail
    grid_want = outcomes_from_inputs(inputs(chunk, tracked=False), cov, st, seed)
    grid_got = outcomes_from_inputs(inputs(chunk, changed, tracked=False), cov, st, seed)
    assert not grid_want["peak_cytokine_pg_ml"].equals(grid_got["peak_cytokine_pg_ml"])


def test_the_screens_draws_are_the_patients_readout_draws():
    """``sample_with_draws`` hands the engine the readout draws the screen drew for each accepted candidate (a
    regimen starting before day 0), equal to drawing them again for the patients' ids and attempts; none where the
    screen draws none."""
    from nksim.clinical.outcomes import patient_draws
    from nksim.population.sampling import sample_with_draws

    sc = small("hcc-gpc3-car-nk-il15", n=400)
    patients, draws = sample_with_draws(sc, np.arange(400))
    attempts = patients["draw_attempt"].to_numpy()
    assert (attempts > 0).any()  # redrawn candidates: their accepted attempt's draws
    want = patient_draws(sc.simulation.seed, patients.index.to_numpy(), attempts)
    np.testing.assert_array_equal(draws, want)
    pd.testing.assert_frame_equal(patients, sample_patients(sc, np.arange(400)), check_exact=True)
    assert sample_with_draws(small("hcc-post-lt-allo-nk", n=10), np.arange(10))[1] is None  # starts at day 0


def test_text_columns_hold_one_string_object_per_value():
    """A text column of the patient table refers to one string object per distinct value (a string object per
    patient costs ~80 bytes: 160 MB for two such columns at a million patients)."""
    import nksim

    table = nksim.simulate(small("hcc-post-lt-allo-nk", n=300, horizon=365.0), outputs="summary").patients
    for col in ("immune_status", "indication", "growth_class", "death_cause", "dlt_toxicity", "solver_message"):
        values = table[col].to_numpy()
        assert len({id(v) for v in values}) == len(set(values)), col
