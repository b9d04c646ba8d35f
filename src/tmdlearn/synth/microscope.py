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

Every range is drawn per image by :func:`draw_microscope`; docs/stem.md justifies them. The
probe is in :mod:`tmdlearn.synth.probe`, the scan in :mod:`tmdlearn.synth.scan` and the
detector in :mod:`tmdlearn.synth.detector`; their public names are importable from here too.
Lengths in Å, angles in radians, convergence semi-angle in mrad, energy in keV. Aberration
names and signs follow abTEM (``C10`` = −defocus, ``C12``/``phi12`` …), so the same drawn
microscope drives an abTEM multislice probe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tmdlearn.config import dataclass_from_mapping
from tmdlearn.synth.detector import ADC_MAX, detect
from tmdlearn.synth.probe import (
    chi,
    electron_wavelength_angstrom,
    probe_intensity,
    probe_offset,
    probe_otf,
)
from tmdlearn.synth.scan import FRAME_LINES, Scan, draw_scan, sample_grid

__all__ = ["ADC_MAX", "FRAME_LINES", "MicroscopeConfig", "Scan", "chi", "detect", "draw",
           "draw_microscope", "draw_scan", "electron_wavelength_angstrom", "probe_intensity",
           "probe_offset", "probe_otf", "sample_grid"]


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
    def from_dict(cls, values: dict[str, Any] | None, where: str = "microscope."
                  ) -> MicroscopeConfig:
        """Build from a config mapping; unknown keys are an InputError.

        Parameters
        ----------
        values : dict, optional
        where : str
            Dotted prefix of its keys in messages (``data.microscope.`` in a training config).

        Returns
        -------
        MicroscopeConfig
        """
        return dataclass_from_mapping(cls, values, where)

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
