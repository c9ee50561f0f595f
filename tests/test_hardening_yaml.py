"""The input boundary (nksim.yaml_load): what a hostile or broken YAML file gets instead of a traceback or a hang."""

from __future__ import annotations

import resource
import time

import pytest
import yaml

from nksim.errors import InputError
from nksim.spec.io import load_scenario
from nksim.yaml_load import ALIAS_BUDGET, safe_load

BASE = """
name: t
product: {name: p}
regimen:
  dose_levels: [{value: 1e7}]
"""


def _load(tmp_path, text: str | bytes):
    p = tmp_path / "s.yaml"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return load_scenario(str(p))


def _error(tmp_path, text: str | bytes) -> str:
    with pytest.raises(InputError) as exc:
        _load(tmp_path, text)
    return str(exc.value)


def test_base_document_is_valid_and_reads_1e7_as_a_number(tmp_path):
    sc = _load(tmp_path, BASE)
    assert sc.regimen.dose_levels[0].value == 1e7
    assert safe_load("a: 1e7\nb: -2.5E-3\nc: 1.0e7\nd: '1e7'") == {"a": 1e7, "b": -2.5e-3, "c": 1e7, "d": "1e7"}


@pytest.mark.parametrize("content, words", [
    ("name: caf\xe9\n".encode("latin-1"), "UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"\xff\xfe\x00n\x00a", "binary"),
])
def test_non_utf8_and_binary_files_are_refused(tmp_path, content, words):
    msg = _error(tmp_path, content)
    assert words in msg and "s.yaml" in msg


def test_a_directory_is_not_a_scenario(tmp_path):
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(InputError, match="a file, not a directory"):
        load_scenario(str(tmp_path / "d.yaml"))


def test_alias_bomb_is_refused_quickly_without_memory(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):  # 9**12 strings when expanded
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    bomb = BASE + "unknown_key:\n" + "\n".join("  " + line for line in lines) + "\n"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    msg = _error(tmp_path, bomb)
    assert time.perf_counter() - t0 < 5.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB
    assert "alias" in msg and f"{ALIAS_BUDGET:,}" in msg


def test_small_aliases_are_allowed():
    assert safe_load("a: &x {p: 1}\nb: *x\nc:\n  <<: *x\n  q: 2") == {"a": {"p": 1}, "b": {"p": 1}, "c": {"p": 1, "q": 2}}


def test_recursive_alias_and_deep_nesting_are_refused():
    with pytest.raises(yaml.YAMLError, match="recursive"):
        safe_load("a: &a [*a]")
    with pytest.raises(yaml.YAMLError, match="nesting"):
        safe_load("[" * 200 + "]" * 200)


def test_duplicate_keys_are_refused_with_the_line(tmp_path):
    msg = _error(tmp_path, BASE + "name: other\n")
    assert "duplicate key 'name'" in msg and "line 6" in msg


@pytest.mark.parametrize("snippet", ["  lymphodepletion: {day: -.inf}\n", "  il2: {days: [-.inf], dose: 1}\n",
                                     "  infusion_days: [0, .nan]\n", "  dose_level: 1e400\n"])
def test_non_finite_numbers_are_refused(tmp_path, snippet):
    msg = _error(tmp_path, BASE + snippet)
    assert "non-finite number" in msg and "line" in msg and "Traceback" not in msg


def test_non_finite_strings_are_refused_too(tmp_path):
    msg = _error(tmp_path, BASE + "  lymphodepletion: {day: '-inf'}\n")
    assert "regimen.lymphodepletion.day" in msg and "finite" in msg
