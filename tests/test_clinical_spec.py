"""ReadoutSpec validation and the clinical registry block."""

import pytest
from pydantic import ValidationError

from nksim.clinical import AssaySpec, DLTRule, ReadoutSpec
from nksim.registry import load_registry


def test_defaults_and_criteria_rules():
    ro = ReadoutSpec()
    assert ro.criteria is None and ro.confirmation_resolved and ro.dlt_window_days == 28.0
    assert not ReadoutSpec(criteria="Lugano2014").confirmation_resolved
    assert ReadoutSpec(criteria="Lugano2014", confirmation=True).confirmation_resolved
    assert ro.assay.analyte_resolved == "transduced"
    assert AssaySpec(kind="flow").analyte_resolved == "all"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"criteria": "RECIST2"}, "criteria"),
        ({"scan_days": (56.0, 28.0)}, "scan_days"),
        ({"scan_days": ()}, "scan_days"),
        ({"imaging_limit_mm": -1.0}, "imaging_limit_mm"),
        ({"scan_dayz": (28.0,)}, "scan_dayz"),
    ],
)
def test_bad_fields_are_named(kwargs, field):
    with pytest.raises(ValidationError, match=field):
        ReadoutSpec(**kwargs)


def test_dlt_rule_and_assay_validation():
    with pytest.raises(ValidationError, match="toxicity"):
        DLTRule(toxicity="rash", min_grade=3)
    with pytest.raises(ValidationError, match="min_grade"):
        DLTRule(toxicity="crs", min_grade=6)
    with pytest.raises(ValidationError, match="qPCR"):
        AssaySpec(kind="qpcr", analyte="all")


def test_spec_is_frozen_and_serialisable():
    ro = ReadoutSpec(criteria="mRECIST", scan_days=(42.0, 84.0))
    with pytest.raises(ValidationError):
        ro.criteria = "RECIST1.1"
    assert ReadoutSpec.model_validate_json(ro.model_dump_json()) == ro
    assert "criteria" in ReadoutSpec.model_json_schema()["properties"]


def test_registry_block_is_complete_and_sourced():
    reg = load_registry()
    mine = reg.table(module="clinical")
    assert len(mine) >= 40
    for p in mine:
        assert p["name"].startswith("clinical_")
        assert p["source"]
        if p["status"] == "assumption":
            assert "assumption" in p["source"].lower()
    # every clinical parameter name used in the code exists in the registry
    import pathlib
    import re

    import nksim.clinical as pkg

    names = set()
    for f in pathlib.Path(pkg.__file__).parent.glob("*.py"):
        names |= set(re.findall(r'"(clinical_[a-z0-9_]+)"', f.read_text(encoding="utf-8")))
    names |= {f"clinical_offtumor_grade{g}" for g in (1, 2, 3, 4)}
    names |= {
        f"clinical_{k}_{s}"
        for k in ("recist", "mrecist")
        for s in ("pr_fraction", "pd_fraction", "pd_abs_mm")
    }
    assert names - set(reg) == set()
