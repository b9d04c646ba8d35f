"""Batched peak fitting: N spectra x K peaks at once (Levenberg–Marquardt or RAdam).

The default solver is a Levenberg–Marquardt iteration vectorised over spectra: analytic
Jacobian (:mod:`tmdlearn.spectra.lineshapes`), a damping factor per spectrum with Marquardt
scaling, bounds by projection (clipping) onto the box, and an optional regulariser that keeps
each centre near its initial value. Spectra that converge leave the working set, so the cost
follows the slowest few only; spectra are processed in chunks so memory stays bounded.
``solver="radam"`` minimises the same objective with ``torch.optim.RAdam`` (the WSe2 study's
choice) on bound-transformed parameters.

Internally the axis of each fit window is mapped onto [-1, 1] and every spectrum is divided by
its largest absolute value, so one set of tolerances fits all data; results come back in the
axis and intensity units of the input.

This module is the public API (:func:`fit_peaks`, :class:`PeakFit`); maps are fitted by
:func:`tmdlearn.spectra.mapfit.fit_map` (images: :func:`~tmdlearn.spectra.mapfit.parameter_maps`),
the curves of one fit for figures are :func:`tmdlearn.spectra.curves.model_curves`; one window
of the model on a chunk of spectra is :func:`tmdlearn.spectra.regionfit.fit_region`, the
solvers are in :mod:`tmdlearn.spectra.solver`.

Every spectrum gets a ``status``: ``ok``; ``max_iter`` (stopped before converging: values kept,
``converged`` false); or a failure whose values are NaN: ``nonfinite_input`` (NaN/inf in the
window), ``flat`` (no variation), ``too_few_points`` (not more points than parameters),
``peak_outside_window`` (an initial centre outside the measured axis), ``numerical``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from tmdlearn.data import Spectra
from tmdlearn.errors import InputError
from tmdlearn.progress import track
from tmdlearn.spectra import quality
from tmdlearn.spectra.peakmodel import PeakModel, Region, load_model
from tmdlearn.spectra.regionfit import MAX_ITER, OK, STATUS, fit_region

#: Default LM iterations. Most spectra converge in 10-30; an optional peak that is absent (a
#: substrate line not in the spectrum) fits a noise bump whose small height, position and
#: width creep towards scipy's tolerance for a few hundred: at 100, 14 of 384 such fits of
#: planted MoS2 spectra stopped as ``max_iter`` (verdict poor) with R² 0.997, at 400 none
#: (``benchmarks/optional_peak_fits.py``).
#: Only the spectra still iterating pay (scipy's leastsq allows 200 (P + 1) evaluations).
LM_MAX_ITER = 400


@dataclass
class PeakFit:
    """Fitted parameters of N spectra.

    ``names`` are the columns of ``values`` / ``stderr`` (N, P): ``<peak>_center``,
    ``<peak>_fwhm``, ``<peak>_height`` (and ``<peak>_eta`` for pseudo-Voigt peaks) in axis and
    intensity units, then the background terms. ``r2`` and ``rmse`` (intensity units) are over
    all points of all fit windows; ``status`` holds one of :data:`STATUS` per spectrum (what
    the solver did). ``quality`` (judged fits, :func:`tmdlearn.spectra.quality.judge`) holds
    the noise, reduced χ², per-peak SNR / ΔBIC / presence and the verdict codes.
    """

    model: PeakModel
    names: list[str]
    values: np.ndarray
    stderr: np.ndarray
    r2: np.ndarray
    rmse: np.ndarray
    status: np.ndarray
    n_iter: np.ndarray
    metadata: dict = field(default_factory=dict)
    quality: dict | None = None

    @property
    def verdict(self) -> np.ndarray | None:
        """Verdict names (N,) (``ok``, ``weak``, ``absent``, ``poor``); None when not judged."""
        if self.quality is None:
            return None
        return np.asarray(quality.VERDICTS, dtype=object)[self.quality["verdict"]]

    @property
    def reasons(self) -> np.ndarray | None:
        """Short text (N,) of the reasons behind each verdict ('' when ok)."""
        if self.quality is None:
            return None
        return quality.reason_text(self.quality)

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def converged(self) -> np.ndarray:
        """Whether each spectrum's fit converged (N,) (status ``ok``)."""
        return self.status == OK

    @property
    def status_names(self) -> np.ndarray:
        """Status names (N,), one of :data:`STATUS` per spectrum."""
        return np.asarray(STATUS, dtype=object)[self.status]

    def __getitem__(self, name: str) -> np.ndarray:
        """One fitted parameter (N,), e.g. ``fit["A1g_center"]``."""
        return self.values[:, self.names.index(name)]

    def table(self, blank_absent: bool = True) -> pd.DataFrame:
        """One row per spectrum: peak columns with stderr, the model's features, quality.

        Parameters
        ----------
        blank_absent : bool
            Peaks that are not present are NaN unless this is False.

        Returns
        -------
        pandas.DataFrame
            One row per spectrum; centres and FWHM in axis units (cm⁻¹ or eV), heights in
            intensity units.
        """
        from tmdlearn.spectra.features import fit_table

        return fit_table(self, blank_absent)


def fit_peaks(
    spectra: Spectra | np.ndarray,
    model: PeakModel | str,
    axis: np.ndarray | None = None,
    *,
    solver: str = "lm",
    backend: str = "numpy",
    device: str = "auto",
    dtype: str = "float64",
    chunk_size: int = 65536,
    batch_size: int | None = None,
    max_iter: int | None = None,
    position_weight: float = 0.0,
    initial: dict[str, float | np.ndarray] | None = None,
    learning_rate: float = 0.005,
    progress: bool = True,
    workers: int | None = None,
    verdict: bool | dict = True,
) -> PeakFit:
    """Fit a peak model to every spectrum.

    Parameters
    ----------
    spectra : Spectra or (N, L) array
        The spectra, or their intensities (then ``axis`` (L,) is required; the model's unit).
    model : PeakModel or str
        A :class:`PeakModel` or a preset name / YAML path for :func:`load_model`.
    axis : (L,) array, optional
        Raman shift (cm⁻¹) or photon energy (eV) of an intensity array.
    solver : str
        "lm" (Levenberg–Marquardt, default) or "radam" (torch RAdam).
    backend : str
        "numpy" or "torch" (LM); RAdam always uses torch.
    device : str
        Torch device, "auto" picks CUDA when available.
    dtype : str
        "float64" (default) or "float32".
    chunk_size : int
        Spectra prepared at once (memory ~ chunk_size x L values) and per progress step.
    batch_size : int, optional
        Spectra iterating together (memory ~ batch_size x L x P); default 512 on CPU
        (cache-sized), the whole chunk on CUDA.
    max_iter : int, optional
        LM iterations (default :data:`LM_MAX_ITER`) or RAdam steps (default 1500).
    position_weight : float
        Weight of the regulariser Σ ((c - c0) / fwhm0)², in units of the normalised (max = 1)
        squared intensity; 0 turns it off.
    initial : dict, optional
        Initial values by column name (``"A1g_center"``: float or (N,) array, axis and
        intensity units) overriding the model's values and the automatic guesses.
    learning_rate : float
        RAdam's learning rate (on the bound-transformed parameters).
    progress : bool
        Show a progress bar on a terminal.
    workers : int, optional
        Chunks fitted at once in threads (numpy releases the GIL in its array loops);
        default: the number of CPU cores. Results do not depend on it.
    verdict : bool or dict
        Judge every fit (noise, reduced χ², per-peak SNR / ΔBIC / presence, a verdict with
        reasons; :mod:`tmdlearn.spectra.quality`); a dict overrides the verdict options
        (:data:`tmdlearn.spectra.quality.DEFAULTS`, then the model's ``verdict:``); False
        skips it.

    Returns
    -------
    PeakFit
        Parameters with standard errors in axis and intensity units, R², RMSE, a status per
        spectrum and, unless ``verdict`` is False, the verdict.
    """
    if isinstance(model, str):
        model = load_model(model)
    intensity, axis = _arrays(spectra, axis, model)
    if solver not in ("lm", "radam"):
        raise InputError(f"solver must be 'lm' or 'radam', got {solver!r}")
    if backend not in ("numpy", "torch"):
        raise InputError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    judging = verdict is not False
    settings = {"solver": solver, "backend": backend, "device": device, "dtype": dtype,
                "max_iter": max_iter or (LM_MAX_ITER if solver == "lm" else 1500),
                "position_weight": position_weight, "initial": initial,
                "learning_rate": learning_rate, "batch_size": batch_size,
                "verdict": quality.options(model.verdict, verdict) if judging else None}
    n = intensity.shape[0]
    chunks = [slice(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
    on_cuda = solver == "radam" or (backend == "torch" and device != "cpu")
    n_workers = 1 if on_cuda else max(1, workers or os.cpu_count() or 1)
    label = f"fitting {model.name}" if progress else None
    windows = [_fit_window(intensity, axis, region, chunks, n_workers, label, settings)
               for region in model.regions]
    return _combine(model, windows, settings)


@dataclass
class _Window:
    """The fits of one window of the model to all spectra: parameter names, values and stderr
    (N, P), status codes, SSR and total sum of squares (N,) in intensity², iterations, points
    and the figures the verdict needs (``info``)."""

    names: list[str]
    values: np.ndarray
    stderr: np.ndarray
    status: np.ndarray
    ssr: np.ndarray
    sst: np.ndarray
    n_iter: np.ndarray
    points: int
    info: dict


def _fit_window(intensity: np.ndarray, axis: np.ndarray, region: Region, chunks: list[slice],
                n_workers: int, label: str | None, settings: dict) -> _Window:
    """Fit one window of the model to all spectra, ``n_workers`` chunks at a time."""
    # the axis is ascending, so the window is a slice: a view, not a copy of the data
    inside = slice(np.searchsorted(axis, region.window[0], "left"),
                   np.searchsorted(axis, region.window[1], "right"))
    x, y = axis[inside], intensity[:, inside]
    n = intensity.shape[0]
    v = np.full((n, region.n_params), np.nan)
    s = np.full_like(v, np.nan)
    st = np.zeros(n, dtype=np.int8)
    r_ssr = np.full(n, np.nan)
    sst = np.zeros(n)
    n_iter = np.zeros(n, dtype=np.int32)
    info = {"noise": np.full(n, np.nan), "saturated": np.zeros(n, dtype=bool),
            "dssr": np.full((n, len(region.peaks)), np.nan), "ssr": r_ssr,
            "spread": np.full(n, np.nan), "x": x, "y": y, "points": x.size,
            "params": region.n_params}
    with ThreadPoolExecutor(n_workers) as pool:
        results = pool.map(partial(fit_region, y, x, region, **settings), chunks)
        if label:
            results = track(results, label, total=len(chunks))
        for chunk, out in zip(chunks, results, strict=True):
            v[chunk], s[chunk], st[chunk], r_ssr[chunk], n_iter[chunk], q = out
            if q is not None:
                (info["noise"][chunk], info["saturated"][chunk], info["dssr"][chunk],
                 info["spread"][chunk]) = q
            if x.size:
                block = y[chunk].astype(float)
                sst[chunk] += np.sum((block - block.mean(axis=1, keepdims=True)) ** 2, axis=1)
    return _Window(_param_names(region), v, s, st, r_ssr, sst, n_iter, x.size, info)


def _combine(model: PeakModel, windows: list[_Window], settings: dict) -> PeakFit:
    """One :class:`PeakFit` from the fits of the model's windows: a failure in any window
    wins, then ``max_iter`` over ok; R² and RMSE over all windows' points; the verdict."""
    n = windows[0].values.shape[0] if windows else 0
    status = np.zeros(n, dtype=np.int8)
    n_iter = np.zeros(n, dtype=np.int32)
    ssr, sst, npts = np.zeros(n), np.zeros(n), 0
    for w in windows:
        status = np.where((w.status > MAX_ITER) & (status <= MAX_ITER), w.status,
                          np.maximum(status, w.status))
        n_iter = np.maximum(n_iter, w.n_iter)
        ssr += w.ssr
        sst += w.sst
        npts += w.points
    failed = status > MAX_ITER
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(failed, np.nan, 1.0 - ssr / sst)
        rmse = np.where(failed, np.nan, np.sqrt(ssr / max(npts, 1)))
    names = [name for w in windows for name in w.names]
    values = np.concatenate([w.values for w in windows], axis=1)
    stderr = np.concatenate([w.stderr for w in windows], axis=1)
    values[failed] = np.nan
    stderr[failed] = np.nan
    status = status.astype(np.int8)
    judged = None
    if settings["verdict"] is not None:
        status_names = np.asarray(STATUS, dtype=object)[status]
        judged = quality.judge(model, names, values, stderr, rmse, status_names,
                               [w.info for w in windows], settings["verdict"])
    solver = settings["solver"]
    return PeakFit(model, names, values, stderr, r2, rmse, status, n_iter,
                   metadata={"solver": solver,
                             "backend": "torch" if solver == "radam" else settings["backend"]},
                   quality=judged)


# --------------------------------------------------------------------------- internals


def _arrays(spectra, axis, model: PeakModel) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(spectra, Spectra):
        if spectra.unit != model.unit:
            try:
                spectra = spectra.to_unit(model.unit)
            except ValueError as err:
                raise InputError(f"model {model.name!r} is in {model.unit} but the spectra are "
                                 f"in {spectra.unit}: {err}", spectra.source) from None
        return spectra.intensity, spectra.axis
    if axis is None:
        raise InputError("an axis (L,) is needed with an intensity array")
    intensity = np.asarray(spectra)
    if not np.issubdtype(intensity.dtype, np.floating):
        intensity = intensity.astype(float)
    if intensity.ndim == 1:
        intensity = intensity[None, :]
    axis = np.asarray(axis, dtype=float)
    if intensity.ndim != 2 or axis.shape != (intensity.shape[1],):
        raise InputError(f"intensity {intensity.shape} and axis {axis.shape} do not match")
    if axis.size > 1 and np.any(np.diff(axis) < 0):
        order = np.argsort(axis)
        axis, intensity = axis[order], intensity[:, order]
    return intensity, axis


def parameter_names(model: PeakModel) -> list[str]:
    """The fitted parameters of ``model``, in the order of :attr:`PeakFit.names`.

    Parameters
    ----------
    model : PeakModel
        The peak model.

    Returns
    -------
    list of str
        Per window: ``<peak>_height``, ``<peak>_center``, ``<peak>_fwhm`` (and ``_eta``) of each
        peak, then its background terms.
    """
    return [name for region in model.regions for name in _param_names(region)]


def _param_names(region: Region) -> list[str]:
    names = []
    for peak in region.peaks:
        names += [f"{peak.name}_height", f"{peak.name}_center", f"{peak.name}_fwhm"]
        if peak.shape == "pseudo_voigt":
            names.append(f"{peak.name}_eta")
    first = region.peaks[0].name if region.peaks else "region"
    names += [f"background{i}_{first}" for i in range(region.n_background)]
    return names
