"""Is a row's difference from the best row more than seed noise?

For each metric column, every row is compared with a reference row over its seeds: the column's
best row, or the ``--baseline`` row. Two numbers per comparison:

- Welch's t-test: the p-value of "the two settings have the same mean", not assuming equal
  variances (t = difference / its standard error, Welch-Satterthwaite degrees of freedom, the t
  distribution's tails from ``scipy.special.stdtr``; the same numbers as
  ``scipy.stats.ttest_ind(a, b, equal_var=False)``). A row is marked as *not significantly
  different* from the reference when p >= alpha (0.05 unless ``--alpha``).
- A percentile bootstrap confidence interval of the difference of means (row minus reference):
  9999 resamples of each row's seeds drawn independently, a fixed generator seed so the same store
  prints the same table (``scipy.stats.bootstrap``'s percentile method; written out here because
  importing ``scipy.stats`` costs a table command about half a second).

With one seed on either side there is nothing to test; with fewer than 3 a side the test has little
power, and the table says so under it. ``--ci LEVEL`` prints ``mean ± t-interval half-width`` (the
half-width of the LEVEL% confidence interval of the mean over seeds, t distribution) instead of
``mean ± sample std``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

__all__ = ["Comparison", "compare", "ci_half_width", "FEW_SEEDS", "RESAMPLES", "BOOTSTRAP_SEED"]

FEW_SEEDS = 3  # fewer seeds than this on a side: the comparison gets a note
RESAMPLES = 9999
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Comparison:
    against: str  # the reference row's label
    diff: float  # mean of this row minus the reference's
    p_value: float | None  # Welch's t-test; None when it is undefined (zero variance on both sides)
    ci: tuple[float, float] | None  # bootstrap interval of diff; None when it is undefined
    n: int  # seeds of this row
    n_ref: int  # seeds of the reference row
    alpha: float = 0.05
    row: str = ""  # this row's label

    @property
    def few(self) -> bool:
        return min(self.n, self.n_ref) < FEW_SEEDS

    @property
    def tie(self) -> bool:
        """Not significantly different from the reference: p >= alpha, or no variance at all and
        the same mean."""
        if self.p_value is None:
            return self.diff == 0
        return self.p_value >= self.alpha


def compare(values: Sequence[float], reference: Sequence[float], against: str, level: float = 0.95,
            alpha: float = 0.05, row: str = "") -> Comparison | None:
    """The comparison of one row's per-seed values with the reference row's; None below 2 seeds a side."""
    if len(values) < 2 or len(reference) < 2:
        return None
    import numpy as np

    a, b = np.asarray(values, dtype=float), np.asarray(reference, dtype=float)
    diff = float(a.mean() - b.mean())
    p = welch_p(a, b)
    return Comparison(against, diff, p, bootstrap_diff(a, b, level), len(a), len(b), alpha, row)


def welch_p(a, b) -> float | None:
    """Two-sided p-value of Welch's t-test; None when both samples are constant."""
    from scipy.special import stdtr

    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return None
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    p = float(2 * stdtr(df, -abs(t)))
    return p if math.isfinite(p) else None


def bootstrap_diff(a, b, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of mean(a) - mean(b), each sample resampled on its own."""
    import numpy as np

    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return None  # every resample gives the same difference: no interval to speak of
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    diffs = (a[rng.integers(0, len(a), (RESAMPLES, len(a)))].mean(axis=1)
             - b[rng.integers(0, len(b), (RESAMPLES, len(b)))].mean(axis=1))
    low, high = np.percentile(diffs, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def ci_half_width(std: float | None, n: int, level: float) -> float | None:
    """Half-width of the ``level`` confidence interval of a mean of ``n`` values (t distribution)."""
    if std is None or n < 2:
        return None
    from scipy.special import stdtrit

    return float(stdtrit(n - 1, 0.5 + level / 2) * std / math.sqrt(n))
