"""Design registry: build any design by its CLI name with the settings it understands."""

from __future__ import annotations

import dataclasses
from typing import Any

from nksim.errors import InputError
from nksim.trial.base import Design
from nksim.trial.boin import BOIN
from nksim.trial.boin12 import BOIN12
from nksim.trial.crm import CRM
from nksim.trial.i3plus3 import I3Plus3
from nksim.trial.keyboard import MTPI2, Keyboard
from nksim.trial.mtpi import MTPI
from nksim.trial.three_plus_three import ThreePlusThree
from nksim.trial.tite_boin import TITEBOIN

DESIGNS: dict[str, type[Design]] = {
    "3+3": ThreePlusThree,
    "boin": BOIN,
    "crm": CRM,
    "keyboard": Keyboard,
    "mtpi2": MTPI2,
    "mtpi": MTPI,
    "i3+3": I3Plus3,
    "tite-boin": TITEBOIN,
    "boin12": BOIN12,
}


def make_design(name: str, **settings: Any) -> Design:
    """Design ``name`` with the given settings; settings the design does not have are ignored when None."""
    key = name.strip().lower()
    if key not in DESIGNS:
        raise InputError("design", name, "one of " + ", ".join(DESIGNS))
    cls = DESIGNS[key]
    fields = {f.name for f in dataclasses.fields(cls)}
    kw = {}
    for k, v in settings.items():
        if v is None:
            continue
        if k not in fields:
            raise InputError(k, v, f"a setting of the {key} design ({', '.join(sorted(fields))})")
        kw[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kw)
