"""Exact (Clopper-Pearson) binomial intervals: pinned values from the clinical summary and the multi-arm trial."""

import pytest

from nksim.clinical.summary import clopper_pearson as clinical_cp
from nksim.trial.multiarm import clopper_pearson as multiarm_cp

# (k, n): clinical (alpha 0.05), multi-arm (level 0.95), clinical (alpha 0.1), multi-arm (level 0.9); the multi-arm
# quantiles are taken at (1 - level) / 2, a few ulps away from alpha / 2
PINNED = {
    (5, 10): (("0x1.7f26f5adc2c51p-3", "0x1.a03642948f4ecp-1"), ("0x1.7f26f5adc2c51p-3", "0x1.a03642948f4ecp-1"),
              ("0x1.c78f3330eddf3p-3", "0x1.8e1c3333c4883p-1"), ("0x1.c78f3330eddf2p-3", "0x1.8e1c3333c4883p-1")),
    (0, 10): (("0x0.0p+0", "0x1.3be6aa73f7f9ap-2"), ("0x0.0p+0", "0x1.3be6aa73f7f9ap-2"),
              ("0x0.0p+0", "0x1.09140d0c96340p-2"), ("0x0.0p+0", "0x1.09140d0c96340p-2")),
    (10, 10): (("0x1.620caac604032p-1", "0x1.0000000000000p+0"), ("0x1.620caac604032p-1", "0x1.0000000000000p+0"),
               ("0x1.7b75f979b4e5fp-1", "0x1.0000000000000p+0"), ("0x1.7b75f979b4e5fp-1", "0x1.0000000000000p+0")),
    (8, 11): (("0x1.8f9fa57ea0e3dp-2", "0x1.e12b24222d214p-1"), ("0x1.8f9fa57ea0e3ep-2", "0x1.e12b24222d214p-1"),
              ("0x1.be14b15a5d66dp-2", "0x1.d7a4e62330bb5p-1"), ("0x1.be14b15a5d66dp-2", "0x1.d7a4e62330bb5p-1")),
    (1, 37): (("0x1.66a1170b4a601p-11", "0x1.2200cdc54c5c1p-3"), ("0x1.66a1170b4a607p-11", "0x1.2200cdc54c5c1p-3"),
              ("0x1.6b28ea08de6c5p-10", "0x1.f3528cef0d59bp-4"), ("0x1.6b28ea08de6c3p-10", "0x1.f3528cef0d59bp-4")),
}


def _hex(pair) -> tuple[str, str]:
    return tuple(float(v).hex() for v in pair)


@pytest.mark.parametrize("k, n", list(PINNED))
def test_both_call_sites_are_pinned(k, n):
    clin95, arm95, clin90, arm90 = PINNED[(k, n)]
    assert _hex(clinical_cp(k, n)) == clin95
    assert _hex(multiarm_cp(k, n)) == arm95
    assert _hex(clinical_cp(k, n, 0.1)) == clin90
    assert _hex(multiarm_cp(k, n, 0.9)) == arm90


def test_one_implementation_behind_both_names():
    import nksim.clinical
    from nksim.errors import InputError
    from nksim.stats import clopper_pearson

    assert clinical_cp is clopper_pearson and nksim.clinical.clopper_pearson is clopper_pearson
    for k, n in PINNED:
        assert multiarm_cp(k, n, 0.8) == clopper_pearson(k, n, 1 - 0.8)
    assert all(v != v for v in multiarm_cp(0, 0))  # no patients: no interval (nan, nan)
    with pytest.raises(InputError):
        multiarm_cp(4, 3)
