"""Process 13, antibody or engager: one compartment, first-order elimination, occupancy AB/(AB + ``ec50_ab``)."""

from __future__ import annotations

from nksim.kinetics.processes.base import Event, Model, Param, State
from nksim.kinetics.symbolic import where

STATES = [State("AB", "ug/mL", "antibody / engager concentration", atol=1e-9, agent="antibody")]
PARAMS = [
    Param("k_ab", "1/d", "antibody elimination (ln 2 / half-life)", derived="regimen.antibody.half_life_d"),
    Param("ec50_ab", "ug/mL", "antibody at half-maximal ADCC", registry="ec50_ab"),
]
EVENTS = [Event("antibody", 5, a="ug/mL added")]


def quantities(m: Model) -> None:
    m.define("abf", lambda m: where(m.y("AB") > 0.0, m.y("AB") / (m.y("AB") + m.p("ec50_ab")), 0.0))


def rates(m: Model) -> None:
    m.flux("AB", -m.p("k_ab") * m.y("AB"))


def on_event(m: Model, kind: str) -> None:
    if kind == "antibody":
        m.assign("AB", m.raw("AB") + m.arg_a)
