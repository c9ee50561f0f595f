"""Calibration targets and their status; free parameters and priors (``space``); ABC-SMC to published summaries
(``abc``: ``to_targets``), virtual populations (``vpop``: ``select_vpop``) and target cross-validation
(``crossval``)."""

_LAZY = {"to_targets": "abc", "abc_smc": "abc", "select_vpop": "vpop", "cross_validate": "crossval"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"nksim.calibrate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nksim.calibrate' has no attribute {name!r}")
