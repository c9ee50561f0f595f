"""Isotonic regression (PAVA): the array API and the simulators' list fast path give pinned, identical fits."""

import numpy as np

from nksim.trial.isotonic import _pava_list, isotonic_estimates, pava, select_mtd_boin, select_mtd_from_counts

X = [0.31, 0.12, 0.45, 0.44, 0.2, 0.6, 0.55]
W = [3.0, 7.5, 1.25, 9.0, 2.0, 4.0, 6.5]
WEIGHTED = ["0x1.64efe898231bcp-3", "0x1.64efe898231bcp-3", "0x1.9b7b16c75dd50p-2", "0x1.9b7b16c75dd50p-2",
            "0x1.9b7b16c75dd50p-2", "0x1.235a35a35a35ap-1", "0x1.235a35a35a35ap-1"]


def _hex(a) -> list[str]:
    return [float(v).hex() for v in a]


def test_pava_array_api_is_pinned():
    assert _hex(pava(X, W)) == WEIGHTED
    assert _hex(pava(X)) == ["0x1.b851eb851eb85p-3", "0x1.b851eb851eb85p-3", "0x1.740da740da741p-2",
                             "0x1.740da740da741p-2", "0x1.740da740da741p-2", "0x1.2666666666666p-1",
                             "0x1.2666666666666p-1"]
    assert isinstance(pava(X, W), np.ndarray) and pava([0.4]).tolist() == [0.4]


def test_pava_list_fast_path_is_pinned():
    assert _hex(_pava_list(list(X), list(W))) == WEIGHTED


def test_both_call_sites_select_the_same_mtd():
    n, y = [3, 6, 9, 6, 3], [0, 1, 3, 2, 2]
    assert select_mtd_from_counts(0.3, n, y, 5) == select_mtd_boin(0.3, n, y) == 3
    est = isotonic_estimates(0.3, n, y)
    assert _hex(est["isotonic_dlt_rate"]) == ["0x1.0842108421084p-6", "0x1.60864b8a7de6ep-3", "0x1.5735735735735p-2",
                                              "0x1.582192e29f79bp-2", "0x1.5294a5294a529p-1"]
    assert _hex(est["prob_overdose"]) == ["0x1.a8ca07586ed1cp-7", "0x1.69d4697841ae8p-3", "0x1.17bdd67a50d4ep-1",
                                          "0x1.17bdd67a50d4ep-1", "0x1.d1ca443ae1a26p-1"]


def test_pava_rejects_missing_values():
    import pytest

    with pytest.raises(ValueError):
        pava([0.2, float("nan")])


def test_array_api_and_list_fast_path_agree_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(2, 16))
        x, w = rng.random(n), rng.random(n) * 10 + 0.1
        fit = pava(x, w)
        assert np.array_equal(fit, _pava_list(x.tolist(), w.tolist()))
        assert np.all(np.diff(fit) >= 0)
        assert np.array_equal(pava(x), _pava_list(x.tolist(), [1.0] * n))
