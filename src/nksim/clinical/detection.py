"""Product cells in blood and their detection by the scenario's assay.

- qPCR of the transgene: the assay reads copies per ug genomic DNA. With W leukocytes/uL (product cells
  included), m pg DNA per cell and c transgene copies per transduced cell, copies/ug = x c / (W m 1e-6) for x
  transduced cells per uL (1 ug DNA ~ 1.5e5 diploid cells at 6.6 pg/cell). The limit in cells/uL is LLOQ W m
  1e-6 / c, so it falls when the leukocyte count is low after lymphodepletion.
- Flow cytometry: product cells per uL against a limit in cells/uL.
- Donor chimerism: product cells as a fraction of leukocytes against a fractional limit. days_detectable =
  last sampling day (>= 0) with a detectable level (0 if never detected).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from nksim.spec.clinical import AssaySpec


def detection_limit_cells_per_ul(
    wbc_per_ul: np.ndarray, assay: AssaySpec, params: Mapping[str, float]
) -> np.ndarray:
    """Assay limit expressed in product cells per uL of blood (shape of ``wbc_per_ul``)."""
    wbc = np.asarray(wbc_per_ul, dtype=float)
    if assay.kind == "qpcr":
        lloq = assay.lloq_copies_per_ug or params["clinical_qpcr_lloq_copies_per_ug"]
        cpc = assay.copies_per_cell or params["clinical_transgene_copies_per_cell"]
        ug_dna_per_ul = wbc * params["clinical_dna_per_cell_pg"] * 1e-6
        return lloq * ug_dna_per_ul / cpc
    if assay.kind == "flow":
        return np.full(wbc.shape, assay.lod_cells_per_ul or params["clinical_flow_lod_cells_per_ul"])
    return (assay.lod_fraction or params["clinical_chimerism_lod_fraction"]) * wbc


def detectable(
    product_per_ul: np.ndarray, wbc_per_ul: np.ndarray, assay: AssaySpec, params: Mapping[str, float]
) -> np.ndarray:
    """Whether the product is detected. ``wbc_per_ul`` is the leukocyte count that carries the DNA / forms the
    denominator (host leukocytes + product cells); a level exactly at the limit is detected."""
    x = np.asarray(product_per_ul, dtype=float)
    lim = detection_limit_cells_per_ul(wbc_per_ul, assay, params)
    return (x > 0) & (x >= lim * (1 - 1e-12))


def last_detectable_day(t: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Last time >= 0 at which det (patient, time) is true; 0 where never."""
    m = det & (t[None, :] >= 0)
    n = m.shape[1]
    last = n - 1 - np.argmax(m[:, ::-1], axis=1)
    return np.where(m.any(axis=1), t[last], 0.0)
