"""Response codes shared by RECIST 1.1, mRECIST and Lugano 2014 (ordered: a larger code is a better response).
"""

from __future__ import annotations

import numpy as np

ND = -1  #: not done (before baseline, after death, after the end of follow-up or after progression)
NE = 0  #: not evaluable (no measurable disease at baseline)
PD = 1  #: progressive disease
SD = 2  #: stable disease (Lugano: no response / stable disease)
PR = 3  #: partial response (Lugano: partial metabolic/radiologic response, here CT-based)
CR = 4  #: complete response

LABELS: dict[int, str | None] = {ND: None, NE: "NE", PD: "PD", SD: "SD", PR: "PR", CR: "CR"}
CODES: dict[str, int] = {v: k for k, v in LABELS.items() if v is not None}


def to_labels(codes: np.ndarray) -> np.ndarray:
    """Integer codes -> object array of labels (None for not done)."""
    lut = np.array([LABELS[c] for c in (ND, NE, PD, SD, PR, CR)], dtype=object)
    return lut[np.asarray(codes) + 1]


def from_labels(labels) -> np.ndarray:
    """Labels ('CR', 'PR', 'SD', 'PD', 'NE', None) -> integer codes."""
    return np.array([ND if lab is None else CODES[lab] for lab in labels], dtype=int)
