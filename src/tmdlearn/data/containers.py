"""Typed containers: values with their physical axes and units.

Units are fixed by the container: AFM heights and pixel sizes in nm, STEM pixel size in Å,
spectral axes in cm⁻¹ (Raman shift), eV (photon energy) or nm (wavelength), map steps in µm.
Readers convert into these units; nothing downstream guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

#: Planck constant times speed of light, eV·nm (CODATA 2018).
HC_EV_NM = 1239.841984
#: One electronvolt expressed as a wavenumber, cm⁻¹ (CODATA 2018).
EV_IN_CM1 = 8065.543937

SPECTRAL_UNITS = ("cm-1", "eV", "nm")


def nm_to_ev(wavelength_nm: np.ndarray | float) -> np.ndarray | float:
    """Photon energy in eV of a wavelength in nm.

    Parameters
    ----------
    wavelength_nm : float or array
        Wavelength, in nm.

    Returns
    -------
    float or array
        Photon energy, in eV.
    """
    return HC_EV_NM / np.asarray(wavelength_nm, dtype=float)


def ev_to_nm(energy_ev: np.ndarray | float) -> np.ndarray | float:
    """Wavelength in nm of a photon energy in eV.

    Parameters
    ----------
    energy_ev : float or array
        Photon energy, in eV.

    Returns
    -------
    float or array
        Wavelength, in nm.
    """
    return HC_EV_NM / np.asarray(energy_ev, dtype=float)


def wavelength_to_raman_shift(wavelength_nm: np.ndarray | float, excitation_nm: float):
    """Raman (Stokes) shift in cm⁻¹ of scattered light at ``wavelength_nm`` for a laser line.

    Parameters
    ----------
    wavelength_nm : float or array
        Absolute wavelength of the scattered light, in nm.
    excitation_nm : float
        Laser line, in nm.

    Returns
    -------
    float or array
        Raman shift, in cm⁻¹.
    """
    return 1e7 / excitation_nm - 1e7 / np.asarray(wavelength_nm, dtype=float)


def raman_shift_to_wavelength(shift_cm1: np.ndarray | float, excitation_nm: float):
    """Absolute wavelength in nm of a Stokes Raman shift in cm⁻¹ for a laser line.

    Parameters
    ----------
    shift_cm1 : float or array
        Raman shift, in cm⁻¹.
    excitation_nm : float
        Laser line, in nm.

    Returns
    -------
    float or array
        Absolute wavelength, in nm.
    """
    return 1e7 / (1e7 / excitation_nm - np.asarray(shift_cm1, dtype=float))


def _as_2d(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {values.shape}")
    return values


class _Raster:
    """A 2-D image on square pixels, for the dataclasses that name their value and pixel-size
    fields in ``_fields``: checks them, and gives the ``shape`` and the physical extent."""

    _fields: ClassVar[tuple[str, str]]

    def __post_init__(self):
        values, pixel = self._fields
        setattr(self, values, _as_2d(getattr(self, values), values))
        if not getattr(self, pixel) > 0:
            raise ValueError(f"{pixel} must be positive, got {getattr(self, pixel)}")

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (ny, nx), in pixels."""
        return getattr(self, self._fields[0]).shape

    def _extent(self) -> tuple[float, float]:
        """Physical size (height, width) in the unit of the pixel size."""
        ny, nx = self.shape
        pixel = getattr(self, self._fields[1])
        return ny * pixel, nx * pixel


@dataclass
class HeightMap(_Raster):
    """An AFM image: ``height_nm`` (ny, nx) with square pixels of ``pixel_size_nm``.

    Attributes
    ----------
    height_nm : (ny, nx) array
        Heights, nm; for channels other than height the instrument's unit, named in
        ``metadata["unit"]``.
    pixel_size_nm : float
        Pixel size, nm.
    channel : str
        The recorded signal ("height", "amplitude", "phase", ...).
    source : Path or None
        The file it was read from.
    metadata : dict
        Instrument and acquisition metadata.
    """

    height_nm: np.ndarray
    pixel_size_nm: float
    channel: str = "height"
    source: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    _fields: ClassVar[tuple[str, str]] = ("height_nm", "pixel_size_nm")

    @property
    def scan_size_nm(self) -> tuple[float, float]:
        """Physical size (height, width) of the scan in nm."""
        return self._extent()

    @property
    def scan_size_um(self) -> float:
        """Fast-axis scan size in µm (the number an AFM user quotes)."""
        return self.scan_size_nm[1] / 1000.0

    def with_values(self, height_nm: np.ndarray, **changes) -> HeightMap:
        """A copy with new values (e.g. after levelling), same axes and metadata.

        Parameters
        ----------
        height_nm : (ny, nx) array
            The new values (nm for height).
        **changes
            Other fields to replace (e.g. ``channel``).

        Returns
        -------
        HeightMap
        """
        return replace(self, height_nm=height_nm, metadata=dict(self.metadata), **changes)


@dataclass
class Spectra:
    """N spectra on one axis: ``intensity`` (N, L), ``axis`` (L,) ascending, in ``unit``.

    Attributes
    ----------
    intensity : (N, L) array
        Intensities (a 1-D input becomes one spectrum).
    axis : (L,) array
        Raman shift (cm⁻¹), photon energy (eV) or wavelength (nm), sorted ascending.
    unit : str
        "cm-1", "eV" or "nm".
    excitation_nm : float or None
        The laser line, nm, needed to convert between shift and wavelength.
    source : Path or None
        The file it was read from.
    metadata : dict
        Instrument and acquisition metadata.
    """

    intensity: np.ndarray
    axis: np.ndarray
    unit: str
    excitation_nm: float | None = None
    source: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        intensity = np.asarray(self.intensity, dtype=float)
        if intensity.ndim == 1:
            intensity = intensity[None, :]
        self.intensity = _as_2d(intensity, "intensity")
        self.axis = np.asarray(self.axis, dtype=float)
        if self.unit not in SPECTRAL_UNITS:
            raise ValueError(f"unit must be one of {SPECTRAL_UNITS}, got {self.unit!r}")
        if self.axis.ndim != 1 or self.axis.size != self.intensity.shape[1]:
            raise ValueError(
                f"axis has {self.axis.size} points but spectra have {self.intensity.shape[1]}"
            )
        if self.axis.size > 1 and np.any(np.diff(self.axis) < 0):
            order = np.argsort(self.axis)
            self.axis = self.axis[order]
            self.intensity = self.intensity[:, order]

    def __len__(self) -> int:
        return self.intensity.shape[0]

    @property
    def n_points(self) -> int:
        """Number of points L of the spectral axis."""
        return self.axis.size

    def to_unit(self, unit: str, excitation_nm: float | None = None) -> Spectra:
        """The same spectra on an axis in ``unit`` (intensities per channel are unchanged).

        Parameters
        ----------
        unit : str
            "cm-1" (Raman shift), "eV" (photon energy) or "nm" (wavelength).
        excitation_nm : float, optional
            Laser line, in nm; default the spectra's own (needed to or from "cm-1").

        Returns
        -------
        Spectra
            ``self`` when already in ``unit``.
        """
        if unit == self.unit:
            return self
        excitation = excitation_nm or self.excitation_nm
        wavelength = {
            "nm": lambda a: a,
            "eV": ev_to_nm,
            "cm-1": lambda a: raman_shift_to_wavelength(a, _need(excitation)),
        }[self.unit](self.axis)
        new_axis = {
            "nm": lambda w: w,
            "eV": nm_to_ev,
            "cm-1": lambda w: wavelength_to_raman_shift(w, _need(excitation)),
        }[unit](wavelength)
        return replace(
            self,
            axis=new_axis,
            unit=unit,
            excitation_nm=excitation,
            metadata=dict(self.metadata),
        )

    def with_values(self, intensity: np.ndarray, axis: np.ndarray | None = None) -> Spectra:
        """A copy with new intensities (and optionally a new axis), same unit and metadata.

        Parameters
        ----------
        intensity : (N, L) array
            The new intensities.
        axis : (L,) array, optional
            The new axis, in the spectra's unit; default the current one.

        Returns
        -------
        Spectra
        """
        return replace(
            self,
            intensity=intensity,
            axis=self.axis if axis is None else axis,
            metadata=dict(self.metadata),
        )


def _need(excitation_nm: float | None) -> float:
    if excitation_nm is None:
        raise ValueError("converting a Raman shift needs the excitation wavelength (nm)")
    return float(excitation_nm)


@dataclass
class SpectralMap:
    """A hyperspectral map: ``intensity`` (ny, nx, L) on ``axis`` with ``step_um`` between pixels.

    Attributes
    ----------
    intensity : (ny, nx, L) array
        Intensities.
    axis : (L,) array
        Spectral axis in ``unit``, sorted ascending.
    unit : str
        "cm-1", "eV" or "nm".
    step_um : float
        Distance between pixels, µm.
    excitation_nm : float or None
        The laser line, nm.
    origin_um : (float, float)
        The (x, y) stage position of pixel (0, 0), µm.
    source : Path or None
        The file it was read from.
    metadata : dict
        Instrument and acquisition metadata.
    """

    intensity: np.ndarray
    axis: np.ndarray
    unit: str
    step_um: float
    excitation_nm: float | None = None
    origin_um: tuple[float, float] = (0.0, 0.0)
    source: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.intensity = np.asarray(self.intensity, dtype=float)
        if self.intensity.ndim != 3:
            raise ValueError(f"intensity must be (ny, nx, L), got shape {self.intensity.shape}")
        spectra = self.spectra()  # validates and sorts the axis
        self.axis = spectra.axis
        self.intensity = spectra.intensity.reshape(self.intensity.shape[:2] + (-1,))

    @property
    def shape(self) -> tuple[int, int]:
        """Spatial shape (ny, nx)."""
        return self.intensity.shape[:2]  # type: ignore[return-value]

    def coordinates_um(self) -> tuple[np.ndarray, np.ndarray]:
        """Stage coordinates of the pixels.

        Returns
        -------
        x_um, y_um : (ny, nx) arrays
            Stage positions, in µm.
        """
        ny, nx = self.shape
        y, x = np.mgrid[0:ny, 0:nx].astype(float)
        return self.origin_um[0] + x * self.step_um, self.origin_um[1] + y * self.step_um

    def spectra(self, mask: np.ndarray | None = None) -> Spectra:
        """The map's spectra flattened row-major, only the pixels where ``mask`` is true.

        Parameters
        ----------
        mask : (ny, nx) bool array, optional
            Pixels to keep; default all.

        Returns
        -------
        Spectra
            (N, L) spectra, N the number of pixels kept.
        """
        flat = self.intensity.reshape(-1, self.intensity.shape[-1])
        if mask is not None:
            flat = flat[np.asarray(mask, dtype=bool).ravel()]
        return Spectra(flat, self.axis, self.unit, self.excitation_nm, self.source)


@dataclass
class StemImage(_Raster):
    """A HAADF-STEM image: ``intensity`` (ny, nx) in detector counts, ``pixel_size_angstrom``.

    Attributes
    ----------
    intensity : (ny, nx) array
        Detector counts.
    pixel_size_angstrom : float
        Pixel size, Å.
    source : Path or None
        The file it was read from.
    metadata : dict
        Instrument and acquisition metadata.
    """

    intensity: np.ndarray
    pixel_size_angstrom: float
    source: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    _fields: ClassVar[tuple[str, str]] = ("intensity", "pixel_size_angstrom")

    @property
    def field_of_view_angstrom(self) -> tuple[float, float]:
        """Physical size (height, width) of the image in Å."""
        return self._extent()
