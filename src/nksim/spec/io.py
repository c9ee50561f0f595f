"""Reading scenarios from YAML and built-in names, with errors that name the field, the value and what is allowed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin

import yaml
from pydantic import ValidationError

from nksim.errors import InputError, InputErrors, did_you_mean
from nksim.spec.base import FieldProblem, Frozen
from nksim.spec.scenario import Scenario
from nksim.yaml_load import describe_error, read_text, safe_load

BUILTIN_DIR = "data/scenarios"


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "tuple", "dict", "set", "is-instance", "lax-or-strict"}
_TYPE_KINDS = {"string_type", "model_type", "model_attributes_type", "dict_type", "none_required", "float_type",
               "int_type", "bool_type", "list_type", "tuple_type", "float_parsing", "int_parsing", "bool_parsing",
               "literal_error", "is_instance_of"}


def _model_names() -> set[str]:
    out, todo = set(), [Frozen]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            out.add(sub.__name__)
            todo.append(sub)
    return out


def _split_loc(loc: tuple[Any, ...], models: set[str]) -> tuple[tuple[Any, ...], tuple[Any, ...] | None, str | None]:
    """(location without union-branch tags, the location of the first union, its branch tag)."""
    clean: list[Any] = []
    union, tag = None, None
    for part in loc:
        if isinstance(part, str) and (part in _TYPE_TAGS or part in models or "[" in part):
            if union is None:
                union, tag = tuple(clean), part
            continue
        clean.append(part)
    return tuple(clean), union, tag


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A location as a dotted path (list positions as numbers), as ``Scenario.replace`` takes it."""
    return ".".join(str(p) for p in loc if p != "") or "(top level)"


def _num(x: Any) -> str:
    if isinstance(x, int) and not isinstance(x, bool) and x >= 2**32 and (x & (x - 1)) == 0:
        return f"2**{x.bit_length() - 1}"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _translate(kind: str, ctx: dict[str, Any], msg: str) -> str:
    """What is allowed, in nksim's words, for a pydantic error type."""
    words = {
        "greater_than": lambda: f"a number > {_num(ctx['gt'])}",
        "greater_than_equal": lambda: f"a number >= {_num(ctx['ge'])}",
        "less_than": lambda: f"a number < {_num(ctx['lt'])}",
        "less_than_equal": lambda: f"a number <= {_num(ctx['le'])}",
        "int_parsing": lambda: "a whole number",
        "int_type": lambda: "a whole number",
        "int_from_float": lambda: "a whole number",
        "int_parsing_size": lambda: "a whole number of sensible size",
        "float_parsing": lambda: "a number",
        "float_type": lambda: "a number",
        "finite_number": lambda: "a finite number (not inf or nan)",
        "bool_parsing": lambda: "true or false",
        "bool_type": lambda: "true or false",
        "string_type": lambda: "text",
        "literal_error": lambda: f"one of {ctx.get('expected', '')}",
        "enum": lambda: f"one of {ctx.get('expected', '')}",
        "tuple_type": lambda: "a list",
        "list_type": lambda: "a list",
        "iterable_type": lambda: "a list",
        "dict_type": lambda: "a mapping (name: value)",
        "model_type": lambda: "a mapping of fields",
        "model_attributes_type": lambda: "a mapping of fields",
        "none_required": lambda: "null",
        "missing": lambda: "a value (the field is required)",
        "too_short": lambda: "a non-empty list" if ctx.get("min_length") == 1 else
        f"a list of at least {ctx.get('min_length')} items",
        "too_long": lambda: f"at most {ctx.get('max_length')} item(s)",
    }
    if kind in words:
        return words[kind]()
    return msg.removeprefix("Value error, ").removeprefix("Input should be ")


def _fields_at(loc: tuple[Any, ...], root: Any = None) -> list[str] | None:
    """Field names of the model at ``loc`` under ``root`` (default Scenario; None when ``loc`` is no model)."""
    from pydantic import BaseModel

    def unwrap(ann: Any) -> Any:
        for _ in range(8):
            origin = get_origin(ann)
            if origin is None:
                return ann
            args = [a for a in get_args(ann) if a is not type(None) and a is not Ellipsis]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            ann = models[0] if models else (args[-1] if args else None)
        return ann

    cur: Any = root or Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return None
        field = cur.model_fields.get(part)
        if field is None:
            return None
        cur = unwrap(field.annotation)
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return None


def validation_problems(exc: ValidationError, root: Any = None) -> list[InputError]:
    """Every pydantic error as an InputError: the dotted field, the value given, what is allowed (nksim's words;
    model-level rules name their fields and never the whole input). ``root``: the validated model (Scenario)."""
    models = _model_names()
    raw = []
    for err in exc.errors():
        full = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and full:
            # the last part is the user's own key, never a union-branch tag (a key may contain "[")
            loc, union, tag = _split_loc(full[:-1], models)
            loc = (*loc, full[-1])
        else:
            loc, union, tag = _split_loc(full, models)
        raw.append((err, loc, union, tag))
    # a union (e.g. manufacturing: spec | name): keep the branch that got furthest; wrong-type branches go
    branches: dict[tuple[Any, ...], dict[str, bool]] = {}
    for err, loc, union, tag in raw:
        if union is not None:
            deep = not (err["type"] in _TYPE_KINDS and len(loc) == len(union))
            branches.setdefault(union, {})[tag] = branches.get(union, {}).get(tag, False) or deep
    out: list[InputError] = []
    merged: set[tuple[Any, ...]] = set()
    inner = {loc[:i] for _, loc, _, _ in raw for i in range(len(loc))}  # locations with an error below them
    for err, loc, union, tag in raw:
        kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
        if kind == "too_short" and loc in inner:
            continue  # pydantic counts the items left after the failed ones: that item's error says it all
        if union is not None:
            deep_tags = [t for t, deep in branches[union].items() if deep]
            if deep_tags and tag not in deep_tags:
                continue
            if not deep_tags:
                if union in merged:
                    continue
                merged.add(union)
                kinds = sorted({_translate(e["type"], e.get("ctx") or {}, e["msg"])
                                for e, _, u, _ in raw if u == union})
                out.append(InputError(field_path(union), value, " or ".join(kinds)))
                continue
        problem = ctx.get("error")
        if kind == "value_error" and isinstance(problem, FieldProblem):
            for p in problem.problems:
                out.append(InputError(field_path((*loc, *p.field.split("."))) if p.field else field_path(loc),
                                      p.value, p.allowed))
            continue
        if kind == "extra_forbidden" and loc:
            fields = _fields_at(loc[:-1], root) or []
            hint = did_you_mean(loc[-1], fields)
            owner = field_path(loc[:-1]) if loc[:-1] else "the scenario"
            allowed = (f"a field name of {owner}{hint}" if hint or not fields else
                       f"a field name of {owner}: {', '.join(fields)}")
            out.append(InputError(field_path(loc), value, allowed))
            continue
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            key = str(ctx.get("discriminator", "kind")).strip("'\"")
            out.append(InputError(field_path((*loc, key)), ctx.get("tag", _MISSING),
                                  f"one of {ctx.get('expected_tags', '')}"))
            continue
        if kind == "missing":
            out.append(InputError(field_path(loc), _MISSING, "a value (the field is required)"))
            continue
        out.append(InputError(field_path(loc), value, _translate(kind, ctx, err["msg"])))
    return out


def validation_to_input_error(exc: ValidationError, where: str, root: Any = None) -> InputError:
    """All pydantic errors as one InputError (``InputErrors``: one line each); ``root``: the validated model."""
    problems = validation_problems(exc, root)
    return InputErrors(problems, where) if problems else InputError("(top level)", "?", str(exc), where)


def scenario_from_dict(data: Any, where: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise InputError("(document)", type(data).__name__, "a mapping of scenario fields", where)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, where) from None


#: mappings keyed by names (registry parameters, covariates) rather than fields: the rest of a path is one name
NAME_MAPS = {"parameters", "product.parameters", "population.covariates", "population.omega2"}


def apply_changes(data: dict[str, Any], changes: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` (a scenario as plain dicts and lists) with each dotted path of ``changes`` set (copied, not
    changed in place); missing groups are created, list positions are numbers."""
    import copy

    from pydantic import BaseModel

    out = copy.deepcopy(data)
    for path, value in changes.items():
        parts = str(path).split(".")
        if not path or any(p == "" for p in parts):
            raise InputError("path", path, "a dotted field path like 'regimen.dose_level'", where)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="python", exclude_unset=True)
        cur: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(cur, (list, tuple)):
                if not part.isdigit() or int(part) >= len(cur):
                    raise InputError(".".join(parts[: i + 1]), part, f"a list position 0..{len(cur) - 1}", where)
                k: Any = int(part)
            elif isinstance(cur, dict):
                k = part
                if ".".join(parts[:i]) in NAME_MAPS:  # a name may hold dots itself (antigen_fraction_CLDN18.2)
                    k, last = ".".join(parts[i:]), True
            else:
                raise InputError(".".join(parts[:i]), cur, "a group of fields to set "
                                 f"{'.'.join(parts[i:])!r} in (this is a value)", where)
            if last:
                cur[k] = value
                break
            nxt = cur[k] if (isinstance(cur, dict) and k in cur) or isinstance(cur, list) else None
            if nxt is None:
                nxt = {}
            elif isinstance(nxt, tuple):
                nxt = list(nxt)
            elif isinstance(nxt, BaseModel):
                nxt = nxt.model_dump(mode="python", exclude_unset=True)
            cur[k] = nxt
            cur = nxt
    return out


def read_yaml(path: Path) -> Any:
    """A YAML input file through the strict reader (nksim.yaml_load): InputError naming the file otherwise."""
    text = read_text(path, "file")
    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError("yaml", path.name, f"valid YAML ({describe_error(exc)})", str(path)) from None


def builtin_names() -> list[str]:
    folder = resources.files("nksim").joinpath(BUILTIN_DIR)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a YAML file by path."""
    text = str(name_or_path)
    if text in builtin_names():
        ref = resources.files("nksim").joinpath(f"{BUILTIN_DIR}/{text}.yaml")
        with resources.as_file(ref) as path:
            return scenario_from_dict(read_yaml(path), where=text)
    path = Path(text)
    if not path.exists():
        raise InputError("scenario", text, f"a built-in name ({', '.join(builtin_names())}) or an existing YAML file")
    return with_calibration(scenario_from_dict(read_yaml(path), where=str(path)), path.parent)


def with_calibration(scenario: Scenario, base: Path | None = None) -> Scenario:
    """The scenario with the values of its ``calibration`` file applied (path relative to ``base``)."""
    if scenario.calibration is None:
        return scenario
    from nksim.spec.calibration import load_calibration

    cal_path = Path(scenario.calibration)
    if not cal_path.is_absolute() and base is not None:
        cal_path = base / cal_path
    try:
        found = cal_path.is_file()
    except OSError:  # a name the file system refuses (too long, ...)
        found = False
    if not found:
        raise InputError("calibration", scenario.calibration, "an existing calibration file (relative to the scenario)")
    return load_calibration(cal_path).apply(scenario, where=cal_path.name)


def dump_scenario(scenario: Scenario) -> str:
    """YAML of the scenario with every default filled in (the resolved scenario of a run)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
