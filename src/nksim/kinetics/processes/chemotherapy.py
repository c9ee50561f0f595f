"""Process 9, lymphodepletion and concomitant treatment: their timing and the effects other processes read.

Lymphodepletion on day ``t_ld`` at intensity ``ld_int``: its event (host alloreactivity drop, tumor log-kill) and the
decaying chemotherapy exposure e^{-(t - t_LD)/``tau_chemo``} that kills leukocytes and normal antigen-bearing cells.
Concomitant treatment slows tumor growth by ``conv_inhib`` between ``conv_start`` and ``conv_end`` and may log-kill
on given days. Switches are read against the start of the current between-event segment, so a segment never sees an
event that happens at its own end.
"""

from __future__ import annotations

from nksim.kinetics.processes.base import Event, Model, Param
from nksim.kinetics.symbolic import exp, where

LD_HORIZON = 30.0  # time constants after which exp(-age/tau) < 1e-13 is treated as 0

PARAMS = [
    Param("t_ld", "d", "day of lymphodepletion (inf: none)", derived="regimen.lymphodepletion.day"),
    Param("ld_int", "1", "lymphodepletion intensity", derived="regimen.lymphodepletion.intensity"),
    Param("tau_chemo", "d", "decay time of chemotherapy exposure", registry="tau_chemo"),
    Param("conv_inhib", "fraction", "growth slowdown by concomitant treatment", derived="regimen.concomitant"),
    Param("conv_start", "d", "start of the concomitant window", derived="regimen.concomitant"),
    Param("conv_end", "d", "end of the concomitant window", derived="regimen.concomitant"),
]
EVENTS = [
    Event("lymphodepletion", 2, a="intensity", b="log10 kill of tumor"),
    Event("log_kill", 6, a="log10 kill of tumor"),
    Event("boundary", 7, a="(none: a discontinuity of a piecewise-constant input)"),
]


def quantities(m: Model) -> None:
    m.define("ld_age", lambda m: m.t - m.p("t_ld"))
    m.define("ld_on", lambda m: m.t_seg >= m.p("t_ld"))
    m.define("chemo_on", lambda m: m.q.ld_on & (m.q.ld_age < LD_HORIZON * m.p("tau_chemo")))
    m.define("chemo_f", lambda m: where(m.q.chemo_on, exp(-m.q.ld_age / m.p("tau_chemo")), 0.0, lazy=True))
    m.define("conv", lambda m: where((m.t_seg >= m.p("conv_start")) & (m.t_seg < m.p("conv_end")),
                                     1.0 - m.p("conv_inhib"), 1.0))
