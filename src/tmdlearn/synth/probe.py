"""The aberrated probe of the STEM simulator: the electron wavelength, the aberration phase chi
(abTEM's names and signs: ``C10`` = −defocus, ``C12``/``phi12`` ...), the probe intensity (the
inverse Fourier transform of the condenser aperture times ``exp(-i chi)``), where its central
maximum lies, and the transfer function of HAADF imaging with it and a finite source size.

Lengths in Å, angles in radians, convergence semi-angle in mrad, energy in keV; ``p`` is a drawn
microscope (:func:`tmdlearn.synth.microscope.draw_microscope`).
"""

from __future__ import annotations

import numpy as np


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
