"""Statistics shared by the clinical summaries and the trial analyses: exact binomial (Clopper-Pearson) intervals."""

from __future__ import annotations

from scipy.stats import beta

from nksim.errors import InputError


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided (1 - alpha) interval for a binomial proportion k / n (Clopper & Pearson 1934, beta
    quantiles); (nan, nan) when n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise InputError("k", k, f"an integer in [0, {n}]")
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


__all__ = ["clopper_pearson"]
