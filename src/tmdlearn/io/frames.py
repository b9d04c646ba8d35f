"""A STEM file's series of frames made one image: its first frame, or all frames registered
and averaged.

Low-dose HAADF of 2-D materials is often recorded as a series of short frames (DM and Velox
stacks, TIA previews, Nion sequences) that drift between frames. ``"mean"`` registers every
frame to the first (:func:`register`: cross-correlation of the frames smoothed by a Gaussian of
:data:`SMOOTH_PX`, mean removed and Hann-windowed, by
:func:`skimage.registration.phase_cross_correlation` without phase normalisation, which
tolerates shot noise, sub-pixel to 1/20 px; then refined :data:`REFINE` times on the area both
frames cover, which removes the pull towards zero shift of the frame edges), shifts it by
linear interpolation and averages; the border that some frame did not cover is cropped
(unless every shift is below a quarter pixel). Drift *within* a frame (scan distortion) is not
corrected; a shift larger than a quarter of the field is refused as a failed registration.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tmdlearn.errors import InputError

#: How a series of frames becomes one image.
FRAME_CHOICES = ("first", "mean")
#: Sub-pixel precision of the registration (1 / this, px).
UPSAMPLE = 20
#: Gaussian smoothing (σ, px) of the frames before they are correlated (shot noise).
SMOOTH_PX = 2.0
#: Refinements of a registration on the area both frames cover.
REFINE = 3
#: Cross-correlation peaks at least this fraction of the highest are candidate shifts.
AMBIGUOUS = 0.8
#: Largest registered shift, as a fraction of the smaller side of the frame.
MAX_SHIFT_FRACTION = 0.25
#: Shifts up to this (px) leave the border as it is (the edge pixel stands in).
NEGLIGIBLE_SHIFT = 0.25


def check_frames(how: str) -> str:
    """``how`` if it is one of :data:`FRAME_CHOICES`, else an InputError.

    Parameters
    ----------
    how : str
        ``"first"`` or ``"mean"``.

    Returns
    -------
    str
        ``how``.
    """
    if how not in FRAME_CHOICES:
        raise InputError(f"frames must be one of {', '.join(FRAME_CHOICES)}, got {how!r}")
    return how


def combine_frames(path: Path, stack: np.ndarray, how: str) -> tuple[np.ndarray, dict]:
    """One image from a stack of frames (module doc), and the metadata that says how.

    Parameters
    ----------
    path : Path
        The file (named in errors).
    stack : (frames, ny, nx) array
        The frames in recording order.
    how : str
        ``"first"`` (the first frame) or ``"mean"`` (all frames registered and averaged).

    Returns
    -------
    image : (ny', nx') array
        The first frame, or the average cropped to the area every frame covered.
    metadata : dict
        ``frames`` (the stack's length); with ``"mean"`` of several frames also
        ``frames_averaged``, ``frame_shifts_px`` ((dy, dx) that moved each frame onto the
        first) and ``frames_cropped_px`` (the border cut from each side).
    """
    check_frames(how)
    count = int(stack.shape[0])
    if how == "first" or count == 1:
        return stack[0], {"frames": count}
    from scipy import ndimage

    reference = np.asarray(stack[0], dtype=float)
    limit = MAX_SHIFT_FRACTION * min(reference.shape)
    total, shifts = np.zeros_like(reference), []
    for k, frame in enumerate(stack):
        frame = np.asarray(frame, dtype=float)
        shift = np.zeros(2) if k == 0 else register(reference, frame, shifts[-1])
        if np.abs(shift).max() > limit:
            raise InputError(f"frame {k + 1} of {count} registers {np.abs(shift).max():.0f} px "
                             f"off the first (more than a quarter of the field): average "
                             "fewer frames or use --frames first", path)
        total += ndimage.shift(frame, shift, order=1, mode="nearest")
        shifts.append([round(float(s), 3) for s in shift])
    largest = max(abs(s) for pair in shifts for s in pair)
    margin = math.ceil(largest) if largest > NEGLIGIBLE_SHIFT else 0
    ny, nx = reference.shape
    image = (total / count)[margin:ny - margin, margin:nx - margin]
    return image, {"frames": count, "frames_averaged": count, "frame_shifts_px": shifts,
                   "frames_cropped_px": margin}


def register(reference: np.ndarray, frame: np.ndarray, predicted=(0.0, 0.0)) -> np.ndarray:
    """The shift (dy, dx; px) that moves ``frame`` onto ``reference`` (module doc).

    A lattice looks the same shifted by a lattice vector, so at a low dose its
    cross-correlation has several peaks of about the same height: of the peaks within
    :data:`AMBIGUOUS` of the highest, the one nearest ``predicted`` (the previous frame's
    shift: drift is continuous) is taken, then refined on the area both frames cover.

    Parameters
    ----------
    reference, frame : (ny, nx) arrays
        Two frames of one series.
    predicted : (2,) sequence
        The expected shift, px.

    Returns
    -------
    (2,) array
        The shift, px, to 1 / :data:`UPSAMPLE`.
    """
    from scipy import ndimage
    from skimage.feature import peak_local_max

    a, b = _prepared(reference), _prepared(frame)
    surface = np.fft.fftshift(np.fft.ifft2(np.fft.fft2(a) * np.fft.fft2(b).conj()).real)
    peaks = peak_local_max(surface, min_distance=2, threshold_abs=AMBIGUOUS * surface.max(),
                           exclude_border=False)
    if not len(peaks):
        peaks = np.array([np.unravel_index(np.argmax(surface), surface.shape)])
    shifts = peaks - np.array(surface.shape) // 2
    shift = shifts[np.argmin(np.linalg.norm(shifts - np.asarray(predicted), axis=1))].astype(float)
    for _ in range(REFINE):
        margin = math.ceil(np.abs(shift).max()) + 2
        inner = (slice(margin, -margin),) * 2
        if min(reference[inner].shape) < 8:
            break
        moved = ndimage.shift(frame, shift, order=1, mode="nearest")
        shift = shift + _residual(reference[inner], moved[inner])
    return shift


def _prepared(image: np.ndarray) -> np.ndarray:
    """A frame smoothed (:data:`SMOOTH_PX`), its mean removed and Hann-windowed."""
    from scipy import ndimage
    from skimage.filters import window

    smooth = ndimage.gaussian_filter(np.asarray(image, float), SMOOTH_PX)
    return (smooth - smooth.mean()) * window("hann", smooth.shape)


def _residual(reference: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """The sub-pixel shift left between two frames already about aligned (at most 1 px each
    way: a larger answer is another lattice peak, not a residual, and counts as none)."""
    from skimage.registration import phase_cross_correlation

    residual = phase_cross_correlation(_prepared(reference), _prepared(moved),
                                       upsample_factor=UPSAMPLE, normalization=None)[0]
    return residual if np.abs(residual).max() <= 1.0 else np.zeros(2)
