"""The lattices an image shows in its Fourier transform, independent of any atom finding.

A hexagonal lattice of constant ``a`` puts six first-order spots on a ring of radius
``2 / (a sqrt 3)`` (1/Å; lattice planes ``a sqrt(3) / 2`` apart) in the power spectrum of its
HAADF image, 60° apart. :func:`fft_lattices` finds the brightest spots in a wide ring about
the expected one, groups them by their orientation modulo 60° and returns up to two lattices
(orientation and plane spacing). A twisted bilayer shows two such sets; their difference is
the twist, which the atoms found in each layer must reproduce, and their spacing checks the
pixel size. Orientations are of the reciprocal vectors, which in a honeycomb are parallel to
its bonds (modulo 60°), so they compare directly with
:attr:`tmdlearn.stem.honeycomb.Lattice.angle_rad`. Lengths in Å, angles in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.feature import peak_local_max

from tmdlearn.stem.honeycomb import angle_between


@dataclass(frozen=True)
class FftLattice:
    """One lattice seen in the power spectrum: orientation of its spots (degrees, 0-60), their
    plane spacing (Å), how many of the six spots were found, and their strength (peak over the
    ring's median power)."""

    angle_deg: float
    spacing_angstrom: float
    spots: int
    strength: float


#: Side of the zero-padded transform; spots are then placed to a fraction of its pixel by their
#: intensity centroid.
PADDED = 512


def _power(image: np.ndarray) -> np.ndarray:
    """Centred power spectrum of the mean-subtracted, Hann-windowed image, zero-padded to at
    least :data:`PADDED` per side."""
    image = np.asarray(image, float)
    window = np.outer(np.hanning(image.shape[0]), np.hanning(image.shape[1]))
    shape = tuple(max(PADDED, n) for n in image.shape)
    return np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * window, s=shape))) ** 2


def _centroids(power: np.ndarray, peaks: np.ndarray, kx: np.ndarray, ky: np.ndarray,
               half: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel spot positions (1/Å): power-weighted centroids in (2 half + 1)² windows."""
    offsets = np.arange(-half, half + 1)
    rows = np.clip(peaks[:, :1, None] + offsets[None, :, None], 0, len(ky) - 1)
    cols = np.clip(peaks[:, 1:, None] + offsets[None, None, :], 0, len(kx) - 1)
    weight = power[rows, cols]
    weight = weight - weight.min(axis=(1, 2), keepdims=True)
    total = weight.sum(axis=(1, 2))
    return ((weight * kx[cols]).sum(axis=(1, 2)) / total,
            (weight * ky[rows]).sum(axis=(1, 2)) / total)


def fft_lattices(image: np.ndarray, pixel_size_angstrom: float, lattice_angstrom: float,
                 tolerance: float = 0.35, max_lattices: int = 2, min_strength: float = 50.0
                 ) -> list[FftLattice]:
    """Hexagonal lattices (strongest first) whose first-order spots lie within ``tolerance``
    (relative) of the ring of a lattice constant ``lattice_angstrom``.

    The spots are local maxima of the power spectrum in that ring at least ``min_strength``
    times its median power; a lattice needs two spots (one Friedel pair) within 3° of a common
    orientation modulo 60° and 8 % of a common radius (scan distortion spreads them).

    Parameters
    ----------
    image : (H, W) array
        The HAADF image.
    pixel_size_angstrom : float
        Pixel size (Å/px).
    lattice_angstrom : float
        Expected lattice constant a (Å); the ring has radius 2 / (a sqrt 3) (1/Å).
    tolerance : float
        Relative half-width of the ring searched.
    max_lattices : int
        Most lattices returned.
    min_strength : float
        Least spot power over the ring's median power.

    Returns
    -------
    list of FftLattice
        Orientation (degrees, 0-60) and plane spacing (Å) of each; empty for an image with no
        such periodicity (amorphous, noise).
    """
    power = _power(image)
    ny, nx = power.shape
    ky = np.fft.fftshift(np.fft.fftfreq(ny, pixel_size_angstrom))
    kx = np.fft.fftshift(np.fft.fftfreq(nx, pixel_size_angstrom))
    kxx, kyy = np.meshgrid(kx, ky)
    k = np.hypot(kxx, kyy)
    ring = 2 / (lattice_angstrom * np.sqrt(3))
    inside = np.abs(k / ring - 1) <= tolerance
    level = float(np.median(power[inside]))
    peaks = peak_local_max(np.where(inside, power, 0), min_distance=4,
                           threshold_abs=min_strength * level, num_peaks=60)
    if len(peaks) == 0:
        return []
    strength = power[peaks[:, 0], peaks[:, 1]] / level
    kx_spot, ky_spot = _centroids(power, peaks, kx, ky)
    angle = np.degrees(np.arctan2(ky_spot, kx_spot)) % 60
    radius = np.hypot(kx_spot, ky_spot)
    found: list[FftLattice] = []
    free = np.ones(len(peaks), bool)
    for i in np.argsort(-strength):
        if not free[i]:
            continue
        members = free & (np.array([angle_between(angle[i], a) for a in angle]) < 3.0) & \
            (np.abs(radius / radius[i] - 1) < 0.08)
        if members.sum() < 2:
            continue
        free &= ~members
        weights = strength[members]
        mean_angle = np.degrees(np.angle(np.sum(weights * np.exp(6j * np.radians(
            angle[members]))))) / 6 % 60
        found.append(FftLattice(float(mean_angle), float(1 / np.average(radius[members],
                                                                        weights=weights)),
                                int(members.sum()), float(weights.max())))
        if len(found) == max_lattices:
            break
    return found


def fft_twist_deg(lattices: list[FftLattice]) -> float:
    """The twist (0-30°) between the two strongest lattices, NaN with fewer than two.

    Parameters
    ----------
    lattices : list of FftLattice
        As :func:`fft_lattices` returns them, strongest first.

    Returns
    -------
    float
        Degrees.
    """
    if len(lattices) < 2:
        return float("nan")
    return angle_between(lattices[0].angle_deg, lattices[1].angle_deg)
