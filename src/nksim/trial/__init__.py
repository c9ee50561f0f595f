"""nksim.trial: virtual phase I trials, dose-escalation designs and the dose-decision advisor.

Public API::

    from nksim.trial import BOIN, FixedProbabilityModel, operating_characteristics, recommend, TrialData
    oc = operating_characteristics(BOIN(target=0.3), [0.05, 0.15, 0.3, 0.45, 0.6], n_trials=10_000, seed=1)
    rec = recommend(BOIN(n_doses=5), TrialData(dose_level, dlt))     # next dose for a real trial

Designs share one interface (:class:`Design`: ``decide`` on a batch of trials, ``select``, ``boundary_table``);
simulators take any :class:`PatientOutcomeModel` (fixed probabilities here; mechanistic virtual patients later).
"""

from nksim.trial.advisor import TrialData as TrialData
from nksim.trial.advisor import read_trial_data as read_trial_data
from nksim.trial.advisor import recommend as recommend
from nksim.trial.base import CohortState as CohortState
from nksim.trial.base import Design as Design
from nksim.trial.base import TrialResults as TrialResults
from nksim.trial.base import run_trials as run_trials
from nksim.trial.boin import BOIN as BOIN
from nksim.trial.boin12 import BOIN12 as BOIN12
from nksim.trial.crm import CRM as CRM
from nksim.trial.crm import getprior as getprior
from nksim.trial.designs import DESIGNS as DESIGNS
from nksim.trial.designs import make_design as make_design
from nksim.trial.i3plus3 import I3Plus3 as I3Plus3
from nksim.trial.keyboard import MTPI2 as MTPI2
from nksim.trial.keyboard import Keyboard as Keyboard
from nksim.trial.mtpi import MTPI as MTPI
from nksim.trial.multiarm import analyze_arms as analyze_arms
from nksim.trial.multiarm import simulate_randomized as simulate_randomized
from nksim.trial.outcomes import CallableOutcomeModel as CallableOutcomeModel
from nksim.trial.outcomes import FixedProbabilityModel as FixedProbabilityModel
from nksim.trial.outcomes import PatientOutcomeModel as PatientOutcomeModel
from nksim.trial.outcomes import TrialOutcomes as TrialOutcomes
from nksim.trial.simulate import OperatingCharacteristics as OperatingCharacteristics
from nksim.trial.simulate import compare as compare
from nksim.trial.simulate import exact_oc as exact_oc
from nksim.trial.simulate import operating_characteristics as operating_characteristics
from nksim.trial.three_plus_three import ThreePlusThree as ThreePlusThree
from nksim.trial.tite_boin import TITEBOIN as TITEBOIN

__all__ = [
    "BOIN", "BOIN12", "CRM", "CallableOutcomeModel", "DESIGNS", "CohortState", "Design", "FixedProbabilityModel", "I3Plus3", "Keyboard",
    "MTPI", "MTPI2", "OperatingCharacteristics", "PatientOutcomeModel", "TITEBOIN", "ThreePlusThree",
    "TrialData", "TrialOutcomes", "TrialResults", "analyze_arms", "compare", "exact_oc", "getprior",
    "make_design", "operating_characteristics", "read_trial_data", "recommend", "run_trials",
    "simulate_randomized",
]
