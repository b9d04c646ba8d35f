"""The microscope of the STEM simulator: what a real HAADF instrument does to a specimen.

A specimen is a set of projected atomic columns with HAADF weights. A real aberration-corrected
STEM records it through

- an **aberrated probe**: the intensity of the inverse Fourier transform of the condenser
  aperture times ``exp(-i chi)``, with residual defocus C1, twofold astigmatism A1, axial coma
  B2, threefold astigmatism A2 and spherical aberration C3 (:func:`chi`); the probe wavelength
  follows the beam energy;
- a finite **source size**: a Gaussian blur of the probe (incoherent);
- **scan distortion**: every pixel is recorded where the beam really was
  (:func:`scan_positions`): anisotropic scale and drift shear (an affine map), a slow wander of
  each line's start (drift), white line-to-line jitter along the fast axis, and the fly-back
  lag at the start of each line;
- a **detector**: Poisson electron counting at the dose drawn, a scintillator/PMT pulse-height
  spread (each electron's pulse is Gamma distributed), readout noise, a dark offset, a slow
  drift of the gain from line to line, a non-linear (power-law) response and a 16-bit ADC
  (:func:`detect`).

Every range is drawn per image by :func:`draw_microscope`; docs/stem.md justifies them.
Lengths in Å, angles in radians, convergence semi-angle in mrad, energy in keV. Aberration
names and signs follow abTEM (``C10`` = −defocus, ``C12``/``phi12`` …), so the same drawn
microscope drives an abTEM multislice probe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from tmdlearn.config import dataclass_from_mapping

#: ADC full scale of a 16-bit detector image, counts.
ADC_MAX = 65535.0
#: Lines of the frame a scan's slow wander is drawn over (a crop is part of such a frame).
FRAME_LINES = 512


def electron_wavelength_angstrom(energy_kev: float) -> float:
    """Relativistic electron wavelength in Å at ``energy_kev``.

    Parameters
    ----------
    energy_kev : float

    Returns
    -------
    float
    """
    volts = energy_kev * 1e3
    return 12.2643 / np.sqrt(volts * (1 + 0.97845e-6 * volts))


def draw(rng: np.random.Generator, value, log: bool = False) -> float:
    """A number: ``value`` itself, or uniform (log-uniform with ``log``) in a pair (lo, hi).

    Parameters
    ----------
    rng : Generator
    value : float or (lo, hi)
    log : bool

    Returns
    -------
    float
    """
    if np.isscalar(value):
        return float(value)
    lo, hi = float(value[0]), float(value[1])
    if log:
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return float(rng.uniform(lo, hi))


@dataclass
class MicroscopeConfig:
    """Ranges of the microscope drawn per image; a pair ``(lo, hi)`` is drawn uniformly.

    Aberrations are magnitudes in Å (their azimuths are uniform), except
    ``defocus_angstrom``, the signed range of ``C10`` itself (abTEM's sign: ``C10`` = −Δf, so
    an overfocus range is given negated); ``dose`` is the mean number of
    detected electrons on a reference column (log-uniform); ``fill`` the fraction of the ADC
    range above the dark offset that the brightest pixels reach (the operator's
    brightness/contrast; log-uniform); ``pulse_shape`` the Gamma shape of one electron's pulse
    height (larger: narrower); ``readout_sigma`` readout noise in electrons; ``scan_scale`` /
    ``scan_shear`` the largest relative anisotropic scale / shear; ``jitter_angstrom`` the rms
    white jitter of each line; ``drift_angstrom`` the rms slow wander of the lines;
    ``flyback_px`` the lag at a line's start, decaying over ``flyback_decay_px`` pixels;
    ``line_gain`` the rms slow relative gain drift between lines; ``gamma`` the exponent of the
    detector response; ``saturate`` the fraction of the brightest pixels clipped (a saturated
    detector; 0 for training).
    """

    energy_kev: tuple[float, float] = (60.0, 80.0)
    convergence_mrad: tuple[float, float] = (24.0, 35.0)
    defocus_angstrom: tuple[float, float] = (-30.0, 30.0)
    astigmatism_angstrom: tuple[float, float] = (0.0, 20.0)
    coma_angstrom: tuple[float, float] = (0.0, 400.0)
    threefold_angstrom: tuple[float, float] = (0.0, 400.0)
    spherical_angstrom: tuple[float, float] = (-2e4, 2e4)
    source_fwhm_angstrom: tuple[float, float] = (0.3, 0.8)
    dose: tuple[float, float] = (8.0, 3000.0)
    fill: tuple[float, float] = (0.03, 0.8)
    pulse_shape: tuple[float, float] = (2.0, 20.0)
    readout_sigma: tuple[float, float] = (0.0, 1.0)
    dark_offset: tuple[float, float] = (0.0, 12000.0)
    scan_scale: float = 0.05
    scan_shear: float = 0.04
    jitter_angstrom: tuple[float, float] = (0.0, 0.12)
    drift_angstrom: tuple[float, float] = (0.0, 0.3)
    flyback_px: tuple[float, float] = (0.0, 3.0)
    flyback_decay_px: tuple[float, float] = (6.0, 30.0)
    line_gain: tuple[float, float] = (0.0, 0.04)
    gamma: tuple[float, float] = (0.8, 1.15)
    saturate: float = 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> MicroscopeConfig:
        """Build from a config mapping; unknown keys are an InputError.

        Parameters
        ----------
        values : dict, optional

        Returns
        -------
        MicroscopeConfig
        """
        return dataclass_from_mapping(cls, values, "microscope")

    def as_dict(self) -> dict[str, Any]:
        """The fields as a YAML-ready dict (pairs as lists).

        Returns
        -------
        dict
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def draw_microscope(cfg: MicroscopeConfig, rng: np.random.Generator) -> dict[str, float]:
    """One microscope: every range of ``cfg`` drawn, aberrations in abTEM's names (Å, rad).

    Parameters
    ----------
    cfg : MicroscopeConfig
    rng : Generator

    Returns
    -------
    dict
        Drawn value by name (C10 ... phi23, C30, the probe, detector and scan parameters).
    """
    azimuth = rng.uniform(0, 2 * np.pi, 3)
    p = {
        "energy_kev": draw(rng, cfg.energy_kev),
        "convergence_mrad": draw(rng, cfg.convergence_mrad),
        "C10": draw(rng, cfg.defocus_angstrom),
        "C12": draw(rng, cfg.astigmatism_angstrom), "phi12": float(azimuth[0]),
        "C21": draw(rng, cfg.coma_angstrom), "phi21": float(azimuth[1]),
        "C23": draw(rng, cfg.threefold_angstrom), "phi23": float(azimuth[2]),
        "C30": draw(rng, cfg.spherical_angstrom),
        "source_fwhm_angstrom": draw(rng, cfg.source_fwhm_angstrom),
        "dose": draw(rng, cfg.dose, log=True),
        "fill": draw(rng, cfg.fill, log=True),
        "pulse_shape": draw(rng, cfg.pulse_shape),
        "readout_sigma": draw(rng, cfg.readout_sigma),
        "dark_offset": draw(rng, cfg.dark_offset),
        "scale_x": float(rng.uniform(-1, 1) * cfg.scan_scale),
        "scale_y": float(rng.uniform(-1, 1) * cfg.scan_scale),
        "shear": float(rng.uniform(-1, 1) * cfg.scan_shear),
        "jitter_angstrom": draw(rng, cfg.jitter_angstrom),
        "drift_angstrom": draw(rng, cfg.drift_angstrom),
        "flyback_px": draw(rng, cfg.flyback_px),
        "flyback_decay_px": draw(rng, cfg.flyback_decay_px),
        "line_gain": draw(rng, cfg.line_gain),
        "gamma": draw(rng, cfg.gamma),
        "saturate": float(cfg.saturate),
    }
    return p


def chi(kx: np.ndarray, ky: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Aberration phase (rad) at spatial frequencies kx, ky (1/Å), abTEM's convention.

    Parameters
    ----------
    kx, ky : array
    p : dict
        A drawn microscope.

    Returns
    -------
    array
    """
    wavelength = electron_wavelength_angstrom(p["energy_kev"])
    alpha = wavelength * np.hypot(kx, ky)
    phi = np.arctan2(ky, kx)
    return 2 * np.pi / wavelength * (
        alpha**2 / 2 * (p["C10"] + p["C12"] * np.cos(2 * (phi - p["phi12"])))
        + alpha**3 / 3 * (p["C21"] * np.cos(phi - p["phi21"])
                          + p["C23"] * np.cos(3 * (phi - p["phi23"])))
        + alpha**4 / 4 * p["C30"])


def probe_intensity(size: int, pixel_angstrom: float, p: dict[str, float]) -> np.ndarray:
    """Probe intensity (size, size) on a periodic grid of ``pixel_angstrom``, nominal beam
    position at index (0, 0), summing to 1.

    Parameters
    ----------
    size : int
    pixel_angstrom : float
    p : dict
        A drawn microscope.

    Returns
    -------
    (size, size) array
    """
    k = np.fft.fftfreq(size, pixel_angstrom)
    kx, ky = np.meshgrid(k, k, indexing="xy")
    wavelength = electron_wavelength_angstrom(p["energy_kev"])
    aperture = np.hypot(kx, ky) * wavelength <= p["convergence_mrad"] * 1e-3
    intensity = np.abs(np.fft.ifft2(aperture * np.exp(-1j * chi(kx, ky, p)))) ** 2
    return intensity / intensity.sum()


def probe_offset(intensity: np.ndarray, pixel_angstrom: float, radius_angstrom: float = 1.0
                 ) -> np.ndarray:
    """Where the probe's central maximum lies relative to the nominal beam position: its
    intensity centroid within ``radius_angstrom`` of the brightest pixel, (x, y) in Å (odd
    aberrations such as coma and threefold astigmatism move it).

    Parameters
    ----------
    intensity : (size, size) array
    pixel_angstrom, radius_angstrom : float

    Returns
    -------
    (2,) array
    """
    r = np.fft.fftfreq(intensity.shape[0]) * intensity.shape[0] * pixel_angstrom
    x, y = np.meshgrid(r, r, indexing="xy")
    peak = np.unravel_index(intensity.argmax(), intensity.shape)
    near = np.hypot(x - x[peak], y - y[peak]) <= radius_angstrom
    weight = intensity * near
    return np.array([(weight * x).sum(), (weight * y).sum()]) / weight.sum()


def probe_otf(intensity: np.ndarray, pixel_angstrom: float, p: dict[str, float]) -> np.ndarray:
    """Transfer function (size, size // 2 + 1), rfft2 layout, of HAADF imaging with the probe
    ``intensity`` (:func:`probe_intensity`) and the source blur: the image is the specimen
    *correlated* with the probe (an atom at X is seen from beam positions X − r); 1 at zero
    frequency.

    Parameters
    ----------
    intensity : (size, size) array
    pixel_angstrom : float
    p : dict
        A drawn microscope.

    Returns
    -------
    (size, size // 2 + 1) complex array
    """
    size = intensity.shape[0]
    otf = np.conj(np.fft.rfft2(intensity))
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pixel_angstrom),
                              np.fft.rfftfreq(size, pixel_angstrom), indexing="ij"))
    sigma = p["source_fwhm_angstrom"] / (2 * np.sqrt(2 * np.log(2)))
    return otf / otf[0, 0].real * np.exp(-2 * (np.pi * sigma * q) ** 2)


def _smooth_series(rng: np.random.Generator, n: int, length: float, rms: float) -> np.ndarray:
    """A random series of ``n`` values with correlation length ``length`` and rms ``rms``."""
    if rms <= 0:
        return np.zeros(n)
    series = ndimage.gaussian_filter1d(rng.normal(size=n + 4 * int(length)), length,
                                       mode="wrap")[:n]
    return rms * (series - series.mean()) / max(series.std(), 1e-12)


@dataclass
class Scan:
    """Where the beam was: per-line offsets (px) and the affine map of one image of n × n px.

    Pixel (row i, column j) was recorded at specimen position (Å, relative to the image
    centre) ``pixel * A @ (j + flyback(j) + wander_x[i] + jitter[i] - c, i + wander_y[i] - c)``
    with ``c = (n - 1) / 2`` and ``A = [[1 + scale_x, shear], [0, 1 + scale_y]]``.
    """

    n: int
    pixel_angstrom: float
    affine: np.ndarray
    wander_x: np.ndarray
    wander_y: np.ndarray
    jitter: np.ndarray
    flyback_px: float
    flyback_decay_px: float

    def _flyback(self, j: np.ndarray) -> np.ndarray:
        return -self.flyback_px * np.exp(-j / self.flyback_decay_px)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Specimen positions X, Y (n, n) in Å of every pixel.

        Returns
        -------
        X, Y : (n, n) arrays
        """
        j = np.arange(self.n, dtype=float)
        c = (self.n - 1) / 2
        u = j[None, :] + self._flyback(j)[None, :] + (self.wander_x + self.jitter)[:, None] - c
        v = np.broadcast_to((np.arange(self.n) + self.wander_y)[:, None] - c, u.shape)
        xy = np.einsum("ab,bij->aij", self.affine, np.stack([u, v])) * self.pixel_angstrom
        return xy[0], xy[1]

    def pixels(self, x_angstrom: np.ndarray, y_angstrom: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates (x_px, y_px) where specimen points (Å) appear, white jitter aside
        (it is noise about the true position): the inverse of :meth:`positions`.

        Parameters
        ----------
        x_angstrom, y_angstrom : array
            Specimen points, Å from the image centre.

        Returns
        -------
        x_px, y_px : arrays
        """
        c = (self.n - 1) / 2
        u, v = np.linalg.solve(self.affine, np.stack([x_angstrom, y_angstrom]) /
                               self.pixel_angstrom)
        rows = np.arange(self.n)
        i = v + c
        for _ in range(4):
            i = v + c - np.interp(i, rows, self.wander_y)
        j = u + c - np.interp(i, rows, self.wander_x)
        target = j.copy()
        for _ in range(8):
            j = target - self._flyback(np.maximum(j, 0))
        return j, i


def draw_scan(n: int, pixel_angstrom: float, p: dict[str, float],
              rng: np.random.Generator) -> Scan:
    """The scan of an n × n image at ``pixel_angstrom`` for microscope ``p``.

    The slow wander belongs to the frame, not to the image: it is drawn over a frame of at
    least :data:`FRAME_LINES` lines (correlated over a sixth of it) and the image is its
    first n lines, so a small crop is not sheared more than a whole frame.

    Parameters
    ----------
    n : int
    pixel_angstrom : float
    p : dict
        A drawn microscope.
    rng : Generator

    Returns
    -------
    Scan
    """
    affine = np.array([[1 + p["scale_x"], p["shear"]], [0.0, 1 + p["scale_y"]]])
    wander = p["drift_angstrom"] / pixel_angstrom
    frame = max(n, FRAME_LINES)
    return Scan(n, pixel_angstrom, affine,
                _smooth_series(rng, frame, frame / 6, wander)[:n],
                _smooth_series(rng, frame, frame / 6, wander / 3)[:n],
                rng.normal(0, p["jitter_angstrom"] / pixel_angstrom, n),
                p["flyback_px"], p["flyback_decay_px"])


def sample_grid(grid: np.ndarray, grid_pixel_angstrom: float, x_angstrom: np.ndarray,
                y_angstrom: np.ndarray) -> np.ndarray:
    """Values of a square ``grid`` image (centred on the origin, ``grid_pixel_angstrom``
    spacing) at specimen points (Å), by cubic interpolation.

    Parameters
    ----------
    grid : (m, m) array
    grid_pixel_angstrom : float
    x_angstrom, y_angstrom : array

    Returns
    -------
    array
    """
    c = (grid.shape[0] - 1) / 2
    coords = np.stack([y_angstrom / grid_pixel_angstrom + c, x_angstrom / grid_pixel_angstrom + c])
    return ndimage.map_coordinates(grid, coords, order=3, mode="nearest")


def detect(signal: np.ndarray, p: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Detector counts (float32, whole numbers in 0..65535) of a clean ``signal`` (1 = the
    mean electron count ``dose`` of a reference column), line by line along axis 0.

    Parameters
    ----------
    signal : (ny, nx) array
    p : dict
        A drawn microscope.
    rng : Generator

    Returns
    -------
    (ny, nx) float32 array
    """
    gain_drift = 1 + _smooth_series(rng, signal.shape[0], max(signal.shape[0] / 10, 2),
                                    p["line_gain"])
    electrons = rng.poisson(np.clip(signal, 0, None) * p["dose"] * gain_drift[:, None])
    k = p["pulse_shape"]
    pulses = rng.gamma(np.maximum(electrons * k, 1e-9), 1 / k) * (electrons > 0)
    pulses = pulses + rng.normal(0, p["readout_sigma"], pulses.shape)
    top = max(float(np.percentile(pulses, 99.9)), 1e-9)
    response = top * np.sign(pulses) * (np.abs(pulses) / top) ** p["gamma"]
    counts = p["dark_offset"] + p["fill"] * (ADC_MAX - p["dark_offset"]) / top * response
    high = ADC_MAX
    if p["saturate"] > 0:
        high = min(high, float(np.percentile(counts, 100 * (1 - p["saturate"]))))
    return np.round(np.clip(counts, 0, high)).astype(np.float32)
