"""Plots a clinician and a modeler read, for nksim results and for your own data (plain DataFrames / arrays).

    from nksim import plots
    plots.spider(df, id="subject", time="day", value="pct_change", response="bor")
    plots.waterfall(best_pct_change, best_response)
    plots.swimmer(df, id="subject", time="last_day", progression="pd_day", death="death_day")
    plots.kaplan_meier(durations, events, groups=arm)            # with number-at-risk table and 95% bands
    plots.pk(df, id="subject", time="day", value="cells_per_ul", lloq=0.5, blq="half")
    res.plot("spider")                                           # the same on a simulation result

Every function returns a matplotlib Figure (Agg backend); large cohorts are drawn as single collections or a
stated sample, so they stay fast and legible.
"""

from nksim.plots._common import RESPONSE_COLORS, RESPONSE_ORDER, sci
from nksim.plots.pk import pk, pk_matrix
from nksim.plots.response import spider, spider_matrix, swimmer, waterfall
from nksim.plots.result import KINDS, plot_result
from nksim.plots.survival import kaplan_meier, kaplan_meier_table

__all__ = ["KINDS", "RESPONSE_COLORS", "RESPONSE_ORDER", "kaplan_meier", "kaplan_meier_table", "pk", "pk_matrix",
           "plot_result", "sci", "spider", "spider_matrix", "swimmer", "waterfall"]
