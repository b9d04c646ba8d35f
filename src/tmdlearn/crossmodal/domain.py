"""The inputs a run's models were trained on, and whether a new input lies among them.

A model trained on 1 mW Raman of MoS2 returns a number for a 5 mW spectrum or a WSe2 one as
readily as for its own kind; the number is then an extrapolation. The check is the
multivariate statistical process control one of chemometrics: a PCA of the training inputs
(spectra on the run's grid, or AFM embeddings) keeps the components that explain
``EXPLAINED`` of the variance; a new input is outside the training inputs when its Hotelling
T² in those components (how unusual its mixture of the known variations is) or its residual Q
(what the known variations cannot describe) exceeds its limit. Each limit is the
``CONFIDENCE`` quantile of the training inputs' T² or Q computed by a PCA fitted without them
(``FOLDS``-fold cross-validation), or of their in-sample values where that is larger. With
fewer inputs than grid points an input's in-sample residual is far smaller than a new one's
(which the analytic limits, F and Jackson-Mudholkar, assume away), while its in-sample T² is
larger (the components partly fit each input's own noise): a training file passes, and so
does a new one like it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fraction of the training inputs' variance the kept components explain.
EXPLAINED = 0.95
#: Most components kept (the rest is residual).
MAX_COMPONENTS = 10
#: Quantile of the cross-validated training T² and Q taken as their limits.
CONFIDENCE = 0.99
#: Folds of that cross-validation.
FOLDS = 10
#: An input at most this many times over a limit is "at the edge of" the training inputs.
EDGE = 1.5


@dataclass
class Domain:
    """The training inputs' PCA (mean (D,), components (k, D), variances (k,)), the limits of
    T² (dimensionless) and Q (the inputs' unit squared), and for AFM inputs the training
    maps' median pixel size (nm; NaN otherwise)."""

    mean: np.ndarray
    components: np.ndarray
    variance: np.ndarray
    t2_limit: float
    q_limit: float
    pixel_size_nm: float = float("nan")

    def state(self) -> dict:
        """A plain tree for the model store."""
        return {"mean": self.mean, "components": self.components, "variance": self.variance,
                "t2_limit": self.t2_limit, "q_limit": self.q_limit,
                "pixel_size_nm": self.pixel_size_nm}

    def scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T² and Q of each input row of ``x`` (m, D).

        Parameters
        ----------
        x : (m, D) array
            Inputs on the training grid.

        Returns
        -------
        t2, q : (m,) arrays
        """
        centred = np.atleast_2d(np.asarray(x, float)) - self.mean
        t = centred @ self.components.T
        residual = centred - t @ self.components
        return (t ** 2 / self.variance).sum(axis=1), (residual ** 2).sum(axis=1)

    def outside(self, x: np.ndarray) -> list[str]:
        """:meth:`describe` of the rows of ``x`` (m, D), inputs on the training grid."""
        return self.describe(*self.scores(x))

    def describe(self, t2: np.ndarray, q: np.ndarray) -> list[str]:
        """For each input's T² and Q (:meth:`scores`): '' inside the training inputs, else
        why it is outside ("at the edge of" below ``EDGE`` × the limits: 1 % of inputs like
        the training ones get there, "unlike" beyond).

        Parameters
        ----------
        t2, q : (m,) arrays
            The inputs' scores.

        Returns
        -------
        list of str
        """
        out = []
        for t2_one, q_one in zip(t2, q, strict=True):
            over = [(name, value, limit) for name, value, limit in
                    (("T²", t2_one, self.t2_limit), ("residual Q", q_one, self.q_limit))
                    if value > limit]
            parts = "; ".join(f"{name} {value:.3g} over its limit {limit:.3g}"
                              for name, value, limit in over)
            if not over:
                out.append("")
            elif max(value / limit for _, value, limit in over) < EDGE:
                out.append(f"at the edge of the training inputs ({parts}): its predictions "
                           "may be extrapolations")
            else:
                out.append(f"unlike the training inputs ({parts}): its predictions are "
                           "extrapolations")
        return out


def domain_from_state(state: dict) -> Domain:
    """The Domain of :meth:`Domain.state`."""
    return Domain(*(np.asarray(state[k], float) for k in ("mean", "components", "variance")),
                  float(state["t2_limit"]), float(state["q_limit"]),
                  float(state.get("pixel_size_nm", float("nan"))))


def fit_domain(x: np.ndarray) -> Domain | None:
    """The Domain of the training inputs ``x`` (n, D); rows with NaN are left out. None with
    fewer than 5 rows.

    Parameters
    ----------
    x : (n, D) array
        Training inputs.

    Returns
    -------
    Domain or None
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) < 5:
        return None
    domain = _pca(x)
    k = len(domain.variance)
    folds = np.arange(len(x)) % min(FOLDS, len(x))
    held = [_pca(x[folds != f], k).scores(x[folds == f]) for f in np.unique(folds)]
    t2, q = (np.concatenate(v) for v in zip(*held, strict=True))
    own_t2, own_q = domain.scores(x)
    domain.t2_limit = float(max(np.quantile(t2, CONFIDENCE), np.quantile(own_t2, CONFIDENCE)))
    domain.q_limit = float(max(np.quantile(q, CONFIDENCE), np.quantile(own_q, CONFIDENCE)))
    return domain


def _pca(x: np.ndarray, k: int | None = None) -> Domain:
    """The k-component PCA of ``x`` as a Domain without limits; ``k`` None: the components
    that explain ``EXPLAINED`` of its variance (at most ``MAX_COMPONENTS`` and the rows less
    two)."""
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    if k is None:
        share = np.cumsum(s ** 2) / np.sum(s ** 2) if np.any(s > 0) else np.ones_like(s)
        k = int(max(1, min(np.searchsorted(share, EXPLAINED) + 1, MAX_COMPONENTS, len(x) - 2)))
    variance = np.maximum(s[:k] ** 2 / max(len(x) - 1, 1), 1e-30)
    return Domain(mean, vt[:k], variance, np.inf, np.inf)
