"""simulate keeps the objects that exist before a run out of the cyclic garbage collector's passes, and only for the
run: nested runs and failures leave nothing frozen, and garbage made during a run is still collected."""

from __future__ import annotations

import gc
import weakref

import pytest

import nksim
from nksim.engine import collector_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_collector_pause_nests_and_always_ends():
    assert gc.get_freeze_count() == 0
    with collector_paused():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector_paused():
            assert gc.get_freeze_count() >= frozen
        assert gc.get_freeze_count() > 0  # the outer run still holds it
        garbage = _Cycle()
        ref = weakref.ref(garbage)
        del garbage
        gc.collect()
        assert ref() is None  # a cycle made during the run is collected
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError):
        with collector_paused():
            raise RuntimeError("a failing run")
    assert gc.get_freeze_count() == 0


def test_simulate_leaves_nothing_frozen():
    res = nksim.simulate("hcc-post-lt-allo-nk", n_patients=6)
    assert len(res.patients) == 6
    assert gc.get_freeze_count() == 0
    with pytest.raises(nksim.errors.InputError):
        nksim.simulate("hcc-post-lt-allo-nk", n_patients=6, chunk_size=0)
    assert gc.get_freeze_count() == 0
