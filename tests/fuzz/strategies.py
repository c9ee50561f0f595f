"""Hypothesis strategies for the fuzz suite: input documents (valid, mutated, hostile bytes), trial CSVs and
command lines.

Documents start from the built-in scenarios, manufacturing processes and spatial scenarios (resolved, so every
field is present) and take a few mutations: a value set to an extreme, a non-finite number, a negative, a string,
null or a container; a key removed, misspelt or added; a list emptied or grown. The YAML text then may take text
mutations: a line duplicated (duplicate keys), bytes that are not UTF-8, binary garbage, a cut, or an alias bomb.
"""

from __future__ import annotations

import copy
import functools
import math
from importlib import resources
from typing import Any

import yaml
from hypothesis import strategies as st

EXTREME_NUMBERS = [0, -1, 1, -1e-300, 1e-300, 1e308, -1e308, 2**31, 2**63, 2**63 - 1, 10**30, -10**30, 0.5, 1e7,
                   3650, 3651, -365, -366, 1e10, 1e11, float("nan"), float("inf"), float("-inf")]
ODD_VALUES = ["", "abc", "1e7", "nan", "-inf", "∞", "../../escape", "/tmp/x", None, True, False, [], {}, [1, 2],
              {"a": 1}, "GPC3", "x" * 500]
NAME_ATTACKS = ["../escape", "../../escape", "/anywhere/else", "..", ".", "", "a/../../b", "\x00", "con", "-rf",
                "ünï cödé", "x" * 300, "~/escape", "$HOME", "name\nwith newline"]


@functools.lru_cache(maxsize=None)
def builtin_docs(kind: str) -> tuple[tuple[str, str], ...]:
    """(name, resolved YAML text) of every built-in document of a kind: scenario, manufacturing, spatial."""
    if kind == "scenario":
        from nksim.spec.io import builtin_names, dump_scenario, load_scenario

        return tuple((n, dump_scenario(load_scenario(n))) for n in builtin_names())
    if kind == "manufacturing":
        from nksim.manufacturing.loader import builtin_processes, load_manufacturing_spec

        return tuple((n, yaml.safe_dump(load_manufacturing_spec(n).model_dump(mode="json"), sort_keys=False))
                     for n in builtin_processes())
    if kind == "spatial":
        from nksim.spec.spatial import builtin_spatial_scenarios, load_spatial_spec

        return tuple((n, yaml.safe_dump(load_spatial_spec(n).model_dump(mode="json"), sort_keys=False))
                     for n in builtin_spatial_scenarios())
    raise ValueError(kind)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every location in a document (mapping keys and list positions), the root excluded."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((*prefix, i))
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


def _misspell(draw, key: str) -> str:
    if not key:
        return "x"
    i = draw(st.integers(0, len(key) - 1))
    how = draw(st.sampled_from(["drop", "double", "swap", "upper", "suffix"]))
    if how == "drop":
        return key[:i] + key[i + 1:] or "x"
    if how == "double":
        return key[:i] + key[i] + key[i:]
    if how == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2:]
    if how == "upper":
        return key.upper()
    return key + "s"


def _value(draw, old: Any) -> Any:
    """A replacement for ``old``: an extreme number, a scaled copy, a sign flip, an odd value, a list change."""
    choices = ["extreme", "odd"]
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        choices += ["scale", "negate", "extreme"]
    if isinstance(old, list):
        choices += ["empty", "grow", "extreme_item"]
    if isinstance(old, str):
        choices += ["name_attack"]
    how = draw(st.sampled_from(choices))
    if how == "extreme":
        return draw(st.sampled_from(EXTREME_NUMBERS))
    if how == "odd":  # a copy: a later mutation must not change the shared constant (hypothesis replays draws)
        return copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    if how == "scale":
        return old * draw(st.sampled_from([10.0, 1e3, 1e6, 0.1, 1e-6, 1e300, 0.0]))
    if how == "negate":
        return -old if old else -1
    if how == "empty":
        return []
    if how == "grow":  # copies, not references to one item (a later mutation would change them all)
        return [copy.deepcopy(x) for x in old * draw(st.integers(2, 40))] if old else [
            draw(st.sampled_from(EXTREME_NUMBERS))] * 3
    if how == "extreme_item":
        return [*old, draw(st.sampled_from(EXTREME_NUMBERS))]
    return draw(st.sampled_from(NAME_ATTACKS))


@st.composite
def mutated_doc(draw, kind: str, max_mutations: int = 4) -> tuple[str, dict]:
    """(name of the built-in it came from, the document with 0..max_mutations structural mutations)."""
    name, text = draw(st.sampled_from(builtin_docs(kind)))
    doc = copy.deepcopy(yaml.safe_load(text))
    for _ in range(draw(st.integers(0, max_mutations))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        key = path[-1]
        how = draw(st.sampled_from(["value", "value", "value", "remove", "misspell", "add", "name"]))
        if how == "value":
            parent[key] = _value(draw, parent[key])
        elif how == "remove":
            del parent[key]
        elif how == "misspell" and isinstance(parent, dict):
            parent[_misspell(draw, str(key))] = parent.pop(key)
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "nmae", "seed", "unknown_field", "parameters"]))] = (
                copy.deepcopy(draw(st.sampled_from(EXTREME_NUMBERS + ODD_VALUES))))
        elif how == "name" and isinstance(doc, dict):
            doc["name"] = draw(st.sampled_from(NAME_ATTACKS))
    return name, doc


def dump(doc: Any) -> str:
    """YAML of a document; non-finite floats come out as ``.nan`` / ``.inf`` (which the reader must refuse)."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def alias_bomb(depth: int, width: int) -> str:
    lines = ['a0: &a0 ["lol", "lol"]']
    for i in range(1, depth + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join("  " + ln for ln in lines)


@st.composite
def document_bytes(draw, kind: str) -> tuple[str, bytes]:
    """(origin, file content): a mutated document as YAML, often with a text mutation on top."""
    name, doc = draw(mutated_doc(kind))
    text = dump(doc)
    how = draw(st.sampled_from(["none", "none", "none", "dup_line", "non_utf8", "binary", "cut", "bomb", "junk",
                                "bom", "tabs", "anchor_small"]))
    lines = text.splitlines(keepends=True)
    if how == "dup_line" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i + 1, lines[i])
        text = "".join(lines)
    elif how == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "bomb":
        text += "bomb:\n" + alias_bomb(draw(st.integers(1, 12)), draw(st.integers(2, 10))) + "\n"
    elif how == "anchor_small":
        text += "extra_anchor: &x {p: 1}\nextra_alias: *x\n"
    elif how == "tabs":
        text = text.replace("  ", "\t", draw(st.integers(1, 3)))
    elif how == "bom":
        text = "\ufeff" + text
    data = text.encode("utf-8")
    if how == "non_utf8":
        i = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:i] + draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3\x28", b"\x80\x80"])) + data[i:]
    elif how == "binary":
        data = draw(st.binary(min_size=1, max_size=200)) + (data if draw(st.booleans()) else b"")
    elif how == "junk":
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.text(max_size=30)).encode("utf-8", "surrogatepass") + data[i:]
    return f"{name}:{how}", data


TRIAL_COLUMNS = ["dose_level", "dlt", "response", "followup_days", "DLT", " dose_level ", "junk", ""]
CSV_CELLS = ["0", "1", "2", "3", "-1", "1.5", "nan", "inf", "", "x", "1e308", "999999999999999999999", "NA", " 1 ",
             '"1"', "0.0", "true"]


#: columns of the data `nksim fit` reads (assay and NONMEM-style layouts, nksim.calibrate.data)
DATA_COLUMNS = ["ID", "ET", "DV", "HOURS", "MDV", "TIME", "EVID", "AMT", "CMT", "DVID", "LLOQ", "BLQ", "et", " DV ",
                "junk", ""]


@st.composite
def trial_csv(draw, columns: tuple[str, ...] = ("dose_level", "dlt"), names: list[str] | None = None) -> bytes:
    """A data CSV (default: trial data): mostly well-formed ``columns`` with odd cells; sometimes odd headers
    (from ``names``), quotes or bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    cols = draw(st.lists(st.sampled_from(names or TRIAL_COLUMNS), min_size=0, max_size=5))
    if draw(st.booleans()):
        cols = list(columns) + [c for c in cols if c not in columns]
    rows = draw(st.lists(st.lists(st.one_of(st.sampled_from(CSV_CELLS), st.sampled_from(["1", "2", "0", "3"])),
                                  min_size=len(cols), max_size=len(cols) + 1), max_size=40))
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    text = sep.join(cols) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
    return text.encode("utf-8")


DESIGNS = ["boin", "3+3", "crm", "keyboard", "mtpi2", "mtpi", "i3+3", "tite-boin", "boin12", "nope", ""]
INTS = ["0", "1", "2", "3", "-1", "-5", "10", "2147483648", str(10**30), "1.5", "x", "", "1e3", "nan"]
FLOATS = ["0", "0.3", "1", "-0.1", "1.5", "nan", "inf", "-inf", "1e308", "1e-320", "x", "", "0.05,0.1", str(10**30)]
LISTS = ["0.05,0.15,0.3", "0.1", "", ",", "0.1,,0.2", "nan,0.1", "inf", "-1,0.5", "2,3", "a,b", "0.3,0.2,0.1",
         "0.05," * 60 + "0.1", "1e400", "0.5;0.6"]
#: options whose size sets the work: valid values stay small (the rest is extreme or invalid)
WORK = {"--patients": ["1", "2"], "-n": ["1", "2"], "--trials": ["1", "5", "20"], "--lots": ["1", "3"],
        "--days": ["0.02", "0.05"], "--size": ["12x12", "16x16", "10x10x10"], "--cohort": ["2"], "--max-n": ["3", "9"],
        "--n-cohorts": ["1", "3"], "--chunk-size": ["1", "256"], "--uncertainty": ["0", "1"],
        "--checkpoint-every": ["0", "1", "2"]}
WORK_BAD = ["0", "-1", str(10**30), "x", "", "1.5", "nan", "-0", "1e9", "0x10", "10**3", "3x", "x3", "3xx3", "0x0",
            "-3x3", "99999999x99999999", "3x3x3x3", "1e400"]


def command_table() -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """Commands the argument fuzz calls (fast ones) with their options (name, kind) read from the typer app."""
    import typer.main

    from nksim.cli import app

    root = typer.main.get_command(app)
    keep = {("validate",), ("show",), ("catalog",), ("params",), ("scenarios",), ("run",), ("trial", "oc"),
            ("trial", "next-dose"), ("trial", "boundaries"), ("abm", "run"), ("abm", "resume"), ("manufacture",),
            ("assay", "lysis")}
    out: dict[tuple[str, ...], list[tuple[str, str]]] = {}

    def walk(cmd, path):
        if path in keep:
            opts = []
            for p in cmd.params:
                if p.name in ("help", "install_completion", "show_completion"):  # those write to shell files
                    continue
                names = [n for n in p.opts if n.startswith("--")] or list(p.opts)
                kind = "flag" if getattr(p, "is_flag", False) else getattr(getattr(p, "type", None), "name", "text")
                opts.append((names[0] if p.param_type_name == "option" else "ARG", kind))
                if getattr(p, "secondary_opts", None):
                    opts.append((p.secondary_opts[0], "flag"))
            out[path] = opts
        if hasattr(cmd, "list_commands"):  # lazy groups (nksim.cli_lazy) load a sub-command only when asked
            ctx = type(cmd).context_class(cmd)
            for name in cmd.list_commands(ctx):
                if any(k[:len(path) + 1] == (*path, name) for k in keep):
                    walk(cmd.get_command(ctx, name), (*path, name))

    walk(root, ())
    missing = keep - set(out)
    assert not missing, f"commands of the argument fuzz not found in the CLI: {sorted(missing)}"
    return out


@st.composite
def command_line(draw, table, box_in: str) -> list[str]:
    """A command line: a known command with random options (known, unknown, repeated) and values."""
    path = draw(st.sampled_from(sorted(table)))
    args = list(path)
    opts = table[path]
    positional = {
        ("validate",): [f"{box_in}/tiny.yaml", "hcc-gpc3-car-nk-il15", f"{box_in}/nope.yaml", f"{box_in}", ""],
        ("show",): ["hcc-post-lt-allo-nk", f"{box_in}/tiny.yaml", "nope", ""],
        ("catalog",): ["antigens", "indications", "criteria", "chemokine_receptors", "x", ""],
        ("run",): [f"{box_in}/tiny.yaml", "nope", f"{box_in}/nope.yaml"],
        ("abm", "run"): ["in-vitro-serial-killing", "hcc-gpc3-car", "nope", f"{box_in}/tiny.yaml"],
        ("abm", "resume"): [box_in, f"{box_in}/nope", ""],
        ("manufacture",): ["nk92-irradiated", "cb-car19-il15", "nope", f"{box_in}/tiny.yaml"],
        ("assay", "lysis"): ["hcc-gpc3-car-nk-il15", "hcc-post-lt-allo-nk", "nope"],
    }
    for name, kind in draw(st.lists(st.sampled_from(opts), max_size=5)) if opts else []:
        if name == "ARG":
            args.append(draw(st.sampled_from(positional.get(path, ["x", ""]))))
            continue
        args.append(name)
        if kind == "flag":
            continue
        if name in WORK:
            args.append(draw(st.sampled_from(WORK[name] + WORK_BAD)))
        elif name in ("--out", "-o", "--data"):
            args.append(draw(st.sampled_from([f"{box_in}/file.txt", f"{box_in}/file.txt/below", "/proc/x/y",
                                              f"{box_in}/trial.csv", "out", "", "../escape-out"])))
        elif kind == "integer":
            args.append(draw(st.sampled_from(INTS)))
        elif kind == "float":
            args.append(draw(st.sampled_from(FLOATS)))
        else:
            args.append(draw(st.sampled_from(LISTS + DESIGNS + ["kinetics", "GPC3", "k_nat=1", "k_nat=nan", "x=1",
                                                               "k_nat=-1", "k_nat", "=", "empiric", "logistic"])))
    for name, _ in opts:  # options that set the work and were not drawn: small, not the command's default size
        if name in WORK and name not in args:
            args += [name, WORK[name][0]]
    if draw(st.integers(0, 9)) == 0:
        args.append(draw(st.sampled_from(["--no-such-option", "-z", "--", "extra", "--seed"])))
    if path in positional and not any(a in positional[path] for a in args[len(path):]):
        args.insert(len(path), positional[path][0])
    return args


def is_finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
