"""One window (region) of a peak model fitted to a chunk of spectra.

The axis of the window is mapped onto [-1, 1] and every spectrum divided by its largest
absolute value, so one set of tolerances fits all data; initial values are guessed from the
data (or given), the solver (:mod:`tmdlearn.spectra.solver`) runs in these scaled units and
the results come back in the axis and intensity units of the input, with a status per spectrum
(:data:`STATUS`).
"""

from __future__ import annotations

import numpy as np

from tmdlearn.spectra.backend import Backend
from tmdlearn.spectra.lineshapes import region_layout
from tmdlearn.spectra.peakmodel import Region
from tmdlearn.spectra.presence import noise_sigma, saturated
from tmdlearn.spectra.solver import Problem, levenberg_marquardt, radam

STATUS = ("ok", "max_iter", "nonfinite_input", "flat", "too_few_points",
          "peak_outside_window", "numerical")
OK, MAX_ITER, NONFINITE, FLAT, TOO_FEW, OUTSIDE, NUMERICAL = range(len(STATUS))
#: Scaled bounds (intensity divided by the spectrum's max |y|) for heights and background.
_HEIGHT_MAX = 10.0
_BACKGROUND_MAX = 10.0


def fit_region(y: np.ndarray, x: np.ndarray, region: Region, rows: slice, *, solver: str,
               backend: str, device: str, dtype: str, max_iter: int, position_weight: float,
               initial: dict | None, learning_rate: float, batch_size: int | None,
               verdict: dict | None = None) -> tuple:
    """Fit one window of a peak model to a chunk of spectra.

    Parameters
    ----------
    y : (N, L) array
        Intensities of all spectra on the window's axis points (any intensity unit).
    x : (L,) array
        The window's axis, ascending (the model's unit: cm⁻¹ or eV).
    region : Region
        The window's peaks and background.
    rows : slice
        The chunk: the rows of ``y`` fitted here.
    solver, backend, device, dtype, max_iter, position_weight, initial, learning_rate, \
batch_size
        As :func:`tmdlearn.spectra.fit_peaks` (``max_iter`` resolved).
    verdict : dict or None
        The verdict options (:func:`tmdlearn.spectra.quality.options`); None skips the
        figures the verdict needs.

    Returns
    -------
    tuple
        Values and stderr (n, P) in axis and intensity units, status codes (n,) int8
        (:data:`STATUS`), SSR (n,) in intensity² and iteration counts (n,) int32 of the
        chunk's n spectra, and with ``verdict`` ``(noise σ (n,), saturated (n,), SSR rise on
        removing each peak (n, K), residual scale (n,))`` (else None).
    """
    y = y[rows]
    n = y.shape[0]
    values = np.full((n, region.n_params), np.nan)
    stderr = np.full_like(values, np.nan)
    ssr = np.full(n, np.nan)
    n_iter = np.zeros(n, dtype=np.int32)
    status, scale, extra = _screen(y, x, region, verdict)
    out = values, stderr, status, ssr, n_iter, extra
    good = np.flatnonzero(status == OK)
    if good.size == 0:
        return out
    xm, xh = 0.5 * (x[0] + x[-1]), 0.5 * (x[-1] - x[0])
    xs = (x - xm) / xh
    ys = y[good] / scale[good, None]
    start = _initial(xs, ys, region, xm, xh, initial, rows, good, scale)
    p_np, sd, r_ssr, conv, iters, dssr, spread = _solve(
        xs, ys, region, start, solver=solver, backend=backend, device=device, dtype=dtype,
        max_iter=max_iter, position_weight=position_weight, learning_rate=learning_rate,
        batch_size=batch_size, significance=verdict is not None)
    bad = ~np.all(np.isfinite(p_np), axis=1) | ~np.isfinite(r_ssr)
    st = np.where(bad, NUMERICAL, np.where(conv, OK, MAX_ITER)).astype(np.int8)
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


def _screen(y: np.ndarray, x: np.ndarray, region: Region, verdict: dict | None
            ) -> tuple[np.ndarray, np.ndarray | None, tuple | None]:
    """Status codes (n,) of the spectra before the fit (too few points, a peak outside the
    window, non-finite or flat spectra), their scale (largest |y|; None when the window
    cannot be fitted) and, with ``verdict``, the verdict's figures: noise σ and saturation
    filled in, SSR rises and residual scales NaN."""
    n, n_points = y.shape
    status = np.zeros(n, dtype=np.int8)
    extra = None
    if verdict is not None:
        extra = (np.full(n, np.nan), np.zeros(n, dtype=bool),
                 np.full((n, len(region.peaks)), np.nan), np.full(n, np.nan))
    centers = np.array([p.center for p in region.peaks])
    if n_points <= region.n_params:
        status[:] = TOO_FEW
        return status, None, extra
    if np.any((centers < x[0]) | (centers > x[-1])):
        status[:] = OUTSIDE
        return status, None, extra
    finite = np.all(np.isfinite(y), axis=1)
    status[~finite] = NONFINITE
    scale = np.max(np.abs(np.where(finite[:, None], y, 0.0)), axis=1)
    ptp = np.ptp(np.where(finite[:, None], y, 0.0), axis=1)
    flat = finite & ~(ptp > 1e-9 * np.maximum(scale, 1e-300))
    status[flat] = FLAT
    if extra is not None:
        # a floor keeps noiseless (synthetic) data finite: 1e-9 of the spectrum's scale
        sigma = np.maximum(noise_sigma(y), 1e-9 * scale)
        extra[0][:] = np.where(finite, sigma, np.nan)
        extra[1][:] = finite & saturated(y, sigma, int(verdict["saturation_run"]),
                                         float(verdict["saturation_snr"]))
    return status, scale, extra


def _solve(xs, ys, region: Region, start, *, solver, backend, device, dtype, max_iter,
           position_weight, learning_rate, batch_size, significance) -> tuple:
    """Run the solver on the scaled spectra ``ys`` from ``start`` (initial values, bounds,
    centre indices and initial widths); returns what :func:`levenberg_marquardt` returns."""
    p0, lo, hi, c_index, w0 = start
    be = Backend("torch" if solver == "radam" else backend, device, dtype)
    problem = Problem(be, be.array(xs), region_layout(region), be.array(lo), be.array(hi),
                      c_index, be.array(w0), position_weight, significance=significance)
    if batch_size is None:
        on_gpu = be.torch and be.device.type == "cuda"
        batch_size = ys.shape[0] if on_gpu else (512 if solver == "lm" else 4096)
    if solver == "lm":
        return levenberg_marquardt(problem, ys, p0, max_iter, batch_size)
    return radam(problem, ys, p0, max_iter, batch_size, learning_rate=learning_rate)


def _initial(xs, ys, region: Region, xm, xh, initial, rows, good, scale):
    """Scaled initial values and bounds (n, P): guesses from the data unless given."""
    n = ys.shape[0]
    n_params = region.n_params
    p0 = np.zeros((n, n_params))
    lo = np.zeros(n_params)
    hi = np.zeros(n_params)
    intercept, slope = _background_guess(xs, ys, region.background)
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


def _background_guess(xs: np.ndarray, ys: np.ndarray, background: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Intercept and slope (n,) of the background (scaled units) from the means of the
    window's first and last twentieth (at least 2 points each)."""
    n = ys.shape[0]
    edge = max(2, xs.size // 20)
    left, right = ys[:, :edge].mean(axis=1), ys[:, -edge:].mean(axis=1)
    if background == "linear":
        slope = (right - left) / (xs[-edge:].mean() - xs[:edge].mean())
        intercept = left - slope * xs[:edge].mean()
    elif background == "constant":
        slope, intercept = np.zeros(n), np.minimum(left, right)
    else:
        slope, intercept = np.zeros(n), np.zeros(n)
    return intercept, slope


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
