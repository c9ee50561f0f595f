"""A cohort's doses as the engine's event arrays, built for all patients of a regimen at once.

Patients that follow the same regimen get dose records at the same times in the same compartments; they differ in
the amounts (dose level, weight, viability, transduced share, dose scale, ...). So the records and events of such a
group are built once, with per-patient amounts as arrays (``nksim.kinetics.dosing.regimen_doses`` and
``engine_events`` take arrays), after splitting the group by which infusion records exist (an infusion of 0 cells,
or a product all transduced or all untransduced, gives fewer records). The arithmetic of every patient is that of a
one-patient call, so the arrays hold the same bits whatever the grouping. A patient listed in a dosing table keeps
its own records (one call per such patient).
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.kinetics import dosing as D
from nksim.kinetics import layout as L
from nksim.spec.scenario import Regimen, Scenario

#: columns of ``EngineInputs.product_given`` (the product actually given), in order, with their dtypes
GIVEN_COLUMNS: dict[str, Any] = {
    "dose_level": np.int64, "dose_per_kg": float, "viable_cells_per_infusion": float, "n_infusions": np.int64,
    "car_fraction": float, "viability": float, "potency": float, "fitness": float, "cd3_per_kg": float,
    "treated": bool}


@dataclass(frozen=True)
class PatientProduct:
    """Per-patient product and dosing attributes (arrays, one value per patient; overrides already applied)."""

    weight: np.ndarray
    viability: np.ndarray
    potency: np.ndarray
    fitness: np.ndarray
    car_fraction: np.ndarray
    cd3_per_kg: np.ndarray
    treated: np.ndarray
    dose_scale: np.ndarray
    dose_level: np.ndarray  # 0 = the regimen's
    dose_per_kg: np.ndarray  # NaN = the dose level's
    ld_logkill: np.ndarray
    chemosensitivity: np.ndarray


@dataclass
class CohortDosing:
    """Engine events (patient, event) padded with time inf, per-patient dosing parameters, the product given and
    the dose records (patient, record, (time, CMT, AMT)), NaN-padded."""

    ev_t: np.ndarray
    ev_k: np.ndarray
    ev_a: np.ndarray
    ev_b: np.ndarray
    t_ld: np.ndarray
    ld_int: np.ndarray
    k_ab: np.ndarray
    k_eng: np.ndarray
    conv: np.ndarray  # (patient, 3): growth inhibition, start, end of the concomitant treatment
    route_ia: np.ndarray
    given: pd.DataFrame
    doses: np.ndarray


def regimen_groups(regimens: Sequence[Regimen], rows: np.ndarray) -> list[tuple[Regimen, np.ndarray]]:
    """The patients ``rows`` grouped by regimen object (in order of first appearance)."""
    if not len(rows):
        return []
    first = regimens[rows[0]]
    every = regimens if len(rows) == len(regimens) else [regimens[i] for i in rows]  # (all the same: so are rows')
    if all(map(operator.is_, itertools.repeat(first), every)):  # the common case: one regimen for everyone
        return [(first, rows)]
    groups: dict[int, tuple[Regimen, list[int]]] = {}
    for i in rows:
        groups.setdefault(id(regimens[i]), (regimens[i], []))[1].append(int(i))
    return [(r, np.asarray(ix, dtype=np.int64)) for r, ix in groups.values()]


def unique_rows(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(present, axis=0, return_inverse=True)`` of a boolean (rows, flags) array, the inverse flat: the
    rows packed into bytes and compared as one value each (``axis=0`` sorts a structured view, 15x slower)."""
    packed = np.ascontiguousarray(np.packbits(present, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, which = np.unique(keys, return_index=True, return_inverse=True)
    return present[first], which.reshape(-1)


def row_mean(cols: Sequence[Any], n: int) -> np.ndarray:
    """Each patient's ``np.mean`` of its values (``cols``: one entry per value, an array of ``n`` or a number):
    the same bits as ``np.mean`` of the patient's list (a row reduction of a C-ordered array; tested)."""
    return np.mean(np.column_stack([np.broadcast_to(np.asarray(c, dtype=float), (n,)) for c in cols]), axis=1)


class _Builder:
    """Collects each group's events and records, then writes the padded arrays."""

    def __init__(self, scenario: Scenario, pids: np.ndarray, typ: Mapping[str, float], pp: PatientProduct) -> None:
        n = len(pids)
        self.sc, self.pids, self.typ, self.pp = scenario, pids, typ, pp
        self.t_ld = np.full(n, np.inf)
        self.ld_int = np.zeros(n)
        self.k_ab = np.zeros(n)
        self.k_eng = np.zeros(n)
        self.conv = np.zeros((n, 3))
        self.conv[:, 1] = self.conv[:, 2] = np.inf
        self.route_ia = np.zeros(n)
        self.given = {c: np.zeros(n, dtype=t) for c, t in GIVEN_COLUMNS.items()}
        self.blocks: list[tuple[np.ndarray, list[tuple[float, int, Any, Any]], list[D.Dose]]] = []

    def where(self, rows: np.ndarray) -> str:
        return f"patient {int(self.pids[rows[0]])}"

    def emit(self, reg: Regimen, rows: np.ndarray, doses: list[D.Dose]) -> D.PatientEvents:
        """Events of the patients ``rows`` (one regimen, records ``doses`` with per-patient amounts)."""
        typ, pp, eng = self.typ, self.pp, self.sc.regimen.engager
        w = pp.weight[rows]
        eng_i = reg.engager if reg.engager is not None else eng
        if reg.engager is not None and (eng is None or (reg.engager.target, reg.engager.binding,
                                                        reg.engager.il15_moiety) != (eng.target, eng.binding,
                                                                                     eng.il15_moiety)):
            raise InputError("overrides.regimen.engager", reg.engager.name, "the scenario's regimen.engager target, "
                             "binding and IL-15 moiety (they set the antigen classes and pathway rates of the cohort); "
                             "dose, days, route and PK may differ per patient", self.where(rows))
        eng_vol = ((eng_i.volume_ml_per_kg if eng_i is not None and eng_i.volume_ml_per_kg else
                    typ["eng_volume_ml_per_kg"]) * w)
        pe = D.engine_events(doses, pp.ld_logkill[rows], pp.chemosensitivity[rows], typ["il2_pg_per_miu"],
                             typ["f_sc_il2"], typ["ab_volume_ml_per_kg"] * w, eng_vol,
                             eng_i is not None and eng_i.route == "sc")
        ev = pe.events
        ia_cmts = [d[1] for d in doses if d[1] in D.ROUTE_CMTS["hepatic_artery"]]
        if ia_cmts and not self.sc.tumor.lesions_in_liver:
            raise InputError("dosing.CMT", ia_cmts[0], "hepatic-artery infusions (CMT 8/9) only with "
                             "lesions in the liver (tumor.in_liver or a liver indication)", self.where(rows))
        if pe.ld is not None:
            self.t_ld[rows], self.ld_int[rows] = pe.ld
        ab = reg.antibody if reg.antibody is not None else (self.sc.regimen.antibody if pe.has_antibody else None)
        if pe.has_antibody and ab is None:
            raise InputError("dosing.CMT", D.CMT_ANTIBODY, "antibody doses only with regimen.antibody in the scenario "
                             "(its target antigen and half-life)", self.where(rows))
        if ab is not None:
            self.k_ab[rows] = math.log(2) / (ab.half_life_d or typ["ab_half_life_d"])
        if pe.has_engager and eng is None:
            raise InputError("dosing.CMT", D.CMT_ENGAGER, "engager doses only with regimen.engager in the scenario "
                             "(its target antigen, binding arm and PK)", self.where(rows))
        if eng_i is not None:
            self.k_eng[rows] = math.log(2) / (eng_i.half_life_d or typ["eng_half_life_d"])
        if reg.concomitant is not None:
            c = reg.concomitant
            if c.growth_inhibition > 0 and c.end_d > c.start_d:
                self.conv[rows] = (c.growth_inhibition, c.start_d, c.end_d)
                ev.append((c.start_d, L.EV_BOUNDARY, 0.0, 0.0))
                ev.append((c.end_d, L.EV_BOUNDARY, 0.0, 0.0))
        ev.sort(key=lambda e: (e[0], e[1] != L.EV_LD))
        self.blocks.append((rows, ev, doses))
        return pe

    def set_given(self, rows: np.ndarray, **cols: Any) -> None:
        for k, v in cols.items():
            self.given[k][rows] = v

    def finish(self, index: pd.Index) -> CohortDosing:
        n = len(self.pids)
        max_ev = max([1, *(len(ev) for _, ev, _ in self.blocks)])
        ev_t = np.full((n, max_ev), np.inf)
        ev_k = np.zeros((n, max_ev), dtype=np.int64)
        ev_a = np.zeros((n, max_ev))
        ev_b = np.zeros((n, max_ev))
        width = max([1, *(len(d) for _, _, d in self.blocks)])
        records = np.full((n, width, 3), np.nan)
        for rows, ev, doses in self.blocks:
            for j, (t, k, a, b) in enumerate(ev):
                ev_t[rows, j], ev_k[rows, j], ev_a[rows, j], ev_b[rows, j] = t, k, a, b
            for j, (t, cmt, amt) in enumerate(doses):
                records[rows, j, 0], records[rows, j, 1], records[rows, j, 2] = t, cmt, amt
        return CohortDosing(ev_t, ev_k, ev_a, ev_b, self.t_ld, self.ld_int, self.k_ab, self.k_eng, self.conv,
                            self.route_ia, pd.DataFrame(self.given, index=index), records)


def cohort_dosing(scenario: Scenario, patients: pd.DataFrame, typ: Mapping[str, float], regimens: Sequence[Regimen],
                  pp: PatientProduct, table: D.DosingTable | None) -> CohortDosing:
    """Events, dosing parameters, the product given and the dose records of ``patients`` (each following
    ``regimens[i]``, or its rows of the dosing ``table`` when listed there)."""
    pids = patients.index.to_numpy()
    n = len(pids)
    b = _Builder(scenario, pids, typ, pp)
    listed = np.zeros(n, dtype=bool) if table is None else np.isin(pids, table.ids)
    for reg, rows in regimen_groups(regimens, np.arange(n, dtype=np.int64)):
        b.route_ia[rows] = _route_ia(reg)
        regimen_rows = rows[~listed[rows]]
        if regimen_rows.size:
            _regimen_group(b, reg, regimen_rows)
    for i in np.flatnonzero(listed):
        _listed_patient(b, regimens[i], np.array([i]), table.doses[int(pids[i])])  # type: ignore[union-attr]
    return b.finish(patients.index)


def _route_ia(regimen: Regimen) -> float:
    """The route flag of infusion records in CMT 1/2: 1.0 for ``regimen.route`` hepatic artery, else 0.0 (i.v.;
    with ``per_infusion.routes`` each infusion's route is its dose compartment, ``dosing.ROUTE_CMTS``)."""
    if regimen.per_infusion is not None and regimen.per_infusion.routes is not None:
        return 0.0
    return float(regimen.route == "hepatic_artery")


def _regimen_group(b: _Builder, reg: Regimen, rows: np.ndarray) -> None:
    """Patients ``rows`` following ``reg``: dose per kg from the dose level (or the patient's override), cells per
    infusion, then the records of each set of patients with the same infusion records."""
    pp, m = b.pp, len(rows)
    dl, dpk, w = pp.dose_level[rows], pp.dose_per_kg[rows], pp.weight[rows]
    n_lev = len(reg.dose_levels)
    lvl_f = np.where(dl != 0, np.trunc(dl), float(reg.dose_level))  # NaN stays NaN (refused below)
    bad = ~((lvl_f >= 1) & (lvl_f <= n_lev))
    if bad.any():
        v = float(lvl_f[bad][0])
        raise InputError("overrides.dose_level", int(v) if math.isfinite(v) else v, f"an integer in 1..{n_lev}")
    lvl = lvl_f.astype(np.int64)
    value = np.array([d.value for d in reg.dose_levels], dtype=float)[lvl - 1]
    per_kg_unit = np.array([d.unit == "cells/kg" for d in reg.dose_levels])[lvl - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_kg = np.where(per_kg_unit, value, value / w)
    has = ~np.isnan(dpk)
    neg = has & (dpk < 0)
    if neg.any():
        raise InputError("overrides.dose_per_kg", float(dpk[neg][0]), "a dose >= 0 cells/kg")
    per_kg = np.where(has, dpk, per_kg)
    explicit = reg.per_infusion.doses if reg.per_infusion is not None else None
    if explicit is not None:  # absolute per-infusion doses replace the dose levels
        bad_l, bad_k = (dl != 0) & ~np.isnan(dl), (dpk != 0) & ~np.isnan(dpk)
        first = np.flatnonzero(bad_l | bad_k)
        if first.size:
            j = int(first[0])
            key, v = ("dose_level", dl[j]) if bad_l[j] else ("dose_per_kg", dpk[j])
            raise InputError(f"overrides.{key}", float(v), "no per-patient base dose with "
                             "regimen.per_infusion.doses (absolute doses); use per_infusion.multipliers or "
                             "overrides.dose_scale", b.where(rows[j:]))
        unit_w = 1.0 if reg.per_infusion.unit == "cells/kg" else w  # type: ignore[union-attr]
        per_kg_k = [d / unit_w for d in explicit]
        per_kg = row_mean(per_kg_k, m)
    else:
        per_kg_k = [per_kg * mult for mult in reg.infusion_multipliers()]
    scale = pp.dose_scale[rows] * pp.treated[rows].astype(float)
    per_kg = per_kg * scale
    via, cf = pp.viability[rows], pp.car_fraction[rows]
    cells_k = [np.broadcast_to(pk * scale * w * via, (m,)) for pk in per_kg_k]
    # which records exist (regimen_doses: an infusion record only for a positive amount): one call per pattern
    present = np.zeros((m, 3 * len(cells_k)), dtype=bool)
    for k, c in enumerate(cells_k):
        present[:, 3 * k] = c > 0
        present[:, 3 * k + 1] = c * cf > 0
        present[:, 3 * k + 2] = c * (1.0 - cf) > 0
    patterns, which = unique_rows(present)
    for s in range(len(patterns)):
        sub = np.flatnonzero(which == s)
        r = rows[sub]
        c_sub = [c[sub] for c in cells_k]
        doses = D.regimen_doses(reg, c_sub, cf[sub], b.typ["treg_depletion_fraction"], w[sub])
        b.emit(reg, r, doses)
        given = [c for c, p in zip(c_sub, patterns[s][0::3]) if p]  # the infusions given (> 0 cells)
        if not given:
            cells = np.zeros(len(sub))
        else:
            same = np.all([g == given[0] for g in given], axis=0)
            cells = np.where(same, given[0], row_mean(given, len(sub)) if len(given) > 1 else given[0])
        b.set_given(r, dose_level=lvl[sub], dose_per_kg=per_kg[sub],
                    viable_cells_per_infusion=cells, n_infusions=len(given), car_fraction=cf[sub],
                    viability=via[sub], potency=pp.potency[r], fitness=pp.fitness[r], cd3_per_kg=pp.cd3_per_kg[r],
                    treated=pp.treated[r] & (cells > 0))


def _listed_patient(b: _Builder, reg: Regimen, rows: np.ndarray, doses: list[D.Dose]) -> None:
    """A patient of the dosing table: its own records; the product given is read from its infusions (mean viable
    cells per infusion, transduced share of all cells infused)."""
    pp = b.pp
    pe = b.emit(reg, rows, list(doses))
    n_inf = len(pe.infusions)
    given_t = sum(a for _, a, _ in pe.infusions)
    given = given_t + sum(x for _, _, x in pe.infusions)
    cells = given / n_inf if n_inf else 0.0
    w, via, cf = pp.weight[rows], pp.viability[rows], pp.car_fraction[rows]
    b.set_given(rows, dose_level=0, dose_per_kg=cells / (w * via), viable_cells_per_infusion=cells,
                n_infusions=n_inf, car_fraction=given_t / given if given > 0 else cf, viability=via,
                potency=pp.potency[rows], fitness=pp.fitness[rows], cd3_per_kg=pp.cd3_per_kg[rows],
                treated=n_inf > 0)
