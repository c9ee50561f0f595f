"""Doses as NONMEM-style records (TIME, CMT, AMT) and how they become the engine's events.

Every dose a patient gets is one record ``(time_d, cmt, amt)`` in the units of its dose compartment (``DOSE_CMTS``):
a regimen's doses are turned into records (``regimen_doses``), and a dosing table (``overrides={"dosing": df}``,
``as_dosing``) gives a listed patient's records directly. ``engine_events`` turns one patient's records into the
compiled engine's events with the same arithmetic for both sources, so a regimen exported as a dosing table and read
back gives the same events bit for bit. The records a patient was simulated with are kept in the trajectories
(coordinates ``dose_time``, ``dose_cmt``, ``dose_amt``) and exported by ``nksim.io.nonmem``.

Time: days since the first product infusion (day 0; lymphodepletion and pre-infusion doses at negative times).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nksim.errors import InputError
from nksim.kinetics import layout as L

Dose = tuple[float, int, float]  # (time in days since first infusion, dose compartment, amount in the CMT's unit)


@dataclass(frozen=True)
class DoseCompartment:
    cmt: int
    name: str
    unit: str
    description: str
    event: int  # engine event kind (nksim.kinetics.layout.EV_*)
    max_amt: float = np.inf


CMT_PRODUCT_CAR = 1
CMT_PRODUCT_UNTRANSDUCED = 2
CMT_LYMPHODEPLETION = 3
CMT_IL2 = 4
CMT_IL15 = 5
CMT_ANTIBODY = 6
CMT_CHEMO = 7
CMT_PRODUCT_CAR_IA = 8
CMT_PRODUCT_UNTRANSDUCED_IA = 9
CMT_TREG_DEPLETION = 10
CMT_ENGAGER = 21  # 11-20 are the observation compartments (10 + DVID)

DOSE_CMTS: dict[int, DoseCompartment] = {c.cmt: c for c in (
    DoseCompartment(CMT_PRODUCT_CAR, "product_transduced", "cells",
                    "viable transduced (CAR+ / construct+) product cells infused (route: the regimen's "
                    "regimen.route; i.v. when regimen.per_infusion.routes is given)", L.EV_INFUSION),
    DoseCompartment(CMT_PRODUCT_UNTRANSDUCED, "product_untransduced", "cells",
                    "viable untransduced product cells infused (a product without a construct is all untransduced; "
                    "route as CMT 1)", L.EV_INFUSION),
    DoseCompartment(CMT_LYMPHODEPLETION, "lymphodepletion", "1",
                    "lymphodepletion course intensity (1 = Cy 500 mg/m2 + Flu 30 mg/m2 x 3 d, given as one event); "
                    "at most one per patient, at TIME <= 0", L.EV_LD, 2.0),
    DoseCompartment(CMT_IL2, "il2", "MIU", "IL-2, subcutaneous", L.EV_IL2),
    DoseCompartment(CMT_IL15, "il15", "ug", "IL-15 (superagonist), subcutaneous", L.EV_IL15),
    DoseCompartment(CMT_ANTIBODY, "antibody", "mg",
                    "antibody or engager, flat dose (target antigen and half-life: the scenario's regimen.antibody)",
                    L.EV_AB),
    DoseCompartment(CMT_CHEMO, "chemotherapy", "log10 kill",
                    "log-kill chemotherapy course: log10 tumor kill at chemosensitivity 1 (scaled by the patient's "
                    "chemosensitivity)", L.EV_LOGKILL, 3.0),
    DoseCompartment(CMT_PRODUCT_CAR_IA, "product_transduced_hepatic_artery", "cells",
                    "viable transduced product cells infused into the hepatic artery (liver lesions only)",
                    L.EV_INFUSION_IA),
    DoseCompartment(CMT_PRODUCT_UNTRANSDUCED_IA, "product_untransduced_hepatic_artery", "cells",
                    "viable untransduced product cells infused into the hepatic artery (liver lesions only)",
                    L.EV_INFUSION_IA),
    DoseCompartment(CMT_TREG_DEPLETION, "treg_depletion", "1",
                    "regulatory-T-cell-depleting agent (e.g. IL2-DT): fraction of host Tregs removed by the dose",
                    L.EV_TREG_DEPLETION, 1.0),
    DoseCompartment(CMT_ENGAGER, "engager", "mg",
                    "NK cell engager, amount per administration (target, binding arm, route and PK: the scenario's "
                    "regimen.engager)", L.EV_ENGAGER),
)}
INFUSION_CMTS = (CMT_PRODUCT_CAR, CMT_PRODUCT_UNTRANSDUCED, CMT_PRODUCT_CAR_IA, CMT_PRODUCT_UNTRANSDUCED_IA)
#: (transduced, untransduced) compartment of an infusion by its own route (regimen.per_infusion.routes)
ROUTE_CMTS = {"iv": (CMT_PRODUCT_CAR, CMT_PRODUCT_UNTRANSDUCED),
              "hepatic_artery": (CMT_PRODUCT_CAR_IA, CMT_PRODUCT_UNTRANSDUCED_IA)}
EVENT_ORDER = (CMT_LYMPHODEPLETION, CMT_PRODUCT_CAR, CMT_PRODUCT_CAR_IA, CMT_IL2, CMT_IL15, CMT_ANTIBODY, CMT_CHEMO,
               CMT_TREG_DEPLETION, CMT_ENGAGER)

#: NONMEM columns that must be 0 (or empty) on dose rows: nksim gives bolus doses, one row per dose
UNSUPPORTED_ZERO = {"RATE": "0 (bolus doses only; infusion rates are not modelled)",
                    "ADDL": "0 (write each additional dose as its own row)",
                    "II": "0 (write each additional dose as its own row)",
                    "SS": "0 (steady-state doses are not supported)"}
STANDARD_COLUMNS = ("ID", "TIME", "EVID", "AMT", "CMT", "DV", "MDV", "DVID", *UNSUPPORTED_ZERO)


def cmt_choices() -> str:
    return ", ".join(f"{c.cmt} ({c.name}, {c.unit})" for c in DOSE_CMTS.values())


def regimen_doses(regimen: Any, cells: float | Sequence[float], car_fraction: float,
                  treg_fraction: float, weight_kg: float | None = None) -> list[Dose]:
    """The dose records of a regimen (canonical order): ``cells`` viable product cells per infusion (one number for
    every infusion, or one per ``regimen.infusion_days``; an infusion of 0 cells gives no record), a
    ``car_fraction`` share of them transduced; ``treg_fraction``: Tregs removed per Treg-depletion dose when the
    regimen does not say (the registry's ``treg_depletion_fraction``); an engager dosed per kg needs the patient's ``weight_kg``.

    Amounts may be arrays (several patients of the same regimen at once: ``cells`` one array per infusion,
    ``car_fraction`` and ``weight_kg`` arrays): the records' amounts are then arrays, each patient's the bits of its
    own call; every patient must get the same records (the same infusions > 0 and product split)."""
    try:
        out = list(_regimen_fixed_doses(regimen))
    except TypeError:  # an unhashable regimen-like object: no cache
        out = list(_regimen_fixed_doses.__wrapped__(regimen))
    dep = getattr(regimen, "treg_depletion", None)
    if dep is not None:
        frac = dep.fraction if dep.fraction is not None else treg_fraction
        out.extend((day, CMT_TREG_DEPLETION, frac) for day in dep.days)
    eng = getattr(regimen, "engager", None)
    if eng is not None:
        if weight_kg is None and eng.dose_unit != "mg":
            raise ValueError("regimen_doses: an engager dosed per kg needs weight_kg")
        mg = eng.dose_mg(weight_kg if weight_kg is not None else 0.0)
        out.extend((day, CMT_ENGAGER, mg) for day in eng.days)
    days = regimen.infusion_days
    per_infusion = [float(cells)] * len(days) if np.ndim(cells) == 0 else list(cells)  # type: ignore[arg-type]
    if len(per_infusion) != len(days):
        raise InputError("regimen.per_infusion", len(per_infusion),
                         f"one dose per regimen.infusion_days ({len(days)})")
    pi = getattr(regimen, "per_infusion", None)
    routes = pi.routes if pi is not None and pi.routes is not None else None
    for k, (day, c) in enumerate(zip(days, per_infusion)):
        if _positive(c):
            a, b = c * car_fraction, c * (1.0 - car_fraction)
            cmt_a, cmt_b = ROUTE_CMTS[routes[k]] if routes is not None else INFUSION_CMTS[:2]
            if _positive(a):
                out.append((day, cmt_a, a))
            if _positive(b):
                out.append((day, cmt_b, b))
    out.sort(key=_TIME_CMT)
    return out


def _positive(x: Any) -> bool:
    """``x > 0`` for a number; for an array of several patients' amounts, all must be positive or none (the
    caller groups patients by which records they get: ``nksim.kinetics.cohort_dosing``)."""
    if isinstance(x, (float, int)):
        return x > 0
    pos = np.asarray(x) > 0
    if pos.all():
        return True
    if not pos.any():
        return False
    raise ValueError("regimen_doses: amounts of one call must be all > 0 or all <= 0 (group the patients by it)")


@lru_cache(maxsize=64)
def _regimen_fixed_doses(regimen: Any) -> tuple[Dose, ...]:
    """The records of a regimen that do not depend on the patient (all but the infusions), cached per regimen."""
    out: list[Dose] = []
    if regimen.lymphodepletion is not None:
        out.append((regimen.lymphodepletion.day, CMT_LYMPHODEPLETION, regimen.lymphodepletion.intensity))
    if regimen.il2 is not None:
        out.extend((day, CMT_IL2, regimen.il2.dose) for day in regimen.il2.days)
    if regimen.il15 is not None:
        out.extend((day, CMT_IL15, regimen.il15.dose) for day in regimen.il15.days)
    if regimen.antibody is not None:
        out.extend((day, CMT_ANTIBODY, regimen.antibody.dose_mg) for day in regimen.antibody.days)
    if regimen.concomitant is not None:
        out.extend((day, CMT_CHEMO, regimen.concomitant.logkill) for day in regimen.concomitant.logkill_days)
    return tuple(out)


def sort_doses(doses: Sequence[Dose]) -> list[Dose]:
    """Canonical order: by time, then compartment (stable: equal (time, cmt) keep their order)."""
    return sorted(doses, key=_TIME_CMT)


_TIME_CMT = itemgetter(0, 1)
_N_CMT = max(DOSE_CMTS) + 1


@dataclass
class PatientEvents:
    events: list[tuple[float, int, float, float]]
    ld: tuple[float, float] | None  # (day, intensity) of the lymphodepletion course
    infusions: list[tuple[float, float, float]]  # (day, transduced, untransduced viable cells) per infusion
    has_antibody: bool
    has_engager: bool = False


def engine_events(doses: Sequence[Dose], ld_logkill: float, chemo: float, il2_pg_per_miu: float, f_sc_il2: float,
                  ab_volume_ml: float, eng_volume_ml: float = np.inf, eng_sc: bool = False) -> PatientEvents:
    """One patient's dose records (canonical order) as engine events (time, kind, a, b), in the engine's kind
    order (lymphodepletion, infusions, IL-2, IL-15, antibody, chemotherapy, engager: mg / ``eng_volume_ml`` into
    plasma, or into the s.c. depot when ``eng_sc``); the caller adds boundary events and
    sorts by time. Infusion records at the same time pair up by rank (the k-th transduced record with the k-th
    untransduced one) into one infusion event. Amounts and the per-patient numbers may be arrays of several patients
    with the same records (see ``regimen_doses``): the events' amounts are then arrays."""
    by_cmt: list[list[Dose]] = [[] for _ in range(_N_CMT)]
    for d in doses:
        by_cmt[d[1]].append(d)
    ev: list[tuple[float, int, float, float]] = []
    ld = None
    for t, _, amt in by_cmt[CMT_LYMPHODEPLETION]:
        ev.append((t, L.EV_LD, amt, ld_logkill * chemo * amt))
        ld = (t, amt)
    infusions = _paired(by_cmt[CMT_PRODUCT_CAR], by_cmt[CMT_PRODUCT_UNTRANSDUCED])
    ev.extend((t, L.EV_INFUSION, a, b) for t, a, b in infusions)
    if by_cmt[CMT_PRODUCT_CAR_IA] or by_cmt[CMT_PRODUCT_UNTRANSDUCED_IA]:
        ia = _paired(by_cmt[CMT_PRODUCT_CAR_IA], by_cmt[CMT_PRODUCT_UNTRANSDUCED_IA])
        ev.extend((t, L.EV_INFUSION_IA, a, b) for t, a, b in ia)
        infusions = sorted(infusions + ia, key=itemgetter(0))
    if by_cmt[CMT_IL2]:
        ev.extend((t, L.EV_IL2, amt * il2_pg_per_miu * f_sc_il2, 0.0) for t, _, amt in by_cmt[CMT_IL2])
    if by_cmt[CMT_IL15]:
        ev.extend((t, L.EV_IL15, amt * 1e6, 0.0) for t, _, amt in by_cmt[CMT_IL15])
    if by_cmt[CMT_ANTIBODY]:
        ev.extend((t, L.EV_AB, amt * 1000.0 / ab_volume_ml, 0.0) for t, _, amt in by_cmt[CMT_ANTIBODY])
    if by_cmt[CMT_CHEMO]:
        ev.extend((t, L.EV_LOGKILL, amt * chemo, 0.0) for t, _, amt in by_cmt[CMT_CHEMO])
    if by_cmt[CMT_TREG_DEPLETION]:
        ev.extend((t, L.EV_TREG_DEPLETION, amt, 0.0) for t, _, amt in by_cmt[CMT_TREG_DEPLETION])
    if by_cmt[CMT_ENGAGER]:
        for t, _, amt in by_cmt[CMT_ENGAGER]:
            c = amt * 1000.0 / eng_volume_ml
            ev.append((t, L.EV_ENGAGER, 0.0, c) if eng_sc else (t, L.EV_ENGAGER, c, 0.0))
    return PatientEvents(ev, ld, infusions, bool(by_cmt[CMT_ANTIBODY]), bool(by_cmt[CMT_ENGAGER]))


def _paired(car: list[Dose], untr: list[Dose]) -> list[tuple[float, float, float]]:
    """Infusions (time, transduced, untransduced) from one route's records: records at the same time pair up by
    rank (the k-th transduced record with the k-th untransduced one)."""
    if not untr or not car:  # one product compartment: one infusion per record
        return [(t, amt, 0.0) for t, _, amt in car] + [(t, 0.0, amt) for t, _, amt in untr]
    if [d[0] for d in car] == [d[0] for d in untr]:  # the same times: pair them in order
        return [(t, a, b) for (t, _, a), (_, _, b) in zip(car, untr)]
    pairs: dict[tuple[float, int], list[float]] = {}
    for j, group in enumerate((car, untr)):
        rank: dict[float, int] = {}
        for t, _, amt in group:
            k = rank.get(t, 0)
            rank[t] = k + 1
            pairs.setdefault((t, k), [0.0, 0.0])[j] = amt
    return [(t, a, b) for (t, _), (a, b) in sorted(pairs.items())]


def doses_array(records: Sequence[Sequence[Dose]]) -> np.ndarray:
    """(patient, dose, 3) array of (time, cmt, amt), NaN-padded."""
    width = max([1, *(len(r) for r in records)])
    out = np.full((len(records), width, 3), np.nan)
    for i, r in enumerate(records):
        if r:
            out[i, :len(r)] = np.asarray(r, dtype=float)
    return out


# ---- dosing tables ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DosingTable:
    """A validated dosing table: patient id -> dose records (canonical order). Every id that appears in the table
    (on any row, observation rows included) is driven by it; a listed patient with no dose rows gets no doses."""

    doses: dict[int, list[Dose]]
    source: str | None = None

    @property
    def ids(self) -> np.ndarray:
        return np.array(sorted(self.doses), dtype=np.int64)

    def check_ids(self, cohort_ids: np.ndarray) -> None:
        """Every patient of the table must be simulated (ids are the cohort's patient ids, e.g. 0..n-1)."""
        ids = self.ids
        extra = ids[~np.isin(ids, cohort_ids)]
        if extra.size:
            lo, hi = int(np.min(cohort_ids)), int(np.max(cohort_ids))
            span = f"{lo}..{hi}" if hi - lo + 1 == len(cohort_ids) else f"{len(cohort_ids)} ids from {lo} to {hi}"
            raise InputError("dosing.ID", int(extra[0]), f"a patient id of the simulated cohort ({span}); "
                             f"{extra.size} id(s) of the table are not simulated", self.source)


def normalize_columns(df: pd.DataFrame, where: str = "dosing") -> pd.DataFrame:
    """Standard NONMEM column names in upper case (``time``, ``amt``, ``cmt`` of mrgsolve/rxode2 are accepted)."""
    rename: dict[Any, str] = {}
    seen: dict[str, Any] = {}
    for c in df.columns:
        up = str(c).strip().upper()
        if up in STANDARD_COLUMNS:
            if up in seen:
                raise InputError(f"{where}.columns", [seen[up], c], f"one column named {up} (any case)")
            seen[up] = c
            rename[c] = up
    return df.rename(columns=rename)


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _where(source: str | None, pos: int, line_offset: int | None) -> str:
    text = f"dosing table row {pos}"
    if source:
        text += f" (line {pos + line_offset} of {source})" if line_offset is not None else f" of {source}"
    return text


def as_dosing(value: Any) -> DosingTable:
    """Validate a NONMEM-style dosing table (DataFrame, path to a CSV/Parquet file, or a ``DosingTable``).

    Columns (any case): ID, TIME, AMT, CMT and, optionally, EVID (default 1 = every row a dose). Rows with EVID 1 are
    doses; EVID 0 (observation) and 2 (other) rows are ignored but their ID counts as listed. Errors name the column,
    the row (0-based position in the table), the value and what is allowed."""
    if isinstance(value, DosingTable):
        return value
    if isinstance(value, (str, Path)):
        from nksim.io.nonmem import read_nonmem

        return as_dosing(read_nonmem(value))
    if not isinstance(value, pd.DataFrame):
        raise InputError("overrides.dosing", type(value).__name__,
                         "a pandas DataFrame in NONMEM layout (ID, TIME, EVID, AMT, CMT), a path to one "
                         "(nksim.read_nonmem) or a DosingTable")
    source = value.attrs.get("nonmem_source")
    line_offset = value.attrs.get("nonmem_line_offset")
    df = normalize_columns(value.reset_index(drop=True))
    missing = [c for c in ("ID", "TIME", "AMT", "CMT") if c not in df.columns]
    if missing:
        raise InputError("dosing.columns", list(value.columns)[:12],
                         f"columns ID, TIME, AMT, CMT (and EVID); missing {', '.join(missing)}", source)

    def fail(col: str, pos: int, allowed: str) -> None:
        raise InputError(f"dosing.{col}", df[col].iloc[pos], allowed, _where(source, int(pos), line_offset))

    n = len(df)
    ids = _numeric(df, "ID")
    bad = ~(np.isfinite(ids) & (ids >= 0) & (ids == np.round(ids)))
    if bad.any():
        fail("ID", int(np.flatnonzero(bad)[0]), "a patient id: an integer >= 0 (the cohort's patient ids)")
    if "EVID" in df.columns:
        evid = _numeric(df, "EVID")
        bad = ~np.isin(evid, (0.0, 1.0, 2.0))
        if bad.any():
            fail("EVID", int(np.flatnonzero(bad)[0]),
                 "0 (observation, ignored), 1 (dose) or 2 (other, ignored); resets (3, 4) are not supported")
        is_dose = evid == 1.0
    else:
        is_dose = np.ones(n, dtype=bool)
    rows = np.flatnonzero(is_dose)
    t = _numeric(df, "TIME")
    cmt = _numeric(df, "CMT")
    amt = _numeric(df, "AMT")
    bad = ~np.isfinite(t[rows])
    if bad.any():
        fail("TIME", rows[bad][0], "a finite number of days since the first infusion (day 0)")
    bad = ~np.isin(cmt[rows], list(DOSE_CMTS))
    if bad.any():
        fail("CMT", rows[bad][0], f"a dose compartment on a dose row (EVID 1): {cmt_choices()}")
    for col, allowed in UNSUPPORTED_ZERO.items():
        if col in df.columns:
            v = _numeric(df, col)[rows]
            raw = df[col].iloc[rows]
            bad = ~((v == 0.0) | (np.isnan(v) & (raw.isna() | (raw.astype(str).str.strip() == ".")).to_numpy()))
            if bad.any():
                fail(col, rows[bad][0], allowed)
    for c in DOSE_CMTS.values():
        m = rows[cmt[rows] == c.cmt]
        a = amt[m]
        bad = ~(np.isfinite(a) & (a >= 0.0) & (a <= c.max_amt))
        if bad.any():
            rng = f"in [0, {c.max_amt:g}]" if np.isfinite(c.max_amt) else ">= 0"
            fail("AMT", m[bad][0], f"a finite amount {rng} {c.unit} for CMT {c.cmt} ({c.name})")
    # per patient: one lymphodepletion course at TIME <= 0; the first infusion at TIME 0
    ld = rows[cmt[rows] == CMT_LYMPHODEPLETION]
    bad = t[ld] > 0.0
    if bad.any():
        fail("TIME", ld[bad][0], "a day <= 0 for lymphodepletion (CMT 3): it precedes the first infusion (day 0)")
    dup = pd.Series(ids[ld]).duplicated().to_numpy()
    if dup.any():
        fail("CMT", ld[dup][0], f"one lymphodepletion course (CMT 3) per patient (ID {int(ids[ld][dup][0])} has two)")
    inf = rows[np.isin(cmt[rows], INFUSION_CMTS) & (amt[rows] > 0.0)]
    if inf.size:
        order = np.lexsort((t[inf], ids[inf]))
        first = pd.Series(inf[order]).groupby(ids[inf][order]).first().to_numpy()
        bad = t[first] != 0.0
        if bad.any():
            fail("TIME", first[bad][0], "0 for a patient's first product infusion (CMT 1/2/8/9, AMT > 0): TIME is days "
                 "since the first infusion")
    # records: infusion rows with AMT 0 give no dose (as a zero dose gives no infusion event)
    keep = rows[~(np.isin(cmt[rows], INFUSION_CMTS) & (amt[rows] == 0.0))]
    doses: dict[int, list[Dose]] = {int(i): [] for i in np.unique(ids)}
    for i, tt, c, a in zip(ids[keep].astype(np.int64).tolist(), t[keep].tolist(), cmt[keep].astype(np.int64).tolist(),
                           amt[keep].tolist()):
        doses[i].append((tt, c, a))
    return DosingTable({i: sort_doses(d) for i, d in doses.items()}, source)
