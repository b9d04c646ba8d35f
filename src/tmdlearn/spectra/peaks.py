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

Every spectrum gets a ``status``: ``ok``; ``max_iter`` (stopped before converging: values kept,
``converged`` false); or a failure whose values are NaN: ``nonfinite_input`` (NaN/inf in the
window), ``flat`` (no variation), ``too_few_points`` (not more points than parameters),
``peak_outside_window`` (an initial centre outside the measured axis), ``numerical``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmdlearn.data import Spectra, SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.progress import track
from tmdlearn.spectra import quality
from tmdlearn.spectra.lineshapes import evaluate, region_layout
from tmdlearn.spectra.peakmodel import PeakModel, Region, load_model

STATUS = ("ok", "max_iter", "nonfinite_input", "flat", "too_few_points",
          "peak_outside_window", "numerical")
_OK, _MAXITER, _NONFINITE, _FLAT, _FEW, _OUTSIDE, _NUMERICAL = range(len(STATUS))
#: Scaled bounds (intensity divided by the spectrum's max |y|) for heights and background.
_HEIGHT_MAX = 10.0
_BACKGROUND_MAX = 10.0


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
        return self.status == _OK

    @property
    def status_names(self) -> np.ndarray:
        return np.asarray(STATUS, dtype=object)[self.status]

    def __getitem__(self, name: str) -> np.ndarray:
        """One fitted parameter (N,), e.g. ``fit["A1g_center"]``."""
        return self.values[:, self.names.index(name)]

    def table(self, blank_absent: bool = True) -> pd.DataFrame:
        """One row per spectrum: peak columns with stderr, the model's features, quality;
        peaks that are not present are NaN unless ``blank_absent`` is False."""
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
    """Fit ``model`` to every spectrum.

    Parameters
    ----------
    spectra : Spectra or (N, L) array of intensities (then ``axis`` (L,) is required).
    model : a :class:`PeakModel` or a preset name / YAML path for :func:`load_model`.
    solver : "lm" (Levenberg–Marquardt, default) or "radam" (torch RAdam).
    backend : "numpy" or "torch" (LM); RAdam always uses torch.
    device : torch device, "auto" picks CUDA when available.
    dtype : "float64" (default) or "float32".
    chunk_size : spectra prepared at once (memory ~ chunk_size x L values) and per progress step.
    batch_size : spectra iterating together (memory ~ batch_size x L x P); default 512 on
        CPU (cache-sized), the whole chunk on CUDA.
    max_iter : LM iterations (default 100) or RAdam steps (default 1500).
    position_weight : weight of the regulariser Σ ((c - c0) / fwhm0)², in units of the
        normalised (max = 1) squared intensity; 0 turns it off.
    initial : initial values by column name (``"A1g_center"``: float or (N,) array) overriding
        the model's values and the automatic guesses.
    workers : chunks fitted at once in threads (numpy releases the GIL in its array loops);
        default: the number of CPU cores. Results do not depend on it.
    verdict : judge every fit (noise, reduced χ², per-peak SNR / ΔBIC / presence, a verdict
        with reasons; :mod:`tmdlearn.spectra.quality`); a dict overrides the verdict options
        (:data:`tmdlearn.spectra.quality.DEFAULTS`, then the model's ``verdict:``); False
        skips it.
    """
    if isinstance(model, str):
        model = load_model(model)
    intensity, axis = _arrays(spectra, axis, model)
    if solver not in ("lm", "radam"):
        raise InputError(f"solver must be 'lm' or 'radam', got {solver!r}")
    if backend not in ("numpy", "torch"):
        raise InputError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    max_iter = max_iter or (100 if solver == "lm" else 1500)
    judging = verdict is not False
    verdict_opts = quality.options(model.verdict, verdict) if judging else None
    regions_info = []
    n = intensity.shape[0]
    names, values, stderr = [], [], []
    ssr, sst, npts = np.zeros(n), np.zeros(n), 0
    status = np.zeros(n, dtype=np.int8)
    n_iter = np.zeros(n, dtype=np.int32)
    chunks = [slice(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
    on_cuda = solver == "radam" or (backend == "torch" and device != "cpu")
    n_workers = 1 if on_cuda else max(1, workers or os.cpu_count() or 1)
    for region in model.regions:
        # the axis is ascending, so the window is a slice: a view, not a copy of the data
        inside = slice(np.searchsorted(axis, region.window[0], "left"),
                       np.searchsorted(axis, region.window[1], "right"))
        x, y = axis[inside], intensity[:, inside]
        names += _param_names(region)
        v = np.full((n, region.n_params), np.nan)
        s = np.full_like(v, np.nan)
        st = np.zeros(n, dtype=np.int8)
        r_ssr = np.full(n, np.nan)
        info = {"noise": np.full(n, np.nan), "saturated": np.zeros(n, dtype=bool),
                "dssr": np.full((n, len(region.peaks)), np.nan), "ssr": r_ssr,
                "spread": np.full(n, np.nan), "x": x, "y": y,
                "points": x.size, "params": region.n_params}

        def fit_chunk(chunk, x=x, y=y, region=region):
            return _fit_region(
                y[chunk], x, region, solver=solver, backend=backend, device=device,
                dtype=dtype, max_iter=max_iter, position_weight=position_weight,
                initial=initial, rows=chunk, learning_rate=learning_rate,
                batch_size=batch_size, verdict=verdict_opts,
            )

        with ThreadPoolExecutor(n_workers) as pool:
            results = pool.map(fit_chunk, chunks)
            if progress:
                results = track(results, f"fitting {model.name}", total=len(chunks))
            for chunk, out in zip(chunks, results, strict=True):
                v[chunk], s[chunk], st[chunk], r_ssr[chunk], it, q = out
                if q is not None:
                    (info["noise"][chunk], info["saturated"][chunk], info["dssr"][chunk],
                     info["spread"][chunk]) = q
                n_iter[chunk] = np.maximum(n_iter[chunk], it)
                if x.size:
                    block = y[chunk].astype(float)
                    sst[chunk] += np.sum((block - block.mean(axis=1, keepdims=True)) ** 2,
                                         axis=1)
        values.append(v)
        stderr.append(s)
        # A failure anywhere wins; otherwise max_iter wins over ok.
        status = np.where((st > _MAXITER) & (status <= _MAXITER), st, np.maximum(status, st))
        ssr += r_ssr
        npts += x.size
        regions_info.append(info)
    failed = status > _MAXITER
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(failed, np.nan, 1.0 - ssr / sst)
        rmse = np.where(failed, np.nan, np.sqrt(ssr / max(npts, 1)))
    values, stderr = np.concatenate(values, axis=1), np.concatenate(stderr, axis=1)
    values[failed] = np.nan
    stderr[failed] = np.nan
    status = status.astype(np.int8)
    judged = None
    if judging:
        status_names = np.asarray(STATUS, dtype=object)[status]
        judged = quality.judge(model, names, values, stderr, rmse, status_names, regions_info,
                               verdict_opts)
    return PeakFit(model, names, values, stderr, r2, rmse, status, n_iter,
                   metadata={"solver": solver,
                             "backend": "torch" if solver == "radam" else backend},
                   quality=judged)


def fit_map(smap: SpectralMap, model: PeakModel | str, mask: np.ndarray | None = None,
            **kwargs) -> tuple[PeakFit, np.ndarray]:
    """Fit the pixels of a map where ``mask`` (ny, nx) is true (all when None).

    Returns the fit (one row per masked pixel, row-major) and the mask used; the table of the
    fit carries the pixels' ``x_um, y_um``. :func:`parameter_maps` turns it into images.
    """
    mask = np.ones(smap.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != smap.shape:
        raise InputError(f"mask shape {mask.shape} differs from the map's {smap.shape}")
    fit = fit_peaks(smap.spectra(mask), model, **kwargs)
    x_um, y_um = smap.coordinates_um()
    fit.metadata.update(x_um=x_um[mask], y_um=y_um[mask], map_shape=smap.shape)
    return fit, mask


def parameter_maps(fit: PeakFit, mask: np.ndarray, only_ok: bool = True
                   ) -> dict[str, np.ndarray]:
    """Each fitted parameter (and r2, rmse) as an (ny, nx) image, NaN outside ``mask``.

    For a judged fit, ``verdict`` is an image of verdict codes (0 ok, 1 weak, 2 absent,
    3 poor, NaN outside the mask) and, with ``only_ok``, the other images are NaN wherever
    the verdict is not ok.
    """
    mask = np.asarray(mask, dtype=bool)
    columns = dict(zip(fit.names, fit.values.T, strict=True))
    columns.update(r2=fit.r2, rmse=fit.rmse)
    shown = np.ones(len(fit), dtype=bool)
    if fit.quality is not None:
        if only_ok:
            shown = fit.quality["verdict"] == quality.OK
        columns.update(noise=fit.quality["noise"], chi2=fit.quality["chi2"])
    maps = {}
    for name, column in columns.items():
        image = np.full(mask.shape, np.nan)
        image[mask] = np.where(shown, column, np.nan)
        maps[name] = image
    if fit.quality is not None:
        maps["verdict"] = np.full(mask.shape, np.nan)
        maps["verdict"][mask] = fit.quality["verdict"]
    return maps


def model_curves(fit: PeakFit, axis: np.ndarray, index: int) -> dict[str, np.ndarray]:
    """Total model, background and each peak of spectrum ``index`` on ``axis`` (for figures).

    Points outside every fit window are NaN.
    """
    axis = np.asarray(axis, dtype=float)
    curves: dict[str, np.ndarray] = {"model": np.full(axis.shape, np.nan),
                                     "background": np.full(axis.shape, np.nan)}
    start = 0
    for region in fit.model.regions:
        inside = (axis >= region.window[0]) & (axis <= region.window[1])
        x = axis[inside]
        p = fit.values[index, start:start + region.n_params][None, :].copy()
        start += region.n_params
        layout = region_layout(region)
        if region.background == "linear":  # stored as value at the window's mid-point + slope
            b = layout[1][1]
            p[:, b] -= p[:, b + 1] * 0.5 * (x[0] + x[-1])
        total, _ = evaluate(np, x, p, layout, jacobian=False)
        curves["model"][inside] = total[0]
        background = Region(region.window, (), region.background)
        bg_p = p[:, layout[1][1]:]
        curves["background"][inside] = evaluate(np, x, bg_p, region_layout(background),
                                                jacobian=False)[0][0]
        for peak, (_, k) in zip(region.peaks, layout[0], strict=True):
            single = Region(region.window, (peak,), "none")
            curve = np.full(axis.shape, np.nan)
            curve[inside] = evaluate(np, x, p[:, k:k + peak.n_params], region_layout(single),
                                     jacobian=False)[0][0]
            curves[peak.name] = curve
    return curves


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


def _param_names(region: Region) -> list[str]:
    names = []
    for peak in region.peaks:
        names += [f"{peak.name}_height", f"{peak.name}_center", f"{peak.name}_fwhm"]
        if peak.shape == "pseudo_voigt":
            names.append(f"{peak.name}_eta")
    first = region.peaks[0].name if region.peaks else "region"
    names += [f"background{i}_{first}" for i in range(region.n_background)]
    return names


class _Backend:
    """The few operations where numpy and torch differ."""

    def __init__(self, backend: str, device: str, dtype: str):
        self.torch = backend == "torch"
        if self.torch:
            import torch

            self.xp = torch
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self.device = torch.device(device)
            self.dtype = getattr(torch, dtype)
        else:
            self.xp = np
            self.dtype = np.dtype(dtype)
        self.eps = float(np.finfo(np.dtype(dtype)).eps)

    def array(self, values):
        if self.torch:
            return self.xp.as_tensor(np.asarray(values), dtype=self.dtype, device=self.device)
        return np.asarray(values, dtype=self.dtype)

    def numpy(self, values) -> np.ndarray:
        if self.torch:
            return values.detach().cpu().double().numpy()
        return np.asarray(values, dtype=float)

    def arange(self, n):
        return self.xp.arange(n, device=self.device) if self.torch else np.arange(n)

    def mask(self, rows: np.ndarray):
        """A numpy boolean mask usable to index this backend's arrays."""
        return self.xp.as_tensor(rows, device=self.device) if self.torch else rows

    def cat(self, first, second):
        return self.xp.cat([first, second]) if self.torch else np.concatenate([first, second])

    def copy(self, values):
        return values.clone() if self.torch else values.copy()

    def solve(self, a, b):
        """Solve the batch a (n, P, P) x = b (n, P); singular systems give non-finite x."""
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
        """Batch inverse; singular matrices give NaN."""
        if self.torch:
            x, info = self.xp.linalg.inv_ex(a)
            return self.xp.where((info == 0)[:, None, None], x, self.xp.nan * x)
        return self.solve_many(a)

    def solve_many(self, a):
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


def _fit_region(y, x, region: Region, *, solver, backend, device, dtype, max_iter,
                position_weight, initial, rows, learning_rate, batch_size, verdict=None):
    """Fit one window for a chunk of spectra.

    Returns physical values, stderr, status, SSR, iteration counts and, when ``verdict``
    (the verdict options) is given, ``(noise σ (n,), saturated (n,), SSR rise (n, K),
    residual scale (n,))``.
    """
    n, n_points = y.shape
    n_params = region.n_params
    values = np.full((n, n_params), np.nan)
    stderr = np.full_like(values, np.nan)
    status = np.zeros(n, dtype=np.int8)
    ssr = np.full(n, np.nan)
    n_iter = np.zeros(n, dtype=np.int32)
    extra = None
    if verdict is not None:
        extra = (np.full(n, np.nan), np.zeros(n, dtype=bool),
                   np.full((n, len(region.peaks)), np.nan), np.full(n, np.nan))
    out = values, stderr, status, ssr, n_iter, extra
    centers = np.array([p.center for p in region.peaks])
    if n_points <= n_params:
        status[:] = _FEW
        return out
    if np.any((centers < x[0]) | (centers > x[-1])):
        status[:] = _OUTSIDE
        return out
    finite = np.all(np.isfinite(y), axis=1)
    status[~finite] = _NONFINITE
    scale = np.max(np.abs(np.where(finite[:, None], y, 0.0)), axis=1)
    ptp = np.ptp(np.where(finite[:, None], y, 0.0), axis=1)
    flat = finite & ~(ptp > 1e-9 * np.maximum(scale, 1e-300))
    status[flat] = _FLAT
    if extra is not None:
        # a floor keeps noiseless (synthetic) data finite: 1e-9 of the spectrum's scale
        sigma = np.maximum(quality.noise_sigma(y), 1e-9 * scale)
        extra[0][:] = np.where(finite, sigma, np.nan)
        extra[1][:] = finite & quality.saturated(y, sigma, int(verdict["saturation_run"]),
                                           float(verdict["saturation_snr"]))
    good = np.flatnonzero(status == _OK)
    if good.size == 0:
        return out
    xm, xh = 0.5 * (x[0] + x[-1]), 0.5 * (x[-1] - x[0])
    xs = (x - xm) / xh
    ys = y[good] / scale[good, None]
    p0, lo, hi, c_index, w0 = _initial(xs, ys, region, xm, xh, initial, rows, good, scale)
    be = _Backend("torch" if solver == "radam" else backend, device, dtype)
    problem = _Problem(be, be.array(xs), region_layout(region), be.array(lo), be.array(hi),
                       c_index, be.array(w0), position_weight, significance=verdict is not None)
    if batch_size is None:
        on_gpu = be.torch and be.device.type == "cuda"
        batch_size = ys.shape[0] if on_gpu else (512 if solver == "lm" else 4096)
    if solver == "lm":
        p_np, sd, r_ssr, conv, iters, dssr, spread = _levenberg_marquardt(
            problem, ys, p0, max_iter, batch_size)
    else:
        p_np, sd, r_ssr, conv, iters, dssr, spread = _radam(
            problem, ys, p0, max_iter, batch_size, learning_rate=learning_rate)
    bad = ~np.all(np.isfinite(p_np), axis=1) | ~np.isfinite(r_ssr)
    st = np.where(bad, _NUMERICAL, np.where(conv, _OK, _MAXITER)).astype(np.int8)
    # back to physical units
    to_phys, offset = _unscale(region, xm, xh, scale[good])
    values[good] = p_np * to_phys + offset
    stderr[good] = sd * np.abs(to_phys)
    values[good[bad]] = np.nan
    stderr[good[bad]] = np.nan
    status[good] = st
    ssr[good] = r_ssr * scale[good] ** 2
    n_iter[good] = iters
    if extra is not None:
        extra[2][good] = np.where(bad[:, None], np.nan, dssr * scale[good, None] ** 2)
        extra[3][good] = spread * scale[good]
    return out


def _initial(xs, ys, region: Region, xm, xh, initial, rows, good, scale):
    """Scaled initial values and bounds (n, P): guesses from the data unless given."""
    n = ys.shape[0]
    n_params = region.n_params
    p0 = np.zeros((n, n_params))
    lo = np.zeros(n_params)
    hi = np.zeros(n_params)
    edge = max(2, xs.size // 20)
    left, right = ys[:, :edge].mean(axis=1), ys[:, -edge:].mean(axis=1)
    if region.background == "linear":
        slope = (right - left) / (xs[-edge:].mean() - xs[:edge].mean())
        intercept = left - slope * xs[:edge].mean()
    elif region.background == "constant":
        slope, intercept = np.zeros(n), np.minimum(left, right)
    else:
        slope, intercept = np.zeros(n), np.zeros(n)
    given = {} if initial is None else initial

    def pick(name, default):
        if name not in given:
            return default
        value = np.asarray(given[name], dtype=float)
        return value[rows][good] if value.ndim else np.full(n, float(value))

    c_index, w0 = [], []
    k = 0
    peaks = region.peaks
    for peak in peaks:
        c_lo, c_hi = ((b - xm) / xh for b in peak.center_bounds)
        w_lo, w_hi = (b / xh for b in peak.fwhm_bounds)
        c_init = np.full(n, (peak.center - xm) / xh)
        w_scaled = peak.fwhm / xh
        crowded = any(abs(q.center - peak.center) < peak.fwhm for q in peaks if q is not peak)
        if not crowded:
            # refine the centre to the local maximum within ± fwhm / 2
            near = np.abs(xs - c_init[0]) <= 0.5 * w_scaled
            if near.any():
                local = ys[:, near] - (intercept[:, None] + slope[:, None] * xs[near])
                c_init = xs[near][np.argmax(local, axis=1)]
        c_init = np.clip((pick(f"{peak.name}_center", c_init * xh + xm) - xm) / xh, c_lo, c_hi)
        at = np.abs(xs[None, :] - c_init[:, None]).argmin(axis=1)
        y_at = ys[np.arange(n), at] - (intercept + slope * c_init)
        share = 1 + sum(abs(q.center - peak.center) < peak.fwhm for q in peaks if q is not peak)
        h_init = np.clip(y_at / share, 1e-3, _HEIGHT_MAX)
        h_init = pick(f"{peak.name}_height", h_init * scale[good]) / scale[good]
        w_init = np.clip(pick(f"{peak.name}_fwhm", np.full(n, peak.fwhm)) / xh, w_lo, w_hi)
        p0[:, k], p0[:, k + 1], p0[:, k + 2] = h_init, c_init, w_init
        lo[k:k + 3] = 0.0, c_lo, w_lo
        hi[k:k + 3] = _HEIGHT_MAX, c_hi, w_hi
        if peak.shape == "pseudo_voigt":
            p0[:, k + 3] = pick(f"{peak.name}_eta", np.full(n, 0.5))
            lo[k + 3], hi[k + 3] = 0.0, 1.0
        c_index.append(k + 1)
        w0.append(w_scaled)
        k += peak.n_params
    if region.background != "none":
        p0[:, k] = intercept
        lo[k], hi[k] = -_BACKGROUND_MAX, _BACKGROUND_MAX
    if region.background == "linear":
        p0[:, k + 1] = slope
        lo[k + 1], hi[k + 1] = -_BACKGROUND_MAX, _BACKGROUND_MAX
    p0 = np.clip(p0, lo, hi)
    return p0, lo, hi, np.array(c_index, dtype=int), np.array(w0)


def _unscale(region: Region, xm, xh, scale):
    """Per-parameter factor (n, P) and offset (P,) from scaled to physical units."""
    n_params = region.n_params
    factor = np.ones((scale.size, n_params))
    offset = np.zeros(n_params)
    k = 0
    for peak in region.peaks:
        factor[:, k] = scale
        factor[:, k + 1] = xh
        offset[k + 1] = xm
        factor[:, k + 2] = xh
        k += peak.n_params
    if region.background != "none":
        factor[:, k] = scale
    if region.background == "linear":
        # b0 + b1 (x - xm) / xh  ->  (b0 - b1 xm / xh) + (b1 / xh) x: report the value at xm
        # and the slope per axis unit, so the stderr maps one to one.
        factor[:, k + 1] = scale / xh
    return factor, offset


class _Problem:
    """One fit window on a backend: scaled axis, layout, bounds and the position regulariser."""

    def __init__(self, be, x, layout, lo, hi, c_index, w0, weight, significance=False):
        self.be, self.x, self.layout, self.lo, self.hi = be, x, layout, lo, hi
        self.c_index = c_index
        self.significance = significance
        self.reg = weight / (w0 * w0) if weight > 0 else None
        # scipy's leastsq tolerances (1.49e-8), looser where the precision cannot reach them
        self.tol = max(1.49e-8, 30.0 * be.eps)

    def linearise(self, p, y, c0):
        """Cost (n,), JᵀJ (n, P, P) and Jᵀr (n, P) including the regulariser; data SSR (n,)."""
        f, jac = evaluate(self.be.xp, self.x, p, self.layout)
        r = y - f
        ssr = (r * r).sum(axis=1)
        a = jac @ jac.swapaxes(1, 2)
        g = (jac @ r[:, :, None])[:, :, 0]
        cost = ssr
        if self.reg is not None:
            offset = p[:, self.c_index] - c0
            cost = ssr + (offset * offset * self.reg).sum(axis=1)
            a[:, self.c_index, self.c_index] += self.reg
            g[:, self.c_index] -= self.reg * offset
        return cost, a, g, ssr

    def residual_scale(self, p, y):
        """Robust scale (n,) of the residual, 1.4826·median|y − f| (spikes leave it alone)."""
        f, _ = evaluate(self.be.xp, self.x, p, self.layout, jacobian=False)
        r = (y - f).abs() if self.be.torch else np.abs(y - f)
        median = r.median(dim=1).values if self.be.torch else np.median(r, axis=1)
        return 1.4826 * median

    def peak_dssr(self, a, p, g):
        """Rise (n, K) of the SSR when each peak is removed and the other parameters are
        re-optimised, to first order: h² / [(J_sᵀJ_s)⁻¹]_hh without the peak's shape columns.

        A peak held at height 0 by its bound gets minus the fall a negative height would
        bring, [(J_sᵀJ_s)⁻¹]_hh · g_h² (``g`` = Jᵀr): the score stays continuous through 0
        and ranks flat noise below a dip. A small ridge keeps the reduced normal equations
        solvable where another peak has vanished (its shape columns are then zero)."""
        be, xp = self.be, self.be.xp
        a = self.unregularised(a)
        n_params = a.shape[1]
        out = []
        for shape, k in self.layout[0]:
            width = 4 if shape == "pseudo_voigt" else 3
            keep = [i for i in range(n_params) if i == k or not k < i < k + width]
            sub = a[:, keep][:, :, keep]
            diag = be.arange(len(keep))
            sub[:, diag, diag] += 1e-12 * xp.amax(sub[:, diag, diag], 1)[:, None] + 1e-300
            unit = 0.0 * sub[:, 0]
            unit[:, keep.index(k)] = 1.0
            hh = be.solve(sub, unit)[:, keep.index(k)]
            below = xp.clip(g[:, k], None, 0.0) if be.torch else np.minimum(g[:, k], 0.0)
            out.append(xp.where(p[:, k] > 0, p[:, k] * p[:, k] / hh, -hh * below * below))
        return xp.stack(out, 1) if out else p[:, :0]

    def unregularised(self, a):
        """JᵀJ without the position regulariser's diagonal terms."""
        if self.reg is None:
            return a
        a = self.be.copy(a)
        a[:, self.c_index, self.c_index] -= self.reg
        return a

    def stderr(self, a, ssr, n_points):
        """Standard errors from (JᵀJ)⁻¹ · SSR / (L - P) (regulariser removed from JᵀJ).

        Parameters with no effect on the model (the centre and width of a peak whose height
        went to zero: zero Jacobian columns) get NaN and are left out of the inverse, so
        they do not take the other parameters' errors with them."""
        be, xp = self.be, self.be.xp
        n_params = a.shape[1]
        a = self.unregularised(a)
        diag = be.arange(n_params)
        d = a[:, diag, diag]
        dead = d <= 1e-13 * xp.amax(d, 1)[:, None]
        live = 1.0 - 1.0 * dead
        a = a * (live[:, :, None] * live[:, None, :])
        a[:, diag, diag] += 1.0 - live
        var = be.inv(a)[:, diag, diag] * (ssr / (n_points - n_params))[:, None]
        return xp.sqrt(xp.where((var >= 0) & ~dead, var, xp.nan * var))


def _levenberg_marquardt(problem: _Problem, ys, p0, max_iter, batch_size):
    """Projected LM streamed over the rows of ``ys`` (n, L) from ``p0`` (n, P), numpy in/out.

    A working set of up to ``batch_size`` spectra iterates together; converged spectra leave
    it and waiting ones join, so the arrays stay full. Only the normal equations (P x P per
    spectrum) persist between iterations; the (batch, P, L) Jacobian is a temporary.
    Returns values, stderr, SSR (scaled units), converged flags, iteration counts and the
    SSR rise (n, K) on removing each peak and the residual's robust scale (n,) (NaN unless
    ``problem.significance``).
    """
    be, xp = problem.be, problem.be.xp
    n, n_params = p0.shape
    n_points = ys.shape[1]
    diag = be.arange(n_params)
    tol = problem.tol
    out_p = np.full((n, n_params), np.nan)
    out_sd = np.full((n, n_params), np.nan)
    out_ssr = np.full(n, np.nan)
    out_conv = np.zeros(n, dtype=bool)
    out_iter = np.zeros(n, dtype=np.int32)
    out_dssr = np.full((n, len(problem.layout[0])), np.nan)
    out_scale = np.full(n, np.nan)
    rows = np.zeros(0, dtype=np.int64)
    iters = np.zeros(0, dtype=np.int32)
    state = None
    queued = 0
    while True:
        if queued < n and rows.size <= batch_size // 2:
            new = np.arange(queued, min(n, queued + batch_size - rows.size))
            queued = new[-1] + 1
            y_new, p_new = be.array(ys[new]), be.array(p0[new])
            c0_new = p_new[:, problem.c_index]
            cost, a, g, ssr = problem.linearise(p_new, y_new, c0_new)
            fresh = [y_new, p_new, c0_new, cost, a, g, ssr, xp.ones_like(cost) * 1e-3]
            state = fresh if state is None else [be.cat(s, t) for s, t in zip(state, fresh,
                                                                               strict=True)]
            rows = np.concatenate([rows, new])
            iters = np.concatenate([iters, np.zeros(new.size, np.int32)])
        if rows.size == 0:
            break
        y, p, c0, cost, a, g, ssr, lam = state
        d = a[:, diag, diag]
        d = xp.maximum(d, 1e-12 * d.sum(axis=1)[:, None] + 1e-30)
        # parameters held at a bound by a gradient pushing outwards leave the step (active set)
        held = ((p <= problem.lo) & (g < 0)) | ((p >= problem.hi) & (g > 0))
        free = 1.0 - 1.0 * held
        damped = a * (free[:, :, None] * free[:, None, :])
        damped[:, diag, diag] += lam[:, None] * d * free + (1.0 - free)
        step = be.solve(damped, g * free)
        step = xp.where(xp.isfinite(step), step, 0.0 * step)
        trial = xp.clip(p + step, problem.lo, problem.hi)
        cost_new, a_new, g_new, ssr_new = problem.linearise(trial, y, c0)
        accept = cost_new < cost
        moved = xp.amax(xp.abs(trial - p), 1)
        small_step = moved <= tol * (xp.amax(xp.abs(p), 1) + tol)
        small_gain = (cost - cost_new) <= tol * cost
        converged = (accept & small_gain) | small_step | (~accept & (lam > 1e8))
        p = xp.where(accept[:, None], trial, p)
        a = xp.where(accept[:, None, None], a_new, a)
        g = xp.where(accept[:, None], g_new, g)
        cost = xp.where(accept, cost_new, cost)
        ssr = xp.where(accept, ssr_new, ssr)
        lam = xp.clip(xp.where(accept, lam * 0.3, lam * 10.0), 1e-12, 1e12)
        iters += 1
        conv_np = be.numpy(converged).astype(bool)
        done_np = conv_np | (iters >= max_iter)
        state = [y, p, c0, cost, a, g, ssr, lam]
        if done_np.any():
            done = be.mask(done_np)
            finished = rows[done_np]
            out_p[finished] = be.numpy(p[done])
            out_sd[finished] = be.numpy(problem.stderr(a[done], ssr[done], n_points))
            out_ssr[finished] = be.numpy(ssr[done])
            out_conv[finished] = conv_np[done_np]
            out_iter[finished] = iters[done_np]
            if problem.significance:
                out_dssr[finished] = be.numpy(problem.peak_dssr(a[done], p[done], g[done]))
                out_scale[finished] = be.numpy(problem.residual_scale(p[done], y[done]))
            keep = be.mask(~done_np)
            state = [s[keep] for s in state]
            rows, iters = rows[~done_np], iters[~done_np]
    return out_p, out_sd, out_ssr, out_conv, out_iter, out_dssr, out_scale


def _radam(problem: _Problem, ys, p0, max_iter, batch_size, learning_rate=0.005, rtol=1e-4):
    """RAdam (torch) on z with p = lo + (hi - lo) · sigmoid(z), batch by batch.

    A spectrum has converged when one Gauss–Newton step from the result would lower its cost
    by less than ``rtol`` (relative), i.e. it sits at a minimum. Returns the same as
    :func:`_levenberg_marquardt`.
    """
    import torch

    be = problem.be
    n, n_params = p0.shape
    out = (np.full((n, n_params), np.nan), np.full((n, n_params), np.nan), np.full(n, np.nan),
           np.zeros(n, dtype=bool), np.full(n, max_iter, dtype=np.int32),
           np.full((n, len(problem.layout[0])), np.nan), np.full(n, np.nan))
    lo, span = problem.lo, problem.hi - problem.lo
    for start in range(0, n, batch_size):
        rows = slice(start, min(n, start + batch_size))
        y, p = be.array(ys[rows]), be.array(p0[rows])
        c0 = p[:, problem.c_index]
        frac = ((p - lo) / span).clamp(1e-6, 1 - 1e-6)
        z = torch.log(frac / (1 - frac)).requires_grad_(True)
        optimiser = torch.optim.RAdam([z], lr=learning_rate)
        for _ in range(max_iter):
            optimiser.zero_grad()
            params = lo + span * torch.sigmoid(z)
            f, _ = evaluate(torch, problem.x, params, problem.layout, jacobian=False)
            loss = ((y - f) ** 2).sum(axis=1)
            if problem.reg is not None:
                loss = loss + ((params[:, problem.c_index] - c0) ** 2 * problem.reg).sum(axis=1)
            # per point: RAdam's first steps are plain momentum steps on the raw gradient
            (loss.sum() / ys.shape[1]).backward()
            optimiser.step()
        with torch.no_grad():
            params = lo + span * torch.sigmoid(z)
            cost, a, g, ssr = problem.linearise(params, y, c0)
            sd = problem.stderr(a, ssr, ys.shape[1])
            gain = (g * be.solve(a, g)).sum(axis=1)
            if problem.significance:
                out[5][rows] = be.numpy(problem.peak_dssr(a, params, g))
                out[6][rows] = be.numpy(problem.residual_scale(params, y))
        out[0][rows], out[1][rows], out[2][rows] = be.numpy(params), be.numpy(sd), be.numpy(ssr)
        out[3][rows] = be.numpy(gain <= rtol * cost).astype(bool)
    return out
