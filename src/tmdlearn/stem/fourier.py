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

from tmdlearn.constants import LATTICE_RANGE_ANGSTROM
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
#: Plane spacings (px) searched for the image's own lattice whatever the pixel size: from near
#: the Nyquist limit to fine sampling (a TMD's first-order planes at 0.05 Å/px: 55 px apart).
PERIOD_PX = (2.2, 60.0)


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
                 tolerance: float = 0.35, max_lattices: int = 2, min_strength: float = 50.0,
                 max_spots: int = 60) -> list[FftLattice]:
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
    max_spots : int
        Most local maxima of the ring taken as candidate spots (strongest first).

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
                           threshold_abs=min_strength * level, num_peaks=max_spots)
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


def lattice_spacing_px(image: np.ndarray, min_spots: int = 4) -> FftLattice | None:
    """The image's strongest hexagonal lattice over plane spacings :data:`PERIOD_PX`, found
    without a pixel size: its ``spacing_angstrom`` is in pixels. Spot pairs within 4 % of the
    strongest one's spacing count together (two layers of one material, or one lattice whose
    spots scan distortion spread over several orientations). In HAADF images of graphene and
    TMDs the strongest spots are the first-order ones (planes a √3 / 2 apart; checked on the
    real and simulated images of ``tests/test_stem_fourier.py``).

    Parameters
    ----------
    image : (H, W) array
        The HAADF image.
    min_spots : int
        Least spots of that spacing.

    Returns
    -------
    FftLattice or None
        The strongest lattice's orientation, the spots' mean spacing (px, weighted by
        strength), their count and the strongest's strength; None when the transform shows no
        such lattice (amorphous, noise).
    """
    k_low, k_high = 1 / PERIOD_PX[1], 1 / PERIOD_PX[0]
    ring = (k_low + k_high) / 2
    found = fft_lattices(image, 1.0, 2 / (ring * np.sqrt(3)),
                         tolerance=(k_high - k_low) / (k_high + k_low), max_lattices=6)
    if not found:
        return None
    same = [f for f in found if abs(f.spacing_angstrom / found[0].spacing_angstrom - 1) < 0.04]
    spots = sum(f.spots for f in same)
    if spots < min_spots:
        return None
    spacing = np.average([f.spacing_angstrom for f in same], weights=[f.strength for f in same])
    return FftLattice(found[0].angle_deg, float(spacing), spots, found[0].strength)


def implied_pixel_sizes(spacing_px: float) -> dict[str, tuple[float, float]]:
    """Pixel sizes (least, most; Å/px) at which first-order planes ``spacing_px`` apart belong to
    each material's lattices (:data:`tmdlearn.constants.LATTICE_RANGE_ANGSTROM`).

    Parameters
    ----------
    spacing_px : float
        Plane spacing in pixels (:func:`lattice_spacing_px`).

    Returns
    -------
    dict of str to (float, float)
    """
    return {m: tuple(a * np.sqrt(3) / 2 / spacing_px for a in lattices)
            for m, lattices in LATTICE_RANGE_ANGSTROM.items()}


def pixel_size_text(low: float, high: float) -> str:
    """'0.104' or '0.0755-0.0787' (Å/px, three significant digits).

    Parameters
    ----------
    low, high : float
        A pixel size range (Å/px).

    Returns
    -------
    str
    """
    return f"{low:.3g}" if high / low < 1.005 else f"{low:.3g}-{high:.3g}"


#: What ``--material`` takes for each model material's lattice (the TMD model's pure films:
#: :data:`tmdlearn.stem.films.FILMS`), for hints.
MATERIAL_NAMES = {"graphene": "graphene", "ws2": "ws2, wse2, mos2 or mose2"}


def lattice_hint(image: np.ndarray) -> str:
    """What the image's own lattice says of its pixel size, for a file that stores none:
    'its lattice (Fourier transform, planes 36.2 px apart) suggests 0.0755-0.0787 Å/px for a
    2H TMD (--material ws2, wse2, mos2 or mose2), 0.0589 for graphene'; '' without a clear
    lattice.

    Parameters
    ----------
    image : (H, W) array
        The HAADF image.

    Returns
    -------
    str
    """
    lattice = lattice_spacing_px(image)
    if lattice is None:
        return ""
    ranges = implied_pixel_sizes(lattice.spacing_angstrom)
    named = {"ws2": f"a 2H TMD (--material {MATERIAL_NAMES['ws2']})"}
    return (f"its lattice (Fourier transform, planes {lattice.spacing_angstrom:.1f} px apart) "
            "suggests " + ", ".join(f"{pixel_size_text(*r)} Å/px for {named.get(m, m)}"
                                    for m, r in ranges.items()))


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
