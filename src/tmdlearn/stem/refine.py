"""Position refinement against the image: the network's atoms moved to the centres of 2-D
Gaussians fitted to the HAADF image, as the field refines atom columns (Atomap-style).

All atoms are fitted jointly, in a few sweeps: in each, every atom's position and peak height
take one Gauss-Newton step that fits its spot, inside a disk of ``WINDOW_ANGSTROM`` around the
network's position, to the image less the rendered spots of all the other atoms and less a
smooth background (the residual smoothed over ``BACKGROUND_ANGSTROM``: contamination and
thickness). The spot width is one for all atoms, the one that renders the image best
(:func:`tmdlearn.stem.render.render_back`); each atom has its own height (W and chalcogen
columns, overlapping columns of two layers). Each move is bounded to ``MAX_SHIFT_ANGSTROM``
from the network's position, and an atom keeps the network's position when its fit is
ill-posed: another atom (of any layer) within ``MIN_SEPARATION_ANGSTROM`` (two spots that close
cannot be told apart), a fitted height below ``MIN_HEIGHT`` of its species' height, or its fit
disk mostly outside the image. Positions in pixels of the image's grid, lengths in Å.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import fft
from scipy.spatial import cKDTree

from tmdlearn.raster import padded_frequencies, splat, splat_blur
from tmdlearn.stem.render import BACKGROUND_ANGSTROM, box_blur, render_back

#: Radius (Å) of the disk around the network's position in which an atom's spot is fitted.
WINDOW_ANGSTROM = 0.6
#: Largest move (Å) from the network's position; a longer one is cut to this length.
MAX_SHIFT_ANGSTROM = 0.3
#: An atom with another atom closer than this (Å) keeps the network's position.
MIN_SEPARATION_ANGSTROM = 0.5
#: An atom whose fitted height falls below this fraction of its species' keeps its position.
MIN_HEIGHT = 0.2
#: Joint sweeps (every atom one Gauss-Newton step against the others' rendered spots).
SWEEPS = 4
#: Spot widths tried, as factors of the rendering's (:func:`render_back`); the one whose
#: joint fit leaves the smallest residual wins (the rendering's, fitted on a low-passed image
#: against smooth spots, is off by up to a third from the raw image's best).
WIDTH_FACTORS = (0.8, 1.0, 1.25, 1.6)
#: Fraction of each sweep's step taken (damps the see-saw of neighbours fitted at once).
STEP = 0.7


def refine_positions(image: np.ndarray, atoms: pd.DataFrame, pixel_size_angstrom: float,
                     window_angstrom: float = WINDOW_ANGSTROM,
                     max_shift_angstrom: float = MAX_SHIFT_ANGSTROM,
                     min_separation_angstrom: float = MIN_SEPARATION_ANGSTROM,
                     sweeps: int = SWEEPS, width_angstrom: float | None = None
                     ) -> pd.DataFrame:
    """Copy of ``atoms`` with each position refined by a joint 2-D Gaussian fit to ``image``
    (module doc).

    Parameters
    ----------
    image : (ny, nx) array
        The HAADF image (counts or any linear unit).
    atoms : DataFrame
        Found atoms: ``x_px``, ``y_px`` (pixels of ``image``), ``species`` and any other
        columns (kept).
    pixel_size_angstrom : float
        Pixel size of ``image``, Å.
    window_angstrom : float
        Radius (Å) of each atom's fit disk around its starting position.
    max_shift_angstrom : float
        Largest move (Å).
    min_separation_angstrom : float
        Atoms closer than this (Å) to another keep their position.
    sweeps : int
        Joint sweeps.
    width_angstrom : float, optional
        The spots' Gaussian σ (Å); default the one of ``WIDTH_FACTORS`` × the rendering's
        (:func:`render_back`) whose fit leaves the smallest residual.

    Returns
    -------
    DataFrame
        ``atoms`` with refined ``x_px``, ``y_px``.
    """
    atoms = atoms.copy()
    fit = _fit(image, atoms, pixel_size_angstrom, window_angstrom, max_shift_angstrom,
               min_separation_angstrom, sweeps, width_angstrom, move=True)
    if fit is None:
        return atoms
    xy, amp, start, free, height = fit
    ok = free & (amp >= MIN_HEIGHT * height) & np.isfinite(xy).all(axis=1)
    xy[~ok] = start[~ok]
    atoms["x_px"], atoms["y_px"] = xy[:, 0], xy[:, 1]
    return atoms


def column_heights(image: np.ndarray, atoms: pd.DataFrame, pixel_size_angstrom: float,
                   sweeps: int = SWEEPS) -> np.ndarray:
    """Each column's peak height (image units above the smooth background) by the joint 2-D
    Gaussian fit of :func:`refine_positions` with the positions kept: the heights of
    overlapping spots are shared out by the fit, not read off the image. NaN where a height is
    ill-posed (another atom within ``MIN_SEPARATION_ANGSTROM``, or the fit disk mostly
    outside the image).

    Parameters
    ----------
    image : (ny, nx) array
        The HAADF image (counts or any linear unit).
    atoms : DataFrame
        Atoms: ``x_px``, ``y_px`` (pixels of ``image``) and ``species``.
    pixel_size_angstrom : float
        Pixel size of ``image``, Å.
    sweeps : int
        Joint sweeps.

    Returns
    -------
    (n,) array
        Heights, in the image's unit; all NaN when no spot width can be fitted.
    """
    fit = _fit(image, atoms, pixel_size_angstrom, WINDOW_ANGSTROM, MAX_SHIFT_ANGSTROM,
               MIN_SEPARATION_ANGSTROM, sweeps, None, move=False)
    if fit is None:
        return np.full(len(atoms), np.nan)
    _, amp, _, free, _ = fit
    return np.where(free, amp, np.nan)


def _fit(image: np.ndarray, atoms: pd.DataFrame, pix: float, window_angstrom: float,
         max_shift_angstrom: float, min_separation_angstrom: float, sweeps: int,
         width_angstrom: float | None, move: bool):
    """The joint fit of the best width (module doc): positions (n, 2) px, heights, starting
    positions, the atoms whose fit is well posed and the starting heights; None without
    atoms or a width. With ``move`` False every position is kept."""
    values = np.asarray(image, float)
    if len(atoms) == 0:
        return None
    pix = float(pix)
    start = atoms[["x_px", "y_px"]].to_numpy(float)
    rendering = render_back(values, atoms, pix)
    widths = ([width_angstrom] if width_angstrom is not None
              else [rendering.width_angstrom * f for f in WIDTH_FACTORS])
    if not all(np.isfinite(w) and w > 0 for w in widths):
        return None
    patch = _Patches(values, start, window_angstrom / pix, max_shift_angstrom / pix)
    height = _species_heights(values, atoms["species"].astype(str).to_numpy(), rendering)
    free = _inside(start, patch) & _isolated(start, min_separation_angstrom / pix)
    moving = free if move else np.zeros(len(start), bool)
    fits = [_joint_fit(values, patch, start, height, w / pix, moving, sweeps,
                       max_shift_angstrom / pix, BACKGROUND_ANGSTROM / pix) for w in widths]
    xy, amp, _ = min(fits, key=lambda fit: fit[2])
    return xy, amp, start, free, height


def _joint_fit(values: np.ndarray, patch: _Patches, start: np.ndarray, height: np.ndarray,
               sigma_px: float, free: np.ndarray, sweeps: int, max_shift_px: float,
               background_px: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Positions (n, 2) px and heights after ``sweeps`` joint sweeps with spots of
    ``sigma_px``, and the sum of squared residuals of the image they leave (module doc)."""
    xy, amp = start.copy(), height.copy()
    for _ in range(sweeps):
        model = render_spots(values.shape, xy, amp, sigma_px).ravel()
        own = amp[:, None] * patch.spots(xy, sigma_px)
        background = box_blur(values - model.reshape(values.shape), background_px).ravel()
        target = patch.data - background[patch.index] - (model[patch.index] - own)
        step = patch.gauss_newton(xy, amp, target, sigma_px)
        step[~free, :2] = 0.0
        xy, amp = xy + STEP * step[:, :2], amp + STEP * step[:, 2]
        xy = _bounded(xy, start, max_shift_px)
    residual = values - render_spots(values.shape, xy, amp, sigma_px)
    residual -= box_blur(residual, background_px)
    return xy, amp, float(np.sum(residual ** 2))


class _Patches:
    """Square pixel patches around every atom's starting position (as large as its fit disk
    can move), the fit disks in them, and the Gaussian spots there (module doc)."""

    def __init__(self, values: np.ndarray, start: np.ndarray, window_px: float,
                 shift_px: float):
        ny, nx = values.shape
        half = int(np.ceil(window_px + shift_px)) + 1
        offsets = np.arange(-half, half + 1)
        centre = np.rint(start).astype(int)
        px = (centre[:, :1] + offsets[None, :])[:, None, :]  # (n, 1, side)
        py = (centre[:, 1:] + offsets[None, :])[:, :, None]  # (n, side, 1)
        inside = (px >= 0) & (px < nx) & (py >= 0) & (py < ny)
        n = len(start)
        self.x = np.broadcast_to(px, inside.shape).reshape(n, -1).astype(float)
        self.y = np.broadcast_to(py, inside.shape).reshape(n, -1).astype(float)
        self.inside = inside.reshape(n, -1)
        self.index = (np.clip(self.y, 0, ny - 1) * nx + np.clip(self.x, 0, nx - 1)).astype(int)
        self.data = values.ravel()[self.index]
        self.window = window_px
        self.full_disk = self.disk(start).sum(axis=1)

    def disk(self, xy: np.ndarray) -> np.ndarray:
        """The patch pixels (n, patch pixels) within the fit radius of ``xy``."""
        return (self.x - xy[:, :1]) ** 2 + (self.y - xy[:, 1:]) ** 2 <= self.window ** 2

    def spots(self, xy: np.ndarray, sigma_px: float) -> np.ndarray:
        """Unit-height Gaussian spots (n, patch pixels) of σ ``sigma_px`` at ``xy``, zero
        outside the image."""
        r2 = (self.x - xy[:, :1]) ** 2 + (self.y - xy[:, 1:]) ** 2
        return np.exp(-r2 / (2 * sigma_px ** 2)) * self.inside

    def gauss_newton(self, xy: np.ndarray, amp: np.ndarray, target: np.ndarray,
                     sigma_px: float) -> np.ndarray:
        """One Gauss-Newton step (n, 3: dx, dy px and d height) of every atom's spot to
        ``target`` (n, patch pixels) over its fit disk; zero where the step is undefined."""
        g, fit = self.spots(xy, sigma_px), self.disk(xy) & self.inside
        residual = (target - amp[:, None] * g) * fit
        slope = amp[:, None] * g / sigma_px ** 2
        jac = np.stack([slope * (self.x - xy[:, :1]), slope * (self.y - xy[:, 1:]), g], axis=-1)
        jac *= fit[..., None]
        normal = np.einsum("npi,npj->nij", jac, jac)
        normal += 1e-9 * np.trace(normal, axis1=1, axis2=2)[:, None, None] * np.eye(3)
        gradient = np.einsum("npi,np->ni", jac, residual)
        good = np.linalg.det(normal) > 0
        step = np.zeros_like(gradient)
        step[good] = np.linalg.solve(normal[good], gradient[good][..., None])[..., 0]
        return step


def render_spots(shape: tuple[int, int], xy: np.ndarray, heights: np.ndarray,
                 sigma_px: float) -> np.ndarray:
    """Gaussian spots of σ ``sigma_px`` and peak ``heights`` at ``xy`` (n, 2) px, summed on a
    grid of ``shape``: their volumes splatted bilinearly on a padded grid and blurred in
    Fourier space (:func:`tmdlearn.raster.splat_blur`).

    Parameters
    ----------
    shape : (ny, nx)
        Grid size, px.
    xy : (n, 2) array
        Spot centres, px.
    heights : (n,) array
        Peak heights.
    sigma_px : float
        Gaussian σ, px.

    Returns
    -------
    (ny, nx) ndarray
        The rendering.
    """
    ny, nx = shape
    pad = int(np.ceil(4 * sigma_px)) + 1
    padded, q2 = padded_frequencies(shape, pad)
    volumes = np.asarray(heights, float) * 2 * np.pi * sigma_px ** 2
    points = splat(padded, xy[:, 0] + pad, xy[:, 1] + pad, volumes)
    blur = splat_blur(q2, sigma_px ** 2)
    return fft.irfft2(fft.rfft2(points) * blur, s=padded)[pad:pad + ny, pad:pad + nx]


def _species_heights(values: np.ndarray, species: np.ndarray, rendering) -> np.ndarray:
    """Starting spot height of every atom: its species' height in the rendering, or the
    image's robust peak-to-median range where that is missing or not positive."""
    spread = float(np.percentile(values, 99) - np.median(values))
    heights = np.array([rendering.amplitudes.get(name, spread) for name in species], float)
    return np.where(np.isfinite(heights) & (heights > 0), heights, max(spread, 1e-12))


def _isolated(start: np.ndarray, min_separation_px: float) -> np.ndarray:
    """Atoms with no other atom within ``min_separation_px``."""
    close = np.zeros(len(start), bool)
    close[cKDTree(start).query_pairs(min_separation_px, output_type="ndarray").ravel()] = True
    return ~close


def _inside(start: np.ndarray, patch: _Patches) -> np.ndarray:
    """Atoms with at least half their fit disk inside the image."""
    return (patch.disk(start) & patch.inside).sum(axis=1) >= 0.5 * patch.full_disk


def _bounded(xy: np.ndarray, start: np.ndarray, max_shift_px: float) -> np.ndarray:
    """``xy`` with every move from ``start`` longer than ``max_shift_px`` cut to that length."""
    move = xy - start
    length = np.hypot(*move.T)
    scale = np.minimum(1.0, max_shift_px / np.maximum(length, 1e-12))
    return start + move * scale[:, None]
