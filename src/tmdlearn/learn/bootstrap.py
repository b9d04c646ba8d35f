"""Percentile bootstrap confidence intervals of any metric, optionally resampling whole groups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from tmdlearn.errors import InputError


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval at ``level`` (e.g. 0.95)."""

    estimate: float
    low: float
    high: float
    level: float

    def as_dict(self) -> dict[str, float]:
        """The fields as a dict (estimate, low, high, level).

        Returns
        -------
        dict of str to float
        """
        return asdict(self)


def bootstrap_ci(metric: Callable[..., float], *arrays, n_boot: int = 1000,
                 level: float = 0.95, groups=None, seed: int | np.random.Generator = 0
                 ) -> Interval:
    """Percentile bootstrap interval of ``metric(*arrays)``.

    Parameters
    ----------
    metric : callable
        ``metric(*resampled_arrays) -> float``, e.g. ``sklearn.metrics.accuracy_score``.
    *arrays : arrays with the same first length N
        Resampled together by row (e.g. ``y_true, y_pred``).
    n_boot : int
        Number of bootstrap resamples.
    level : float
        Coverage of the interval (0.95: the 2.5 and 97.5 percentiles).
    groups : array (N,), optional
        Resample whole groups (cluster bootstrap, e.g. by sample id) instead of rows, which
        respects the correlation of items from one sample.
    seed : int or numpy Generator
        Same seed, same interval.

    Returns
    -------
    Interval
        ``metric`` on the full arrays with the ``level`` percentile interval of the resamples
        (NaN resamples ignored).
    """
    if not arrays:
        raise InputError("bootstrap_ci needs at least one array")
    arrays = tuple(np.asarray(a) for a in arrays)
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise InputError("arrays must be non-empty and of equal length")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    estimate = float(metric(*arrays))
    members = None
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise InputError("groups must have the length of the arrays")
        _, inverse = np.unique(groups, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        members = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
    values = np.empty(n_boot)
    for b in range(n_boot):
        if members is None:
            index = rng.integers(0, n, n)
        else:
            picked = rng.integers(0, len(members), len(members))
            index = np.concatenate([members[i] for i in picked])
        values[b] = metric(*(a[index] for a in arrays))
    alpha = (1.0 - level) / 2.0
    low, high = np.nanquantile(values, [alpha, 1.0 - alpha])
    return Interval(estimate, float(low), float(high), level)
