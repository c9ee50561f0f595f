"""Response criteria as classes with one interface: RECIST 1.1, mRECIST, Lugano 2014 and the ALL marrow criteria.

Every criteria object is built from the resolved clinical parameters (registry ``clinical_*`` values with the
scenario's overrides), so its thresholds are read once and then carried (``ResolvedScenario.criteria``):

- ``burden(scan)``: the burden each scan reports, (patient, 1 + scan) with the baseline first (sum of target
  diameters in mm; Lugano: SPD in mm2; marrow: blasts in % of marrow cells), and which patients are measurable;
- ``scan_responses(scan, done, new_seen)``: per-scan response codes (``nksim.clinical.codes``);
- ``reference_lines``: the % changes from baseline that a waterfall or spider plot draws (PD, PR), empty where the
  response is absolute (marrow remission);
- ``thresholds``: the numbers the criteria use, by name (for reports and trials, instead of hard-coding -30/+20);
- ``confirmation``: whether CR/PR need a confirmation scan by the criteria's own rule.

The per-scan rules themselves are the public functions ``recist_scan_responses``, ``lugano_scan_responses`` and
``marrow_scan_responses`` (their modules cite the published definitions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Mapping

import numpy as np

from nksim.clinical.lesions import diameter_mm
from nksim.clinical.lugano import lugano_scan_responses
from nksim.clinical.marrow import marrow_scan_responses
from nksim.clinical.recist import recist_scan_responses
from nksim.errors import InputError


@dataclass(frozen=True)
class ScanData:
    """What the criteria read at the baseline and at each scan: (patient, 1 + scan[, lesion]) arrays.

    ``viable``/``dead``: tumor cells per lesion; ``marrow``: marrow blast fraction (None where not modelled);
    ``density``: cells per cm3 per patient; ``is_target``: (lesion,) target lesions.
    """

    viable: np.ndarray
    dead: np.ndarray
    density: np.ndarray
    is_target: np.ndarray
    marrow: np.ndarray | None = None


@dataclass(frozen=True)
class Burden:
    """Burden at baseline and scans (patient, 1 + scan), measurable patients, and the lesion diameters the rules
    read (target and non-target, mm; None for the marrow criteria) or the marrow blast fractions."""

    values: np.ndarray
    measurable: np.ndarray
    target_mm: np.ndarray | None = None
    nontarget_mm: np.ndarray | None = None
    blasts: np.ndarray | None = None


@dataclass(frozen=True)
class ResponseCriteria:
    """Base class: one instance per resolved scenario (thresholds from the registry)."""

    params: Mapping[str, float] = field(repr=False)
    imaging_limit_mm: float = 5.0
    measurable_min_mm: float = 10.0
    mrecist_baseline: str = "viable+dead"

    name: ClassVar[str] = ""
    confirmation: ClassVar[bool] = True
    #: patient-table column of the baseline burden, and what the burden is (for reports)
    baseline_column: ClassVar[str] = "baseline_burden_mm"
    burden_label: ClassVar[str] = "sum of diameters"
    burden_unit: ClassVar[str] = "mm"

    @property
    def thresholds(self) -> dict[str, float]:
        return {}

    @property
    def reference_lines(self) -> dict[str, float]:
        """% change from baseline drawn as reference lines, by response ('PD': +20, 'PR': -30 for RECIST)."""
        return {}

    def _cells(self, scan: ScanData) -> np.ndarray:
        return scan.viable + scan.dead

    def _diameters(self, scan: ScanData, qualifies_at_baseline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d_all = diameter_mm(self._cells(scan), scan.density[:, None, None], self.imaging_limit_mm)
        tmask = np.asarray(scan.is_target, dtype=bool)[None, :] & qualifies_at_baseline(d_all[:, 0])
        return d_all * tmask[:, None, :], d_all * ~tmask[:, None, :], tmask.any(axis=1)

    def burden(self, scan: ScanData) -> Burden:
        raise NotImplementedError

    def scan_responses(self, burden: Burden, done: np.ndarray, new_seen: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Recist11(ResponseCriteria):
    """RECIST 1.1 (Eisenhauer 2009): whole lesion (viable + dead cells), sum of target diameters."""

    name: ClassVar[str] = "RECIST1.1"
    key: ClassVar[str] = "recist"

    @property
    def thresholds(self) -> dict[str, float]:
        p = self.params
        return {"pr_fraction": p[f"clinical_{self.key}_pr_fraction"],
                "pd_fraction": p[f"clinical_{self.key}_pd_fraction"],
                "pd_abs_mm": p[f"clinical_{self.key}_pd_abs_mm"],
                "nontarget_pd_fold": p["clinical_nontarget_pd_volume_fold"],
                "measurable_min_mm": self.measurable_min_mm}

    @property
    def reference_lines(self) -> dict[str, float]:
        th = self.thresholds
        return {"PD": 100.0 * th["pd_fraction"], "PR": -100.0 * th["pr_fraction"]}

    def burden(self, scan: ScanData) -> Burden:
        tgt, nt, measurable = self._diameters(scan, lambda d0: d0 >= self.measurable_min_mm - 1e-9)
        return Burden(tgt.sum(axis=2), measurable, tgt, nt)

    def scan_responses(self, burden: Burden, done: np.ndarray, new_seen: np.ndarray) -> np.ndarray:
        th = self.thresholds
        tgt, nt = burden.target_mm, burden.nontarget_mm
        return recist_scan_responses(tgt[:, 1:], tgt[:, 0], nt[:, 1:], nt[:, 0], new_seen, done,
                                     pr_fraction=th["pr_fraction"], pd_fraction=th["pd_fraction"],
                                     pd_abs_mm=th["pd_abs_mm"], nontarget_pd_fold=th["nontarget_pd_fold"],
                                     measurable_min_mm=th["measurable_min_mm"])


@dataclass(frozen=True)
class MRecist(Recist11):
    """mRECIST for HCC (Lencioni & Llovet 2010): viable (enhancing) tumor only; the baseline counts all tumor as
    viable unless ``mrecist_baseline`` is 'viable'."""

    name: ClassVar[str] = "mRECIST"
    key: ClassVar[str] = "mrecist"

    def _cells(self, scan: ScanData) -> np.ndarray:
        if self.mrecist_baseline != "viable+dead":
            return scan.viable
        cells = scan.viable.copy()
        cells[:, 0] += scan.dead[:, 0]
        return cells


@dataclass(frozen=True)
class Lugano2014(ResponseCriteria):
    """Lugano 2014 CT-based response (Cheson 2014): SPD of target nodes; no confirmation scan."""

    name: ClassVar[str] = "Lugano2014"
    confirmation: ClassVar[bool] = False
    baseline_column: ClassVar[str] = "baseline_spd_mm2"
    burden_label: ClassVar[str] = "SPD"
    burden_unit: ClassVar[str] = "mm2"

    @property
    def thresholds(self) -> dict[str, float]:
        p = self.params
        return {"pr_fraction": p["clinical_lugano_pr_fraction"],
                "node_normal_mm": p["clinical_lugano_node_normal_mm"],
                "pd_ppd_fraction": p["clinical_lugano_pd_ppd_fraction"],
                "size_class_mm": p["clinical_lugano_pd_size_class_mm"],
                "increase_small_mm": p["clinical_lugano_pd_increase_small_mm"],
                "increase_large_mm": p["clinical_lugano_pd_increase_large_mm"],
                "nontarget_pd_fold": p["clinical_nontarget_pd_volume_fold"]}

    @property
    def reference_lines(self) -> dict[str, float]:
        return {"PR": -100.0 * self.thresholds["pr_fraction"]}

    def burden(self, scan: ScanData) -> Burden:
        normal = self.thresholds["node_normal_mm"]
        tgt, nt, measurable = self._diameters(scan, lambda d0: d0 > normal)
        return Burden((tgt**2).sum(axis=2), measurable, tgt, nt)

    def scan_responses(self, burden: Burden, done: np.ndarray, new_seen: np.ndarray) -> np.ndarray:
        tgt, nt = burden.target_mm, burden.nontarget_mm
        return lugano_scan_responses(tgt[:, 1:], tgt[:, 0], nt[:, 1:], nt[:, 0], new_seen, done, **self.thresholds)


@dataclass(frozen=True)
class MarrowALL(ResponseCriteria):
    """Marrow response of acute leukemia: blasts < 5% = CR, no PR; no confirmation (nksim.clinical.marrow)."""

    name: ClassVar[str] = "ALL-marrow"
    confirmation: ClassVar[bool] = False
    baseline_column: ClassVar[str] = "baseline_marrow_blasts_pct"
    burden_label: ClassVar[str] = "marrow blasts"
    burden_unit: ClassVar[str] = "%"

    @property
    def thresholds(self) -> dict[str, float]:
        return {"cr_fraction": self.params["clinical_marrow_cr_blast_fraction"],
                "pd_increase": self.params["clinical_marrow_pd_increase_fraction"]}

    def burden(self, scan: ScanData) -> Burden:
        if scan.marrow is None:
            raise InputError("trajectories", "tsys_marrow_fraction", "present for the ALL-marrow criteria")
        return Burden(100.0 * scan.marrow, scan.marrow[:, 0] >= self.thresholds["cr_fraction"], blasts=scan.marrow)

    def scan_responses(self, burden: Burden, done: np.ndarray, new_seen: np.ndarray) -> np.ndarray:
        blasts = burden.blasts
        return marrow_scan_responses(blasts[:, 1:], blasts[:, 0], done, **self.thresholds)


#: criteria name (``ReadoutSpec.criteria``) -> class
CRITERIA: dict[str, type[ResponseCriteria]] = {c.name: c for c in (Recist11, MRecist, Lugano2014, MarrowALL)}


def make_criteria(name: str, params: Mapping[str, float], *, imaging_limit_mm: float, measurable_min_mm: float,
                  mrecist_baseline: str = "viable+dead") -> ResponseCriteria:
    """The criteria object of ``name`` with its thresholds from the resolved clinical ``params``."""
    if name not in CRITERIA:
        raise InputError("readouts.criteria", name, f"one of {', '.join(CRITERIA)}")
    return CRITERIA[name](params, imaging_limit_mm=imaging_limit_mm, measurable_min_mm=measurable_min_mm,
                          mrecist_baseline=mrecist_baseline)
