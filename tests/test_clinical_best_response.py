"""Confirmation and best overall response (RECIST 1.1, Eisenhauer 2009 Table 3, with min SD duration 42 d)."""

import numpy as np
import pytest

from nksim.clinical import best_overall_response
from nksim.clinical.codes import from_labels, to_labels

DAYS = [28, 56, 84, 112]


def bor(labels, days=DAYS, confirmation=True, sd_min=42.0):
    labels = list(labels) + [None] * (len(days) - len(labels))
    codes = from_labels(labels)[None]
    return to_labels(
        best_overall_response(
            codes,
            np.array(days, float),
            confirmation=confirmation,
            confirmation_min_days=28.0,
            sd_min_days=sd_min,
        )
    )[0]


@pytest.mark.parametrize(
    "scans, expected",
    [
        (["CR", "CR"], "CR"),  # CR then CR -> CR
        (["PR", "CR"], "PR"),  # PR then CR -> PR
        (["PR", "PR"], "PR"),  # PR then PR -> PR
        (["SD", "PR", "PR"], "PR"),
        (["PR", "SD"], "SD"),  # PR then SD -> SD
        (["SD", "PR", "PD"], "SD"),  # PR (day 56 >= 42) then PD -> SD
        (["CR", "PD"], "PD"),  # CR on day 28 (< SD minimum) then PD -> PD
        (["SD", "PD"], "PD"),  # SD only before day 42, then PD -> PD
        (["SD", "SD"], "SD"),
        (["SD"], "NE"),  # SD on day 28 only, no later assessment -> NE
        (["PD"], "PD"),
        ([], "NE"),
        (["PR", "SD", "PR"], "SD"),  # response not maintained between the two PR scans
        (["NE", "NE"], "NE"),
    ],
)
def test_recist_table3_sequences(scans, expected):
    assert bor(scans) == expected


def test_confirmation_needs_28_days():
    # CR on day 28 and again on day 49 (21 days apart) is not confirmed; counts as SD (day 49 >= 42)
    assert bor(["CR", "CR"], days=[28, 49]) == "SD"
    assert bor(["CR", "CR"], days=[28, 56]) == "CR"
    assert bor(["CR", "CR"], days=[28, 49], sd_min=56) == "NE"


def test_without_confirmation_best_scan_counts():
    assert bor(["PR", "PD"], confirmation=False) == "PR"
    assert bor(["SD", "CR"], confirmation=False) == "CR"
    assert bor(["PR"], confirmation=True) == "NE"  # day 28 PR alone: unconfirmed and before the SD minimum


def test_vectorised_over_patients():
    codes = np.array(
        [
            from_labels(["CR", "CR", None, None]),
            from_labels(["PD", None, None, None]),
            from_labels(["SD", "SD", "PR", "PR"]),
        ]
    )
    out = to_labels(best_overall_response(codes, np.array(DAYS, float), confirmation=True))
    assert list(out) == ["CR", "PD", "PR"]


def test_continuing_partial_response_after_confirmation():
    from nksim.clinical import continuing_partial_response

    # EORTC RECIST FAQ: sums 100 -> 70, 70, 80, 80 read PR at every time point once PR is confirmed
    codes = from_labels(["PR", "PR", "SD", "SD"])[None]
    days = np.array(DAYS, float)
    shown = continuing_partial_response(codes, days, confirmation=True, confirmation_min_days=28.0)
    assert list(to_labels(shown[0])) == ["PR", "PR", "PR", "PR"]
    # an unconfirmed PR does not carry over; PD is never relabelled; without confirmation one PR suffices
    codes = from_labels(["PR", "SD", "SD", "PD"])[None]
    confirmed = continuing_partial_response(codes, days, confirmation=True)[0]
    assert list(to_labels(confirmed)) == ["PR", "SD", "SD", "PD"]
    unconfirmed = continuing_partial_response(codes, days, confirmation=False)[0]
    assert list(to_labels(unconfirmed)) == ["PR", "PR", "PR", "PD"]
    # the best overall response is unchanged by the relabelling
    for c in (from_labels(["PR", "PR", "SD", "SD"])[None], codes):
        relabelled = continuing_partial_response(c, days, confirmation=True)
        assert best_overall_response(relabelled, days, confirmation=True) == best_overall_response(
            c, days, confirmation=True
        )
