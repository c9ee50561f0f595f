"""Issue 16's nasty cases, kept as regression files (corpus/manifest.yaml): each gets exit code 3 with one line per
problem naming field, value and what is allowed (or runs, staying under runs/); bad arguments and damaged run
folders likewise."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from fuzz import harness

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = yaml.safe_load((CORPUS / "manifest.yaml").read_text())


def test_every_corpus_file_is_in_the_manifest():
    listed = {e["file"] for e in MANIFEST}
    assert listed == {p.name for p in CORPUS.iterdir() if p.name != "manifest.yaml"}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_corpus_file(entry, box):
    src = box / "in" / entry["file"]
    shutil.copy(CORPUS / entry["file"], src)
    if "args" in entry:
        args = [a.replace("{file}", str(src)) for a in entry["args"]]
    else:
        args = ["run", str(src), "-n", "1"] if entry.get("run") else ["validate", str(src)]
    t0 = time.perf_counter()
    o = harness.invoke(args, box)
    assert harness.ok(o), harness.explain(o)
    assert o.code == entry["code"], harness.explain(o)
    for word in entry.get("words", []):
        assert word in o.err, (word, o.err)
    if entry.get("run"):
        assert (box / "work" / "runs" / entry["folder"] / "report.html").exists()
        assert not (box / "escape").exists() and not (box / "work" / "escape").exists()
    else:
        assert time.perf_counter() - t0 < 60  # the alias bomb is refused before it expands (no hang)


def test_alias_bomb_does_not_hang_a_subprocess(box):
    shutil.copy(CORPUS / "alias_bomb.yaml", box / "in" / "bomb.yaml")
    code, err = harness.subprocess_invoke(["validate", str(box / "in" / "bomb.yaml")], box, timeout=120)
    assert code == 3 and "alias bomb" in err and "Traceback" not in err


@pytest.mark.parametrize("args, words", [
    (["run", "hcc-post-lt-allo-nk", "-n", "1", "--out", "{in}/file.txt"], ["--out", "existing file"]),
    (["run", "hcc-post-lt-allo-nk", "-n", "1", "--out", "{in}/file.txt/below"], ["--out", "is a file, not a folder"]),
    (["run", "hcc-post-lt-allo-nk", "-n", "1", "--out", "/proc/nksim-no/run"], ["--out", "can be created"]),
    (["run", "hcc-post-lt-allo-nk", "--seed", str(10**30)], ["--seed", "[0, 2**63)"]),
    (["run", "hcc-post-lt-allo-nk", "-n", "0"], ["--patients", "1.."]),
    (["run", "hcc-post-lt-allo-nk", "-n", "1", "--chunk-size", "0"], ["--chunk-size", ">= 1"]),
    (["run", "no-such-scenario"], ["scenario = 'no-such-scenario'", "built-in name"]),
    (["abm", "run", "hcc-gpc3-car", "--size", "40by40"], ["--size", "NXxNY"]),
    (["abm", "run", "hcc-gpc3-car", "--seed", "-1"], ["--seed", "non-negative"]),
    (["abm", "run", "hcc-gpc3-car", "--out", "{in}/file.txt"], ["--out", "existing file"]),
    (["abm", "resume", "{in}"], ["checkpoint", "checkpoint.npz"]),
    (["manufacture", "no-such-process"], ["scenario = 'no-such-process'"]),
    (["manufacture", "nk92-irradiated", "-n", "2", "--out", "{in}/file.txt"], ["--out", "existing file"]),
    (["trial", "next-dose", "--n-doses", "3", "--data", "{in}/nope.csv"], ["data", "existing CSV"]),
    (["catalog", "antigenz"], ["catalog = 'antigenz'", "antigens"]),
    (["run", "{in}/tiny.yaml", "--scheduler", "0.05,0.15,0.3"], ["--scheduler", "tcp://host:8786", "port"]),
    (["assay", "lysis", "hcc-gpc3-car-nk-il15", "--out", "{in}/file.txt"], ["--out", "a file name ending in .png"]),
    (["assay", "lysis", "hcc-gpc3-car-nk-il15", "--out", "{in}/file.txt/below.png"], ["--out", "existing file"]),
    (["assay", "lysis", "hcc-gpc3-car-nk-il15", "--out", "{in}"], ["--out", "existing folder"]),
])
def test_bad_arguments_get_one_clear_line(args, words, box):
    (box / "in" / "file.txt").write_text("x")
    (box / "in" / "tiny.yaml").write_text("name: t\nproduct: {name: p}\nregimen: {dose_levels: [{value: 1e7}]}\n")
    o = harness.invoke([a.replace("{in}", str(box / "in")) for a in args], box)
    assert harness.ok(o) and o.code == 3, harness.explain(o)
    for word in words:
        assert word in o.err, (word, o.err)


def _tiny_run(box: Path) -> tuple[list[str], Path]:
    src = box / "in" / "s.yaml"
    src.write_text("name: t\nproduct: {name: p}\nregimen: {dose_levels: [{value: 1e7}]}\n"
                   "simulation: {n_patients: 3, horizon_d: 40, scan_days: [28]}\n")
    out = box / "work" / "runs" / "r"
    return ["run", str(src), "--out", str(out), "--chunk-size", "2"], out


def test_damaged_run_folder_truncated_chunk_is_recomputed(box):
    import xarray as xr

    args, out = _tiny_run(box)
    assert harness.invoke(args, box).code == 0
    from nksim.io.run_folder import open_trajectories

    before = open_trajectories(out).load()
    part = out / "trajectories" / "part-00001.zarr.zip"
    part.write_bytes(part.read_bytes()[:100])
    o = harness.invoke(args, box)
    assert harness.ok(o) and o.code == 0, harness.explain(o)
    assert "chunk 1" in o.err and "recomputed" in o.err
    after = open_trajectories(out)
    assert before["tumor_viable_total"].equals(after["tumor_viable_total"].load())


def test_damaged_run_folder_corrupt_run_key_is_said_and_the_chunks_checked(box):
    """Each chunk's completion record carries the settings it was computed with: a damaged run_key.json is said
    and rewritten, and the run resumes from the chunks that match."""
    args, out = _tiny_run(box)
    assert harness.invoke(args, box).code == 0
    (out / "run_key.json").write_text('{"scen')
    o = harness.invoke(args, box)
    assert harness.ok(o) and o.code == 0, harness.explain(o)
    assert "run_key.json" in o.err and "damaged" in o.err


def test_run_folder_metadata_is_written_temp_then_rename(box, monkeypatch):
    """Every small metadata file of a run folder (run_key.json, chunk records, ...) reaches its name by an atomic
    rename of a complete temporary file, never by writing in place (issue 16: run_key.json was not atomic)."""
    import os

    from nksim.io import atomic

    renamed = []
    real = os.replace

    def spy(src, dst):
        renamed.append(Path(dst).name)
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    args, out = _tiny_run(box)
    assert harness.invoke(args, box).code == 0
    small = [p for p in out.rglob("*.json")]
    assert any(p.name == "run_key.json" for p in small)
    assert {p.name for p in small} <= set(renamed), ({p.name for p in small} - set(renamed))
