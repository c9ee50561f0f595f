"""Small random helpers: fractions with a mean and SD (beta), log-normal quantities with a median and omega^2."""

from __future__ import annotations

import numpy as np


def beta_mean_sd(rng: np.random.Generator, mean: float, sd: float) -> float:
    """A fraction with the given mean and SD (beta distribution); exact mean at 0 or 1 or when sd = 0.

    The SD is reduced where a beta with that mean cannot have it (var < mean (1 - mean)). One uniform draw is
    always consumed, so the stream position does not depend on the values.
    """
    u = rng.random()
    if mean <= 0.0 or mean >= 1.0 or sd <= 0.0:
        return float(min(max(mean, 0.0), 1.0))
    var = min(sd * sd, 0.9 * mean * (1.0 - mean))
    k = mean * (1.0 - mean) / var - 1.0
    from scipy.special import betaincinv

    return float(betaincinv(mean * k, (1.0 - mean) * k, u))


def lognormal_median(rng: np.random.Generator, median: float, omega2: float | None) -> float:
    """A log-normal value with the given median and log-variance omega^2 (one normal draw always consumed)."""
    z = rng.standard_normal()
    if not omega2:
        return float(median)
    return float(median * np.exp(np.sqrt(omega2) * z))
