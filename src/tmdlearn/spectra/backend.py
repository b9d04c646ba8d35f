"""The array backend of the batched peak fit: the few operations where numpy and torch
differ, so that :mod:`tmdlearn.spectra.solver` is written once for both."""

from __future__ import annotations

import numpy as np


class Backend:
    """numpy, or torch on a device, at one floating-point precision.

    Parameters
    ----------
    backend : str
        "numpy" or "torch".
    device : str
        Torch device ("cpu", "cuda", "auto": CUDA when available); unused for numpy.
    dtype : str
        "float64" or "float32".
    """

    def __init__(self, backend: str, device: str, dtype: str):
        self.torch = backend == "torch"
        if self.torch:
            import torch

            from tmdlearn.learn.train import resolve_device

            self.xp = torch
            self.device = resolve_device(device)
            self.dtype = getattr(torch, dtype)
        else:
            self.xp = np
            self.dtype = np.dtype(dtype)
        self.eps = float(np.finfo(np.dtype(dtype)).eps)

    def array(self, values):
        """An array of this backend's type, precision and device.

        Parameters
        ----------
        values : array_like
            Numbers.

        Returns
        -------
        ndarray or Tensor
        """
        if self.torch:
            return self.xp.as_tensor(np.asarray(values), dtype=self.dtype, device=self.device)
        return np.asarray(values, dtype=self.dtype)

    def numpy(self, values) -> np.ndarray:
        """A float64 numpy copy (or view) of a backend array.

        Parameters
        ----------
        values : ndarray or Tensor

        Returns
        -------
        ndarray
        """
        if self.torch:
            return values.detach().cpu().double().numpy()
        return np.asarray(values, dtype=float)

    def arange(self, n):
        """Indices 0 … n − 1 on this backend.

        Parameters
        ----------
        n : int

        Returns
        -------
        ndarray or Tensor
        """
        return self.xp.arange(n, device=self.device) if self.torch else np.arange(n)

    def mask(self, rows: np.ndarray):
        """A numpy boolean mask usable to index this backend's arrays.

        Parameters
        ----------
        rows : (n,) bool ndarray

        Returns
        -------
        ndarray or Tensor
        """
        return self.xp.as_tensor(rows, device=self.device) if self.torch else rows

    def cat(self, first, second):
        """Two arrays joined along their first axis.

        Parameters
        ----------
        first, second : ndarray or Tensor

        Returns
        -------
        ndarray or Tensor
        """
        return self.xp.cat([first, second]) if self.torch else np.concatenate([first, second])

    def copy(self, values):
        """A copy that can be changed in place.

        Parameters
        ----------
        values : ndarray or Tensor

        Returns
        -------
        ndarray or Tensor
        """
        return values.clone() if self.torch else values.copy()

    def solve(self, a, b):
        """Solve the batch a x = b; singular systems give non-finite x.

        Parameters
        ----------
        a : (n, P, P) array
        b : (n, P) array

        Returns
        -------
        (n, P) array
        """
        if self.torch:
            x, info = self.xp.linalg.solve_ex(a, b.unsqueeze(-1))
            x = x.squeeze(-1)
            return self.xp.where((info == 0)[:, None], x, self.xp.nan * x)
        try:
            return np.linalg.solve(a, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            out = np.full(b.shape, np.nan, dtype=b.dtype)
            for i in range(a.shape[0]):
                try:
                    out[i] = np.linalg.solve(a[i], b[i])
                except np.linalg.LinAlgError:
                    pass
            return out

    def inv(self, a):
        """Batch inverse; singular matrices give NaN.

        Parameters
        ----------
        a : (n, P, P) array
            Square matrices.

        Returns
        -------
        (n, P, P) array
            Their inverses.
        """
        if self.torch:
            x, info = self.xp.linalg.inv_ex(a)
            return self.xp.where((info == 0)[:, None, None], x, self.xp.nan * x)
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        try:
            return np.linalg.solve(a, eye)
        except np.linalg.LinAlgError:
            out = np.full(a.shape, np.nan, dtype=a.dtype)
            for i in range(a.shape[0]):
                try:
                    out[i] = np.linalg.inv(a[i])
                except np.linalg.LinAlgError:
                    pass
            return out
