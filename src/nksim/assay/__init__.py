"""In vitro cytotoxicity assays simulated with the kinetic model's killing law (MODEL.md "In vitro assays").

    from nksim.assay import release_assay, lytic_units, fit_kill_rate, Effector, Target
    curve = release_assay("hcc-gpc3-car-nk-il15", et_ratios=[1, 2.5, 5, 10, 20])   # % specific lysis per E:T
    lytic_units(curve, percent=20)                                                 # LU20 per 1e7 effectors
    fit_kill_rate([1, 5, 10], [12, 35, 50])                                        # k_nat (per day) with 95% CI
"""

from nksim.assay.fit import FITTABLE, KillRateFit, fit_kill_rate
from nksim.assay.lytic import et_at_lysis, lytic_units
from nksim.assay.model import Effector, Target, pathway_rates
from nksim.assay.release import release_assay

__all__ = ["Effector", "FITTABLE", "KillRateFit", "Target", "et_at_lysis", "fit_kill_rate", "lytic_units",
           "pathway_rates", "release_assay"]
