"""One browser session's state: the current scenario (shared by the pages) and the app's runs folder."""

from __future__ import annotations

from pathlib import Path

import param

from nksim.outdirs import default_out, prepare_out
from nksim.spec.scenario import Scenario

DEFAULT_SCENARIO = "hcc-gpc3-car-nk-il15"


class Session(param.Parameterized):
    """What the pages share: ``scenario`` (valid; set by the designer) and ``runs_root`` (every file the app writes
    lies below it)."""

    scenario = param.ClassSelector(class_=Scenario, doc="the current (valid) scenario")
    runs_root = param.ClassSelector(class_=Path, doc="folder the app writes into (runs/app by default)")

    def out_folder(self, *parts: object) -> Path:
        """A new or reused folder ``runs_root/<slug of parts>``: names from the browser never become paths
        unchecked (``nksim.outdirs.default_out`` keeps the slug a direct child of the root)."""
        prepare_out(self.runs_root, "--runs")
        return prepare_out(default_out(*parts, root=self.runs_root), "--runs")


def new_session(runs_root: Path, scenario: str = DEFAULT_SCENARIO) -> Session:
    from nksim.spec.io import load_scenario

    return Session(scenario=load_scenario(scenario), runs_root=Path(runs_root))
