"""Scenario forms generated from the pydantic schema (``nksim.spec.scenario``): a new field appears in the app
without app code.

Each field gets the widget its type asks for: a check box (bool), a choice (``Literal``), a number (int, float), a
text box (str); nested groups (``product.construct``, ``regimen.lymphodepletion``) become their own cards, and
anything else (lists, mappings, optional groups not set) is edited as one line of YAML, read by the project's
strict loader. The form does not validate: it collects ``{dotted path: value}`` changes for ``Scenario.replace``,
which validates them as a file is validated.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Callable, Literal, Union, get_args, get_origin

import panel as pn
import yaml
from pydantic import BaseModel

from nksim.errors import InputError
from nksim.yaml_load import describe_error, safe_load

#: top-level fields the app never offers: a calibration file is a server path
HIDDEN = {"calibration"}
#: top-level groups shown as their own tab, in this order; the remaining fields go to "study" and "more"
SECTIONS = ("product", "regimen", "tumor", "population", "simulation", "readouts")


def unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without ``Annotated`` and ``None``, whether None is allowed)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return unwrap(rest[0])[0], len(rest) < len(args)
        return annotation, len(rest) < len(args)
    return annotation, False


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


class _Dumper(yaml.SafeDumper):
    """Numbers as people write them: 0, 7, 14 for whole days, 1e6 / 3e6 for cell doses."""


def _float(dumper: yaml.SafeDumper, v: float) -> yaml.Node:
    if v != v or v in (float("inf"), float("-inf")):
        return dumper.represent_float(v)
    if v == int(v) and abs(v) < 1e4:
        return dumper.represent_int(int(v))
    text = f"{v:.6g}" if abs(v) >= 1e4 else repr(v)
    if "e" not in text:
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)
    # 1e6, 2.5e7: written plain (YAML 1.1 would call them strings; nksim's reader, yaml_load, reads them as numbers)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text.replace("e+0", "e").replace("e+", "e"))


_Dumper.add_representer(float, _float)


def plain(value: Any) -> Any:
    """Models, tuples and mappings of them as plain dicts and lists (a model's defaults left out)."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="python", exclude_defaults=True))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def flow_yaml(value: Any) -> str:
    """A value as one line of YAML (``[0, 7, 14]``, ``[{value: 1e6}, ...]``, ``{k_car: 0.5}``, ``null``)."""
    text = yaml.dump(plain(value), Dumper=_Dumper, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def css_name(path: str) -> str:
    """The CSS class of a field's widget (``nk-field-regimen-dose_level``), for tests and styling."""
    return "nk-field-" + path.replace(".", "-")


class ScenarioForm:
    """Widgets for every field of a scenario; ``changes`` holds what the user changed (dotted path -> value),
    ``errors`` the fields whose text could not be read (path -> InputError). ``on_change()`` is called after each
    edit."""

    def __init__(self, scenario: BaseModel, on_change: Callable[[], None]) -> None:
        self.scenario = scenario
        self.on_change = on_change
        self.changes: dict[str, Any] = {}
        self.errors: dict[str, InputError] = {}
        self.widgets: dict[str, pn.widgets.Widget] = {}
        self.kinds: dict[str, str] = {}  # path -> "plain" (the widget's value) or "yaml" (one line of YAML text)

    # ---- building -------------------------------------------------------------------------------------------
    def sections(self) -> list[tuple[str, pn.layout.Panel]]:
        """(tab title, panel) per top-level group, plus "study" (name, description) and "more" (the rest)."""
        sc = self.scenario
        fields = type(sc).model_fields
        out = []
        study = [k for k, f in fields.items() if k not in SECTIONS and k not in HIDDEN
                 and not is_model(unwrap(f.annotation)[0]) and unwrap(f.annotation)[0] in (str, int, float, bool)]
        out.append(("study", pn.Column(*[self.widget(k, fields[k], getattr(sc, k)) for k in study],
                                       sizing_mode="stretch_width")))
        for k in SECTIONS:
            if k in fields:
                out.append((k, self.group(k, getattr(sc, k), fields[k])))
        more = [k for k in fields if k not in SECTIONS and k not in HIDDEN and k not in study]
        out.append(("more", pn.Column(*[self.widget(k, fields[k], getattr(sc, k)) for k in more],
                                      sizing_mode="stretch_width")))
        return out

    def group(self, path: str, model: BaseModel, info: Any = None) -> pn.layout.Panel:
        """A nested model: its simple fields in a grid, its sub-models as collapsed cards."""
        simple, nested = [], []
        for name, f in type(model).model_fields.items():
            value = getattr(model, name)
            tp, _ = unwrap(f.annotation)
            sub = f"{path}.{name}"
            if is_model(tp) and value is not None:
                nested.append(pn.Card(self.group(sub, value, f), title=name, collapsed=True,
                                      sizing_mode="stretch_width", css_classes=[css_name(sub)]))
            else:
                simple.append(self.widget(sub, f, value))
        grid = pn.GridBox(*simple, ncols=3, sizing_mode="stretch_width")
        return pn.Column(grid, *nested, sizing_mode="stretch_width")

    def widget(self, path: str, field: Any, value: Any) -> pn.widgets.Widget:
        tp, optional = unwrap(field.annotation)
        doc = field.description or ""
        kw: dict[str, Any] = {"label": path.rsplit(".", 1)[-1], "css_classes": [css_name(path)],
                              "sizing_mode": "stretch_width"}
        if doc:
            kw["description"] = doc
        kind = "yaml"
        if tp is bool and not optional:
            kw.pop("description", None)  # a check box has no tooltip
            w, kind = pn.widgets.Checkbox(value=bool(value), **kw), "plain"
        elif get_origin(tp) is Literal and not optional:
            w, kind = pn.widgets.Select(options=list(get_args(tp)), value=value, **kw), "plain"
        elif tp is int and not optional and isinstance(value, int):
            w, kind = pn.widgets.IntInput(value=value, **kw), "plain"
        elif tp is float and not optional and isinstance(value, (int, float)):
            w, kind = pn.widgets.FloatInput(value=float(value), **kw), "plain"
        elif tp is str and isinstance(value, str):
            w = pn.widgets.TextAreaInput(value=value, rows=2, **kw) if "\n" in value or len(value) > 60 else \
                pn.widgets.TextInput(value=value, **kw)
            kind = "plain"
        else:
            kw["label"] += " (YAML)"
            w = pn.widgets.TextInput(value=flow_yaml(value), **kw)
        self.widgets[path], self.kinds[path] = w, kind
        w.param.watch(lambda e, p=path, k=kind: self._edited(p, k, e.new), "value")
        return w

    # ---- edits ------------------------------------------------------------------------------------------------
    def value(self, path: str) -> Any:
        """The value a widget stands for now (YAML text read as YAML)."""
        w = self.widgets[path]
        return safe_load(str(w.value)) if self.kinds[path] == "yaml" else w.value

    def _edited(self, path: str, kind: str, new: Any) -> None:
        self.errors.pop(path, None)
        if kind == "yaml":
            try:
                new = safe_load(str(new))
            except yaml.YAMLError as exc:
                self.changes.pop(path, None)
                self.errors[path] = InputError(path, str(new), f"one line of YAML ({describe_error(exc)})")
                self.on_change()
                return
        self.changes[path] = new
        self.on_change()
