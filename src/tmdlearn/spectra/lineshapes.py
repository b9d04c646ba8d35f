"""Line shapes with analytic derivatives, batched over spectra, for numpy or torch arrays.

Every peak is parameterised by its height ``h``, centre ``c`` and full width at half maximum
``w`` (same unit as the axis); a pseudo-Voigt adds the Lorentzian fraction ``eta`` in [0, 1].
With ``u = 2 (x - c) / w``:

- Lorentzian ``h / (1 + u²)``
- Gaussian ``h · exp(-ln2 · u²)``
- pseudo-Voigt ``h · (eta · L + (1 - eta) · G)`` with the same FWHM for both parts.

The background is none, a constant ``b0`` or a line ``b0 + b1 · x``.
The same code runs on numpy arrays and torch tensors (the operations used exist in both).
"""

from __future__ import annotations

import math

LN2 = math.log(2.0)


def _shape_terms(xp, shape: str, x, h, c, w):
    """The profile (= ∂f/∂h) and ∂f/∂c, ∂f/∂w of f = h · profile, each (n, L)."""
    u = 2.0 * (x[None, :] - c[:, None]) / w[:, None]
    u2 = u * u
    hw = (h / w)[:, None]
    if shape == "lorentzian":
        g = 1.0 / (1.0 + u2)
        g2h = g * g * hw
        return g, 4.0 * u * g2h, 2.0 * u2 * g2h
    if shape == "gaussian":
        e = xp.exp(-LN2 * u2)
        eh = e * hw * LN2
        return e, 4.0 * u * eh, 2.0 * u2 * eh
    raise ValueError(shape)


def evaluate(xp, x, p, layout, jacobian: bool = True):
    """Model (n, L) and Jacobian (n, P, L) at parameters ``p`` (n, P) on axis ``x`` (L,).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``torch``.
    x : (L,) array
        Axis (cm⁻¹ or eV).
    p : (n, P) array
        Parameters.
    layout : tuple
        The peaks' (shape, offset) and (background, offset), as :func:`region_layout` builds.
    jacobian : bool
        Compute the Jacobian (None otherwise).

    Returns
    -------
    f : (n, L) array
    jac : (n, P, L) array or None
    """
    peaks, (background, b_offset) = layout
    n_params = p.shape[1]
    f = 0.0 * p[:, :1] * x[None, :]
    jac = None
    if jacobian:
        on_device = {"device": p.device} if hasattr(p, "device") else {}
        jac = xp.empty((p.shape[0], n_params, x.shape[0]), dtype=p.dtype, **on_device)
    for shape, k in peaks:
        h, c, w = p[:, k], p[:, k + 1], p[:, k + 2]
        if shape == "pseudo_voigt":
            eta = p[:, k + 3]
            gl, dcl, dwl = _shape_terms(xp, "lorentzian", x, h, c, w)
            gg, dcg, dwg = _shape_terms(xp, "gaussian", x, h, c, w)
            e1 = eta[:, None]
            profile = e1 * gl + (1.0 - e1) * gg
            if jacobian:
                jac[:, k + 1] = e1 * dcl + (1.0 - e1) * dcg
                jac[:, k + 2] = e1 * dwl + (1.0 - e1) * dwg
                jac[:, k + 3] = h[:, None] * (gl - gg)
        else:
            profile, dc, dw = _shape_terms(xp, shape, x, h, c, w)
            if jacobian:
                jac[:, k + 1], jac[:, k + 2] = dc, dw
        f = f + h[:, None] * profile
        if jacobian:
            jac[:, k] = profile
    if background != "none":
        f = f + p[:, b_offset, None]
        if jacobian:
            jac[:, b_offset] = 1.0
    if background == "linear":
        f = f + p[:, b_offset + 1, None] * x[None, :]
        if jacobian:
            jac[:, b_offset + 1] = x[None, :]
    if not jacobian:
        return f, None
    return f, jac


def region_layout(region):
    """(peak (shape, offset) list, (background, offset)) for a :class:`Region`.

    Parameters
    ----------
    region : Region

    Returns
    -------
    tuple
    """
    peaks, offset = [], 0
    for peak in region.peaks:
        peaks.append((peak.shape, offset))
        offset += peak.n_params
    return tuple(peaks), (region.background, offset)


def with_plain_background(region, p, x):
    """Parameters ``p`` (n, P) as fitted and stored, a linear background as its value at the
    window's mid-point and its slope, rewritten for :func:`evaluate` (intercept at x = 0).

    Parameters
    ----------
    region : Region
    p : (n, P) array
        Stored parameters of the region.
    x : (L,) array
        The region's window of the axis (its first and last points give the mid-point).

    Returns
    -------
    (n, P) array
        A copy when the background is linear, else ``p``.
    """
    if region.background != "linear" or not len(x):
        return p
    p = p.copy()
    b = region_layout(region)[1][1]
    p[:, b] -= p[:, b + 1] * 0.5 * (x[0] + x[-1])
    return p
