"""Image formation of the HAADF-STEM simulator: the specimen's columns to detector counts.

The image is the projected potential (columns splatted bilinearly onto a grid, each weighted
by its ``sum(Z**n)``), blurred in one FFT by the atom size and the probe, plus low-frequency
contamination, and counted: :func:`render_ideal` with the aberration-free (Airy) probe and
Poisson noise, :func:`render_real` as a real microscope records it
(:mod:`tmdlearn.synth.microscope`: aberrated probe, scan distortion, detector, amorphous
carbon). Lengths in Å, spatial frequencies in 1/Å.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from tmdlearn.constants import Z
from tmdlearn.raster import splat
from tmdlearn.synth.microscope import (
    MicroscopeConfig,
    detect,
    draw,
    draw_microscope,
    draw_scan,
    electron_wavelength_angstrom,
    probe_intensity,
    probe_offset,
    probe_otf,
    sample_grid,
)
from tmdlearn.synth.specimen import Columns

if TYPE_CHECKING:
    from tmdlearn.synth.stem import StemSimConfig


def airy_otf(q: np.ndarray, cutoff: float) -> np.ndarray:
    """Optical transfer function of an aberration-free circular probe (Airy intensity PSF).

    Parameters
    ----------
    q : array
        Spatial frequencies, 1/Å.
    cutoff : float
        The probe's cutoff frequency 2α/λ, 1/Å.

    Returns
    -------
    array
        The transfer function (1 at q = 0, 0 beyond the cutoff), shaped as ``q``.
    """
    s = np.clip(q / cutoff, 0.0, 1.0)
    return (2 / np.pi) * (np.arccos(s) - s * np.sqrt(1 - s**2))


def _reference_peak(transfer: np.ndarray, size: int, weight: float) -> float:
    """Peak value of one isolated reference column (C or W) of HAADF ``weight`` through
    ``transfer`` (rfft2)."""
    full_sum = 2 * transfer.sum().real - transfer[:, 0].sum().real  # rfft stores half the plane
    return max(weight * full_sum / size**2, 1e-12)


def smooth_field(rng: np.random.Generator, size: int, q: np.ndarray, scale_angstrom: float
                 ) -> np.ndarray:
    """A Gaussian random field, smooth over a length scale.

    Parameters
    ----------
    rng : Generator
        Random stream.
    size : int
        Side of the square grid, pixels.
    q : (size, size // 2 + 1) array
        The grid's spatial frequencies (rfft2 layout), 1/Å.
    scale_angstrom : float
        Correlation length, Å.

    Returns
    -------
    (size, size) array
        The field (arbitrary units, zero mean).
    """
    smooth = np.exp(-2 * (np.pi * scale_angstrom * q) ** 2)
    return np.fft.irfft2(np.fft.rfft2(rng.normal(size=(size, size))) * smooth, s=(size, size))


def with_background(clean: np.ndarray, field_: np.ndarray, cfg: StemSimConfig,
                    rng: np.random.Generator, params: dict) -> np.ndarray:
    """The clean image (negative ringing clipped; 1 = a reference column's peak) raised to a
    drawn ``column_gamma``, plus a drawn flat ``background`` and the random ``field_`` scaled
    to 0..1 times a drawn ``contamination``; the gamma drawn goes into ``params``.

    A ``column_gamma`` that is one number draws nothing (the default 1 leaves every image of a
    seed as it was).

    Parameters
    ----------
    clean : array
        The columns' signal, relative to a reference column's peak.
    field_ : array
        A smooth random field shaped as ``clean`` (:func:`smooth_field`).
    cfg : StemSimConfig
        The ``column_gamma``, ``background`` and ``contamination`` ranges.
    rng : Generator
        Draws them.
    params : dict
        Receives ``column_gamma``.

    Returns
    -------
    array
        The signal before the detector, relative to the reference peak.
    """
    gamma = draw(rng, cfg.column_gamma)
    params["column_gamma"] = gamma
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-12)
    return np.clip(clean, 0, None) ** gamma + draw(rng, cfg.background) + \
        draw(rng, cfg.contamination) * field_


def render_ideal(cfg: StemSimConfig, rng: np.random.Generator, cols: Columns, pix: float,
                 pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image through the aberration-free Airy probe with Poisson noise: the original,
    idealised microscope (``microscope: None``).

    Parameters
    ----------
    cfg : StemSimConfig
        The simulator's parameters (probe, atom size, dose, contamination ranges).
    rng : Generator
        The image's random stream (after the specimen's draws).
    cols : Columns
        The specimen; its ``params`` receive the values drawn here.
    pix : float
        Pixel size, Å.
    pad : int
        Pixels added around the field before the FFT blur.

    Returns
    -------
    image : (size_px, size_px) float32 array
        Detector counts.
    x, y : (N,) arrays
        The columns' positions on the image grid, pixels.
    """
    n = cfg.size_px
    half = (n - 1) / 2
    x, y = cols.x / pix + half, cols.y / pix + half
    size = n + 2 * pad
    potential = splat((size, size), x + pad, y + pad, cols.weight)
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pix), np.fft.rfftfreq(size, pix),
                              indexing="ij"))
    convergence = draw(rng, cfg.convergence_mrad)
    cutoff = 2 * convergence * 1e-3 / electron_wavelength_angstrom(cfg.energy_kev)
    sigma = draw(rng, cfg.atom_sigma_angstrom)
    transfer = airy_otf(q, cutoff) * np.exp(-2 * (np.pi * sigma * q) ** 2)
    clean = np.fft.irfft2(np.fft.rfft2(potential) * transfer, s=(size, size))
    peak = _reference_peak(transfer, size, cols.params["reference_weight"])
    clean = clean[pad:pad + n, pad:pad + n] / peak
    field_ = smooth_field(rng, size, q, cfg.contamination_scale_angstrom)[pad:pad + n,
                                                                           pad:pad + n]
    signal = with_background(clean, field_, cfg, rng, cols.params)
    dose = draw(rng, cfg.dose, log=True)
    cols.params.update(dose=dose, probe_cutoff_inv_angstrom=cutoff, atom_sigma_angstrom=sigma)
    return rng.poisson(signal * dose).astype(np.float32), x, y


def amorphous_carbon(cfg: StemSimConfig, rng: np.random.Generator, radius: float,
                     exponent: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Amorphous-carbon contamination atoms within a square around the centre.

    Patches of a random field smooth over 3-50 Å cover a drawn fraction; a drawn thickness of
    carbon at 0.1 atoms/Å³ (2 g/cm³) fills them at random positions (granular at the atom
    scale).

    Parameters
    ----------
    cfg : StemSimConfig
        Its ``amorphous_*`` ranges are drawn.
    rng : Generator
        Random stream.
    radius : float
        Half side of the square, Å.
    exponent : float
        The HAADF Z exponent n (weights Z_C^n).

    Returns
    -------
    x, y, weights : (N,) arrays
        Atom positions (Å from the centre) and HAADF weights.
    drawn : dict
        The values drawn (coverage, thickness Å, patch scale Å).
    """
    coverage = draw(rng, cfg.amorphous_coverage)
    if coverage <= 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), {"amorphous_coverage": 0.0}
    thickness = draw(rng, cfg.amorphous_thickness_angstrom)
    scale = draw(rng, cfg.amorphous_scale_angstrom, log=True)
    step = scale / 4
    m = int(np.ceil(2 * radius / step)) + 1
    field_ = ndimage.gaussian_filter(rng.normal(size=(m, m)), 4, mode="wrap")
    field_ = (field_ - field_.mean()) / max(field_.std(), 1e-12)
    cut = np.quantile(field_, 1 - coverage)
    area = (2 * radius) ** 2
    count = rng.poisson(0.1 * thickness * area)
    xy = rng.uniform(-radius, radius, (count, 2))
    at = ndimage.map_coordinates(field_, ((xy[:, 1] + radius) / step, (xy[:, 0] + radius) / step),
                                 order=1, mode="nearest")
    keep = rng.random(count) < np.clip((at - cut) / 0.5 + 0.5, 0, 1)
    drawn = {"amorphous_coverage": coverage, "amorphous_thickness_angstrom": thickness,
             "amorphous_scale_angstrom": scale}
    xy = xy[keep]
    return xy[:, 0], xy[:, 1], np.full(len(xy), Z["C"] ** exponent), drawn


def column_image(x: np.ndarray, y: np.ndarray, weights: np.ndarray, size: int, pixel: float,
                 micro: dict[str, float], sigma: float, probe: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Clean HAADF image of weighted columns through a real microscope's probe.

    The columns are splatted bilinearly on a square grid centred on the origin and blurred
    in one FFT by the probe intensity with its source size (:func:`probe_otf`) and the
    atom-size Gaussian.

    Parameters
    ----------
    x, y : (N,) arrays
        Column positions, Å from the grid centre.
    weights : (N,) array
        HAADF weights (``Σ Zⁿ`` of each column's atoms).
    size : int
        Side of the grid, pixels.
    pixel : float
        Pixel size, Å.
    micro : dict
        A drawn microscope (:func:`draw_microscope`): energy, convergence, aberrations,
        source size.
    sigma : float
        Atom-size Gaussian σ, Å.
    probe : (size, size) array, optional
        The probe intensity of ``micro`` on this grid (:func:`probe_intensity`), if made.

    Returns
    -------
    image : (size, size) array
        The clean image (weight units per pixel, times the transfer at q = 0, which is 1).
    transfer : (size, size // 2 + 1) array
        The transfer function used (rfft2 layout).
    """
    c = (size - 1) / 2
    potential = splat((size, size), x / pixel + c, y / pixel + c, weights)
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pixel), np.fft.rfftfreq(size, pixel),
                              indexing="ij"))
    probe = probe_intensity(size, pixel, micro) if probe is None else probe
    transfer = probe_otf(probe, pixel, micro) * np.exp(-2 * (np.pi * sigma * q) ** 2)
    return np.fft.irfft2(np.fft.rfft2(potential) * transfer, s=(size, size)), transfer


def render_real(cfg: StemSimConfig, rng: np.random.Generator, cols: Columns, pix: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image as a real microscope records it (:mod:`tmdlearn.synth.microscope`).

    The image is recorded at a native pixel size (``native_ratio`` × ``pix``), through the
    aberrated probe and scan distortion, counted by the detector, and resampled to the
    ``size_px`` grid as :func:`tmdlearn.stem.inference.identify_atoms` resamples.

    Parameters
    ----------
    cfg, rng, cols
        As :func:`render_ideal` (here the ``microscope`` ranges, ``native_ratio`` and the
        contamination of ``cfg`` are drawn).
    pix : float
        The model grid's pixel size, Å.

    Returns
    -------
    image, x, y
        As :func:`render_ideal`, positions on the model grid.
    """
    from skimage.transform import resize

    micro = draw_microscope(MicroscopeConfig.from_dict(cfg.microscope), rng)
    n = cfg.size_px
    ratio = draw(rng, cfg.native_ratio, log=True)
    n_native = max(16, int(round(n / ratio)))
    p_native = pix * n / n_native
    scan = draw_scan(n_native, p_native, micro, rng)
    sx, sy = scan.positions()
    reach = float(max(np.abs(sx).max(), np.abs(sy).max())) + 6.0
    exponent = cols.params["z_exponent"]
    ax, ay, aw, amorphous = amorphous_carbon(cfg, rng, reach, exponent)
    size = 2 * int(np.ceil(reach / p_native)) + 1
    sigma = draw(rng, cfg.atom_sigma_angstrom)
    probe = probe_intensity(size, p_native, micro)
    clean, transfer = column_image(np.concatenate([cols.x, ax]), np.concatenate([cols.y, ay]),
                                   np.concatenate([cols.weight, aw]), size, p_native, micro,
                                   sigma, probe)
    clean /= _reference_peak(transfer, size, cols.params["reference_weight"])
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, p_native), np.fft.rfftfreq(size, p_native),
                              indexing="ij"))
    signal = with_background(clean, smooth_field(rng, size, q, cfg.contamination_scale_angstrom),
                             cfg, rng, cols.params)
    image = detect(sample_grid(signal, p_native, sx, sy), micro, rng)
    if n_native != n:
        image = resize(image, (n, n), order=1, anti_aliasing=n < n_native,
                       preserve_range=True).astype(np.float32)
    # an atom at X is brightest where the probe's maximum meets it: at beam position X - offset
    dx, dy = probe_offset(probe, p_native)
    xn, yn = scan.pixels(cols.x - dx, cols.y - dy)
    cols.params.update(micro, native_pixel_angstrom=p_native, atom_sigma_angstrom=sigma,
                       **amorphous)
    return image, (xn + 0.5) * n / n_native - 0.5, (yn + 0.5) * n / n_native - 0.5
