"""ABM-derived effective trafficking and killing (the spatial model's coarse-grained table) for the kinetic model.

With ``tumor.microenvironment: abm_table`` a scenario takes, per patient, the row of
``data/spatial/coarse_grained.csv`` (written by ``nksim.spatial.coarse``) whose armoring matches the construct
exactly and whose condition (log TGF-beta, hypoxic fraction, CAR-antigen fraction) is nearest to the patient's
covariates. Its ``e_x``, ``k_nat_eff``, ``k_car_eff`` and ``f_comp`` replace the ODE's extravasation, killing rates
and competent fraction; the effective rates already contain the TGF-beta and hypoxia suppression the ABM resolves in
space, so the ODE's own TGF-beta/hypoxia factors are not applied again (ADCC, which the ABM table does not cover,
keeps the ODE form). Only data is read here: the kinetic layer does not import the spatial code.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.spec.scenario import Scenario

TABLE = "data/spatial/coarse_grained.csv"
COLUMNS = ("e_x", "k_nat_eff", "k_car_eff", "f_comp")


@lru_cache(maxsize=1)
def load_table() -> pd.DataFrame:
    with resources.files("nksim").joinpath(TABLE).open() as f:
        return pd.read_csv(f, keep_default_na=False)


def effective_parameters(scenario: Scenario, patients: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-patient e_x, k_nat_eff, k_car_eff, f_comp from the nearest tabulated condition (vectorised)."""
    tab = load_table()
    con = scenario.product.construct
    receptor = con.chemokine_receptor or "none"
    dn = tab["dntgfbr2"].astype(str).str.lower() == str(bool(con.dn_tgfbr2)).lower()
    sel = tab[(tab["il15"] == con.il15) & dn & (tab["chemokine_receptor"] == receptor)]
    if sel.empty:
        combos = sorted({(a, str(b), c) for a, b, c in zip(tab["il15"], tab["dntgfbr2"], tab["chemokine_receptor"])})
        raise InputError("tumor.microenvironment", "abm_table",
                         f"a construct whose armoring (il15, dnTGFBR2, receptor) is tabulated: {combos}; "
                         "or regenerate the table with nksim.spatial.coarse.write_table")
    n = len(patients)
    tgfb = patients["tgfb_ng_ml"].to_numpy(float) if "tgfb_ng_ml" in patients else np.full(n, 2.0)
    hyp = patients["hypoxia"].to_numpy(float) if "hypoxia" in patients else np.full(n, 0.5)
    targets = [a for a in con.car_targets if f"antigen_fraction_{a}" in patients]
    ag = patients[f"antigen_fraction_{targets[0]}"].to_numpy(float) if targets else np.full(n, 0.5)
    d2 = ((np.log(np.maximum(tgfb, 1e-3))[:, None] - np.log(sel["tgfb_ng_ml"].astype(float).to_numpy())[None, :]) ** 2
          + (hyp[:, None] - sel["hypoxic_fraction"].astype(float).to_numpy()[None, :]) ** 2
          + (ag[:, None] - sel["antigen_fraction"].astype(float).to_numpy()[None, :]) ** 2)
    rows = np.argmin(d2, axis=1)
    return {c: sel[c].astype(float).to_numpy()[rows] for c in COLUMNS}
