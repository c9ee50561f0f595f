"""From raw engine output (states and algebraic outputs on the save grid) to a labelled xarray Dataset.

Variables, units and meaning are listed in ``VARIABLES`` (and in docs/results.md); dims are (patient, time) unless
noted, with ``lesion`` and ``antigen_class`` dims for lesion-resolved ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import xarray as xr

from nksim.kinetics import layout as L
from nksim.kinetics.inputs import EngineInputs

VARIABLES: dict[str, tuple[str, str]] = {
    "viable_cells": ("cells", "viable tumor cells per lesion (patient, time, lesion)"),
    "dead_cells": ("cells", "dead tumor cells not yet cleared, per lesion (patient, time, lesion)"),
    "tumor_class_cells": ("cells", "viable tumor cells by antigen class (patient, time, lesion, antigen_class)"),
    "nk_lesion": ("cells", "product NK in the lesion: killing-competent + non-killing + exhausted (patient, time, lesion)"),
    "nk_lesion_killing": ("cells", "killing-competent product NK in the lesion (patient, time, lesion)"),
    "nk_lesion_exhausted": ("cells", "exhausted product NK in the lesion (patient, time, lesion)"),
    "tumor_viable_total": ("cells", "viable tumor cells, all lesions"),
    "nk_blood_per_ul": ("cells/uL", "product cells per uL of blood (functional blood share + long-lived blood share)"),
    "car_nk_blood_per_ul": ("cells/uL", "transduced product cells per uL of blood"),
    "product_cells_total": ("cells", "all product cells in the body (lung, systemic, long-lived, lesions)"),
    "product_transduced_total": ("cells", "transduced product cells in the body"),
    "lung_cells": ("cells", "product cells in the lung first-pass pool"),
    "long_lived_cells": ("cells", "long-lived product pool M (both groups)"),
    "il15_pg_ml": ("pg/mL", "systemic IL-15"),
    "il2_pg_ml": ("pg/mL", "systemic IL-2"),
    "cytokine_pg_ml": ("pg/mL", "inflammatory cytokine proxy C (IL-6-like)"),
    "cytokine_signal": ("1", "cytokine survival/proliferation signal S (untransduced cells)"),
    "wbc_per_ul": ("cells/uL", "leukocytes"),
    "host_alloreactivity": ("1", "host alloreactivity H"),
    "treg_per_ul": ("cells/uL", "host regulatory T cells in blood"),
    "antibody_ug_ml": ("ug/mL", "antibody concentration"),
    "engager_ug_ml": ("ug/mL", "NK cell engager concentration (regimen.engager)"),
    "cum_kill_engager": ("cells", "cumulative kills by engager-redirected NK (product and endogenous)"),
    "car_expression": ("1", "mean CAR expression q of the transduced pool"),
    "kill_rate": ("cells/d", "tumor cells killed per day by product NK, all pathways"),
    "cum_kill_car": ("cells", "cumulative kills by the CAR pathway"),
    "cum_kill_nat": ("cells", "cumulative kills by natural cytotoxicity"),
    "cum_kill_adcc": ("cells", "cumulative kills by ADCC"),
    "cum_chemo_killed": ("cells", "cumulative tumor cells killed by chemotherapy"),
    "cum_cleared": ("cells", "cumulative dead tumor cells cleared"),
    "cum_prod_death": ("cells", "cumulative product-cell deaths"),
    "cum_prod_div": ("cells", "cumulative product-cell divisions"),
    "cum_ag_div": ("cells", "cumulative antigen-driven divisions"),
    "cum_infused": ("cells", "cumulative viable product cells infused"),
    "cum_lesion_entry": ("cells", "cumulative product cells entering the lesions (blood entry and hepatic-artery "
                         "delivery)"),
    "offtumor_activity": ("1e9 cell-days", "cumulative CAR activity x normal-tissue antigen expression"),
    "new_lesion_hazard": ("1", "cumulative new-lesion hazard"),
    "death_hazard": ("1", "cumulative burden-dependent death hazard"),
    "bsys_cells": ("cells", "normal antigen-bearing cells of a circulating lineage (B cells), total body; 0 if the CAR "
                   "targets no such lineage"),
    "bsys_blood_per_ul": ("cells/uL", "normal antigen-bearing (B) cells per uL of blood (B-cell aplasia readout)"),
    "cum_kill_sys": ("cells", "cumulative normal antigen-bearing cells killed by the CAR pathway"),
    "cum_bsys_ld": ("cells", "cumulative normal antigen-bearing cells killed by lymphodepletion"),
    "cum_bsys_net": ("cells", "cumulative net homeostatic supply of the antigen-bearing lineage"),
    "tsys_cells": ("cells", "systemic tumor cells (marrow / blood leukemia carrying the CAR antigen), total body; 0 "
                   "unless the indication is systemic"),
    "tsys_marrow_fraction": ("1", "systemic tumor cells over the marrow capacity (marrow blast share)"),
    "cum_kill_tsys": ("cells", "cumulative systemic tumor cells killed by the CAR pathway"),
    "cum_tsys_growth": ("cells", "cumulative net growth of the systemic tumor"),
    "cum_tsys_chemo": ("cells", "cumulative systemic tumor cells killed by chemotherapy"),
}


DOSE_COORDS: list[tuple[str, str, str]] = [
    ("time", "d", "dose time, days since the first infusion"),
    ("cmt", "1", "dose compartment (nksim.kinetics.dosing.DOSE_CMTS; NaN = no dose)"),
    ("amt", "unit of the dose compartment", "dose amount (cells, 1, MIU, ug, mg or log10 kill by dose_cmt)"),
]


def lesion_blocks(ys: np.ndarray, inp: EngineInputs) -> np.ndarray:
    """States per lesion: (patient, time, lesion, lesion state + antigen classes)."""
    return ys[:, :, L.NSYS:].reshape(ys.shape[0], ys.shape[1], inp.n_lesions, L.lesion_block(inp.n_classes))


def blood_per_ul(ys: np.ndarray, inp: EngineInputs, transduced_only: bool = False) -> np.ndarray:
    """Product cells per uL of blood: the functional pool's blood share plus the long-lived pool's."""
    p = inp.params
    vb_ul = p[:, L.P_V_B][:, None] * 1000.0
    fb, fmb = p[:, L.P_F_BLOOD][:, None], p[:, L.P_F_MB][:, None]
    e_t, m_t = ys[..., L.S_E_T], ys[..., L.S_M_T]
    if transduced_only:
        return (fb * e_t + fmb * m_t) / vb_ul
    return (fb * (e_t + ys[..., L.S_E_U]) + fmb * (m_t + ys[..., L.S_M_U])) / vb_ul


def product_totals(ys: np.ndarray, als: np.ndarray, les: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(transduced, all) product cells in the body: systemic, long-lived, lung and lesion pools."""
    nk_les_t = les[..., L.L_K] + les[..., L.L_N] + les[..., L.L_X]
    nk_les_u = les[..., L.L_K + 1] + les[..., L.L_N + 1] + les[..., L.L_X + 1]
    trans_total = ys[..., L.S_E_T] + ys[..., L.S_M_T] + nk_les_t.sum(axis=-1) + als[..., L.A_LUNG_T]
    total = trans_total + ys[..., L.S_E_U] + ys[..., L.S_M_U] + nk_les_u.sum(axis=-1) + als[..., L.A_LUNG_U]
    return trans_total, total


def to_dataset(ys: np.ndarray, als: np.ndarray, inp: EngineInputs, patient_ids: np.ndarray,
               variables: Iterable[str] | None = None, t_save: np.ndarray | None = None) -> xr.Dataset:
    """Dataset of one chunk of patients (ys: patient x time x state, als: patient x time x algebraic);
    ``variables``: only these (all of ``VARIABLES`` by default; the others are not computed); ``t_save``: the times
    of ys' rows (``inp.t_save`` by default)."""
    nl = inp.n_lesions
    p = inp.params
    t_save = inp.t_save if t_save is None else np.asarray(t_save, dtype=float)
    wanted = list(VARIABLES) if variables is None else list(variables)
    unknown = [v for v in wanted if v not in VARIABLES]
    if unknown:
        raise KeyError(f"unknown trajectory variables {unknown}; known: {', '.join(VARIABLES)}")
    les = lesion_blocks(ys, inp)
    memo: dict[str, np.ndarray] = {}

    def once(key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in memo:
            memo[key] = make()
        return memo[key]

    def vb_ul() -> np.ndarray:
        return p[:, L.P_V_B][:, None] * 1000.0

    def viable() -> np.ndarray:
        return once("viable", lambda: les[..., L.LES_FIXED:].sum(axis=-1))

    def nk_les(g: int) -> np.ndarray:  # g = 0 transduced, 1 untransduced
        return once(f"nk_les{g}", lambda: les[..., L.L_K + g] + les[..., L.L_N + g] + les[..., L.L_X + g])

    def totals() -> tuple[np.ndarray, np.ndarray]:
        return once("totals", lambda: product_totals(ys, als, les))  # type: ignore[arg-type,return-value]

    def infused() -> np.ndarray:
        # cumulative viable cells infused up to each saved time (events at a saved time count as given)
        out = np.zeros(ys.shape[:2])
        for i in range(ys.shape[0]):
            m = (inp.ev_k[i] == L.EV_INFUSION) | (inp.ev_k[i] == L.EV_INFUSION_IA)
            times, amounts = inp.ev_t[i, m], inp.ev_a[i, m] + inp.ev_b[i, m]
            out[i] = (amounts[None, :] * (times[None, :] <= t_save[:, None])).sum(axis=1)
        return out

    pt = ("patient", "time")
    lz = (*pt, "lesion")
    data: dict[str, tuple[tuple[str, ...], Callable[[], np.ndarray]]] = {
        "viable_cells": (lz, viable),
        "dead_cells": (lz, lambda: les[..., L.L_D]),
        "tumor_class_cells": ((*lz, "antigen_class"), lambda: les[..., L.LES_FIXED:]),
        "nk_lesion": (lz, lambda: nk_les(0) + nk_les(1)),
        "nk_lesion_killing": (lz, lambda: les[..., L.L_K] + les[..., L.L_K + 1]),
        "nk_lesion_exhausted": (lz, lambda: les[..., L.L_X] + les[..., L.L_X + 1]),
        "tumor_viable_total": (pt, lambda: viable().sum(axis=-1)),
        "nk_blood_per_ul": (pt, lambda: blood_per_ul(ys, inp)),
        "car_nk_blood_per_ul": (pt, lambda: blood_per_ul(ys, inp, transduced_only=True)),
        "product_cells_total": (pt, lambda: totals()[1]),
        "product_transduced_total": (pt, lambda: totals()[0]),
        "lung_cells": (pt, lambda: als[..., L.A_LUNG_T] + als[..., L.A_LUNG_U]),
        "long_lived_cells": (pt, lambda: ys[..., L.S_M_T] + ys[..., L.S_M_U]),
        "il15_pg_ml": (pt, lambda: als[..., L.A_IL15]),
        "il2_pg_ml": (pt, lambda: als[..., L.A_IL2]),
        "cytokine_pg_ml": (pt, lambda: als[..., L.A_C]),
        "cytokine_signal": (pt, lambda: als[..., L.A_S]),
        "wbc_per_ul": (pt, lambda: ys[..., L.S_WBC]),
        "host_alloreactivity": (pt, lambda: ys[..., L.S_H]),
        "treg_per_ul": (pt, lambda: ys[..., L.S_TREG]),
        "antibody_ug_ml": (pt, lambda: ys[..., L.S_AB]),
        "engager_ug_ml": (pt, lambda: ys[..., L.S_ENG]),
        "car_expression": (pt, lambda: ys[..., L.S_Q]),
        "kill_rate": (pt, lambda: als[..., L.A_KILL]),
        "cum_kill_car": (pt, lambda: ys[..., L.S_CUM_KILL_CAR]),
        "cum_kill_nat": (pt, lambda: ys[..., L.S_CUM_KILL_NAT]),
        "cum_kill_adcc": (pt, lambda: ys[..., L.S_CUM_KILL_ADCC]),
        "cum_kill_engager": (pt, lambda: ys[..., L.S_CUM_KILL_ENG]),
        "cum_chemo_killed": (pt, lambda: ys[..., L.S_CUM_CHEMO_KILLED]),
        "cum_cleared": (pt, lambda: ys[..., L.S_CUM_CLEARED]),
        "cum_prod_death": (pt, lambda: ys[..., L.S_CUM_PROD_DEATH]),
        "cum_prod_div": (pt, lambda: ys[..., L.S_CUM_PROD_DIV]),
        "cum_ag_div": (pt, lambda: ys[..., L.S_CUM_AG_DIV]),
        "cum_infused": (pt, infused),
        "cum_lesion_entry": (pt, lambda: ys[..., L.S_CUM_LESION_ENTRY]),
        "offtumor_activity": (pt, lambda: ys[..., L.S_CUM_OFFTUMOR]),
        "new_lesion_hazard": (pt, lambda: ys[..., L.S_CUM_NEW_LESION_HAZARD]),
        "death_hazard": (pt, lambda: ys[..., L.S_CUM_DEATH_HAZARD]),
        "bsys_cells": (pt, lambda: ys[..., L.S_B_SYS]),
        "bsys_blood_per_ul": (pt, lambda: ys[..., L.S_B_SYS] * p[:, L.P_F_B_BLOOD][:, None] / vb_ul()),
        "cum_kill_sys": (pt, lambda: ys[..., L.S_CUM_KILL_SYS]),
        "cum_bsys_ld": (pt, lambda: ys[..., L.S_CUM_BSYS_LD]),
        "cum_bsys_net": (pt, lambda: ys[..., L.S_CUM_BSYS_NET]),
        "tsys_cells": (pt, lambda: ys[..., L.S_T_SYS]),
        "tsys_marrow_fraction": (pt, lambda: ys[..., L.S_T_SYS]
                                 / np.where(p[:, L.P_K_TSYS] > 0, p[:, L.P_K_TSYS], 1.0)[:, None]),
        "cum_kill_tsys": (pt, lambda: ys[..., L.S_CUM_KILL_TSYS]),
        "cum_tsys_growth": (pt, lambda: ys[..., L.S_CUM_TSYS_GROWTH]),
        "cum_tsys_chemo": (pt, lambda: ys[..., L.S_CUM_TSYS_CHEMO]),
    }
    data = {k: data[k] for k in wanted}  # type: ignore[misc]
    ds = xr.Dataset(
        {k: (dims, make(), {"units": VARIABLES[k][0], "long_name": VARIABLES[k][1]})
         for k, (dims, make) in data.items()},
        coords={
            "patient": np.asarray(patient_ids),
            "time": ("time", t_save, {"units": "d", "long_name": "days since first infusion"}),
            "lesion": np.arange(nl),
            "antigen_class": inp.class_labels,
            "is_target": ("lesion", np.array([bool(p[0, L.NPAR + l * L.NLP + L.LP_TARGET]) for l in range(nl)])),
        },
    )
    if inp.doses is not None:  # the doses given, as NONMEM-style records (NaN-padded; chunks join on ``dose``)
        d = inp.doses
        ds = ds.assign_coords(dose=np.arange(d.shape[1]), **{
            f"dose_{k}": (("patient", "dose"), d[..., j], {"units": u, "long_name": meaning})
            for j, (k, u, meaning) in enumerate(DOSE_COORDS)})
    return ds


def readout_arrays(ys: np.ndarray, als: np.ndarray, p: np.ndarray, nl: int, nc: int, marrow: bool = False
                   ) -> dict[str, np.ndarray]:
    """The trajectory variables the clinical readouts read (``nksim.kinetics.outputs.READOUT_VARIABLES``) as
    contiguous arrays (patient, time[, lesion]) in ``VARIABLES``' units, numeric unit prefixes multiplied in
    (offtumor_activity in cell-days), without building a Dataset: the same numbers as ``to_dataset``'s (the same
    elementwise arithmetic and sums, on columns copied out of the state array first). ``p``: the patients'
    parameter rows; ``nl``/``nc``: lesions and antigen classes; ``marrow``: also tsys_marrow_fraction."""
    npat, ns = ys.shape[:2]
    lb = L.lesion_block(nc)
    system = [L.S_E_T, L.S_E_U, L.S_M_T, L.S_M_U, L.S_WBC, L.S_CUM_OFFTUMOR, L.S_CUM_NEW_LESION_HAZARD,
              L.S_CUM_DEATH_HAZARD, L.S_T_SYS]
    tumor = [L.NSYS + l * lb + L.LES_FIXED + c for l in range(nl) for c in range(nc)]
    dead = [L.NSYS + l * lb + L.L_D for l in range(nl)]
    # one pass over the state array for the columns read (a column at a time would stream all of it each time)
    sub = np.take(ys, system + tumor + dead, axis=2)
    cols = np.ascontiguousarray(np.moveaxis(sub[..., :len(system)], 2, 0))
    e_t, e_u, m_t, m_u, wbc, off, nlh, dh, tsys = cols
    k = len(system)
    vb_ul = p[:, L.P_V_B][:, None] * 1000.0
    fb, fmb = p[:, L.P_F_BLOOD][:, None], p[:, L.P_F_MB][:, None]
    out = {
        "viable_cells": sub[..., k:k + nl * nc].reshape(npat, ns, nl, nc).sum(axis=-1),
        "dead_cells": np.ascontiguousarray(sub[..., k + nl * nc:]),
        "nk_blood_per_ul": (fb * (e_t + e_u) + fmb * (m_t + m_u)) / vb_ul,
        "car_nk_blood_per_ul": (fb * e_t + fmb * m_t) / vb_ul,
        "wbc_per_ul": wbc,
        "cytokine_pg_ml": np.ascontiguousarray(als[..., L.A_C]),
        "offtumor_activity": off * unit_prefix("offtumor_activity"),
        "new_lesion_hazard": nlh,
        "death_hazard": dh,
    }
    if marrow:
        out["tsys_marrow_fraction"] = tsys / np.where(p[:, L.P_K_TSYS] > 0, p[:, L.P_K_TSYS], 1.0)[:, None]
    return out


def unit_prefix(name: str) -> float:
    """The numeric prefix of a variable's units ('1e9 cell-days' -> 1e9; 1 for none)."""
    head = VARIABLES[name][0].split(" ", 1)
    try:
        return float(head[0]) if len(head) == 2 else 1.0
    except ValueError:
        return 1.0
