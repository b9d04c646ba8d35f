"""The 24-value Raman vector as an 8 x L array: one channel per peak, its Lorentzian profile.

Channel k holds peak k's Lorentzian ``h / s_k · 1 / (1 + ((x - c) / (w / 2))²)`` sampled on
``x = c0_k + offsets``: the same ``L`` offsets (cm-1) around each peak's reference centre
``c0_k`` (its mean centre in the fitting set). Sampling each peak on its own window instead of
one shared 183–410 cm-1 axis keeps a resolution of ``2 · half_window / (L - 1)`` cm-1, so
shifts of a fraction of a wavenumber stay visible; ``s_k`` (the mean height of peak k) brings
every channel to order one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmdlearn.errors import InputError


@dataclass
class PeakRenderer:
    """Renders (N, 3K) vectors ``[c_1, w_1, h_1, c_2, ...]`` (cm-1, cm-1, counts) to (N, K, L).

    ``length``: samples per channel; ``half_window``: cm-1 either side of the reference centre.
    Call :meth:`fit` on the training vectors first.
    """

    length: int = 64
    half_window: float = 16.0
    centers: np.ndarray | None = None
    scales: np.ndarray | None = None

    @property
    def offsets(self) -> np.ndarray:
        """The common sampling offsets (L,) in cm-1."""
        return np.linspace(-self.half_window, self.half_window, self.length)

    def fit(self, vectors) -> PeakRenderer:
        """Reference centres (mean centre) and scales (mean |height|) of each peak.

        Parameters
        ----------
        vectors : (N, 3K) array
            Training vectors ``[c_1, w_1, h_1, ...]`` (cm-1, cm-1, counts).

        Returns
        -------
        PeakRenderer
            ``self``, fitted.
        """
        parts = _split(vectors)
        self.centers = np.nanmean(parts[:, :, 0], axis=0)
        scales = np.nanmean(np.abs(parts[:, :, 2]), axis=0)
        self.scales = np.where(scales > 0, scales, 1.0)
        return self

    def transform(self, vectors) -> np.ndarray:
        """Profiles (N, K, L), float32.

        Parameters
        ----------
        vectors : (N, 3K) array
            Vectors ``[c_1, w_1, h_1, ...]`` (cm-1, cm-1, counts), K as in :meth:`fit`.

        Returns
        -------
        (N, K, L) float32 array
            Each peak's Lorentzian on its window, heights divided by the peak's scale.
        """
        if self.centers is None:
            raise InputError("the renderer is not fitted: call fit() on training vectors first")
        parts = _split(vectors)
        if parts.shape[1] != self.centers.size:
            raise InputError(f"vectors hold {parts.shape[1]} peaks, the renderer "
                             f"{self.centers.size}")
        center, fwhm, height = (parts[:, :, i, None] for i in range(3))
        x = self.centers[None, :, None] + self.offsets[None, None, :]
        half = np.maximum(np.abs(fwhm) / 2.0, 1e-6)
        profile = height / self.scales[None, :, None] / (1.0 + ((x - center) / half) ** 2)
        return profile.astype(np.float32)

    def state(self) -> dict:
        """Plain values to store with a model (see :meth:`from_state`).

        Returns
        -------
        dict
            length, half_window (cm-1), centers (cm-1) and scales (counts) as lists.
        """
        return {"length": self.length, "half_window": self.half_window,
                "centers": np.asarray(self.centers).tolist(),
                "scales": np.asarray(self.scales).tolist()}

    @classmethod
    def from_state(cls, state: dict) -> PeakRenderer:
        """The renderer stored by :meth:`state`.

        Parameters
        ----------
        state : dict
            The values of :meth:`state`.

        Returns
        -------
        PeakRenderer
            A fitted renderer.
        """
        return cls(length=int(state["length"]), half_window=float(state["half_window"]),
                   centers=np.asarray(state["centers"], dtype=float),
                   scales=np.asarray(state["scales"], dtype=float))


def _split(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=float)
    if vectors.ndim != 2 or vectors.shape[1] % 3:
        raise InputError(f"peak vectors must be (N, 3K) (centre, FWHM, height per peak), got "
                         f"shape {vectors.shape}")
    return vectors.reshape(len(vectors), -1, 3)
