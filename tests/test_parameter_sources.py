"""Parameter sources a reader can follow (issue 17 item 5): a citation with DOI/PMID/PMC/URL or "assumption: why";
none pointing at the team's research notes (not shipped); docs/parameters.md generated from the registry."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from nksim.registry import load_registry
from nksim.registry_docs import DEFAULT_PATH, render

IDENTIFIER = re.compile(r"doi:10\.\d{4,9}/\S+|\b10\.\d{4,9}/\S+|PMID \d{6,9}|PMC\d{5,9}|https?://[\w.-]+\.\w+\S*")
UNSHIPPED = re.compile(r"(?<!docs/)(?i:model)\.md|domain\.md|ARCHITECTURE\.md|software_anchors|shared/(design|research)")


def test_no_source_cites_files_users_do_not_have():
    text = resources.files("nksim").joinpath("data/parameters.yaml").read_text(encoding="utf-8")
    assert [m.group(0) for m in UNSHIPPED.finditer(text)] == []  # neither in a source nor in the file's comments
    assert [p.name for p in load_registry().values() if UNSHIPPED.search(p.source)] == []


def test_every_source_is_a_citation_or_a_stated_assumption():
    missing = [p.name for p in load_registry().values()
               if not p.source.lower().startswith("assumption") and not IDENTIFIER.search(p.source)]
    assert missing == [], "cite with a DOI, PMID, PMC id or URL, or write 'assumption: why'"
    bare = [p.name for p in load_registry().values() if p.source.strip().lower().rstrip(".") == "assumption"]
    assert bare == [], "an assumption says why"


@pytest.mark.parametrize("good, bad", [("doi:10.1056/NEJMoa1910607", "doi:10.10/x"), ("PMID 20680271", "PMID 12"),
                                       ("https://recist.eortc.org/", "recist.eortc.org")])
def test_identifier_pattern_tells_citations_from_text(good, bad):
    assert IDENTIFIER.search(good) and not IDENTIFIER.search(bad)


def test_parameters_page_is_generated_from_the_registry():
    reg = load_registry()
    page = render(reg)
    assert all(f"`{name}`" in page for name in reg)
    counts = re.findall(r"^\| (sourced|derived|unverified|assumption) \| (\d+) \|", page, re.M)
    assert sum(int(n) for _, n in counts) == len(reg)
    assert Path(DEFAULT_PATH).read_text(encoding="utf-8") == page, \
        "docs/parameters.md is stale: run `python -m nksim.registry_docs`"


def test_shipped_data_files_cite_no_unshipped_notes():
    data = resources.files("nksim").joinpath("data")
    hits = []
    for sub in ("scenarios", "spatial", "manufacturing", "calibration"):
        for f in data.joinpath(sub).iterdir():
            if f.name.endswith(".yaml"):
                hits += [f"{sub}/{f.name}: {m.group(0)}" for m in UNSHIPPED.finditer(f.read_text(encoding="utf-8"))]
    assert hits == []
