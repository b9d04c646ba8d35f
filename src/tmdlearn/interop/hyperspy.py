"""HyperSpy signals from tmdlearn's containers and back: ``to_signal(obj)``, ``from_signal(sig)``.

HyperSpy is GPL-3: an optional extra (``pip install tmdlearn[hyperspy]``), imported here only
when a function is called; without it the functions raise an InputError saying how to
install it. Nothing in tmdlearn's core imports this module.

Mapping (data order, as HyperSpy's ``axes`` list):

* ``Spectra`` (N, L) → ``Signal1D``: navigation axis "spectrum" (index), signal axis the
  spectral axis: uniform (offset, scale) where that gives tmdlearn's values exactly, else a
  non-uniform ``DataAxis`` holding them;
* ``SpectralMap`` (ny, nx, L) → ``Signal1D``: navigation axes y, x in µm (scale = step,
  offset = origin), the spectral signal axis;
* ``HeightMap`` → ``Signal2D`` of heights in nm, axes in nm; ``StemImage`` → ``Signal2D`` in
  counts, axes in Å;
* ``FitMaps`` → a dict of ``Signal2D`` images (axes in µm), one per parameter, the squared
  standard errors as ``metadata.Signal.Noise_properties.variance``.

Photoluminescence (spectra and maps in eV or nm) become LumiSpy's ``PLSpectrum`` (a
``LumiSpectrum``, itself a ``Signal1D``) when LumiSpy (GPL-3, in the same extra) is installed,
so its ``to_eV``, ``to_invcm_relative`` and fitting tools apply; ``lumispy=False`` gives a
plain ``Signal1D``. Raman spectra stay ``Signal1D`` (``TMD_spectrum`` fits them).

Spectral units are written cm⁻¹, eV, nm (names "Raman shift", "Energy", "Wavelength");
cm-1, 1/cm, cm^-1 and LumiSpy's ``cm$^{-1}$`` are read as cm⁻¹, um as µm, A / angstrom as Å.
An absolute wavenumber axis (LumiSpy's ``to_invcm``, named "Wavenumber") is refused: it is
not a Raman shift.
The laser line goes to ``metadata.Acquisition_instrument.Laser.wavelength`` (nm, as LumiSpy
keeps it); tmdlearn's metadata goes to ``metadata.tmdlearn.metadata_json``.
"""

from __future__ import annotations

import json

import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.write import metadata_json
from tmdlearn.spectra.fitmaps import FitMaps

SPECTRAL = {"cm-1": ("Raman shift", "cm⁻¹"), "eV": ("Energy", "eV"), "nm": ("Wavelength", "nm")}
_SPECTRAL_UNITS = {"cm⁻¹": "cm-1", "cm-1": "cm-1", "1/cm": "cm-1", "cm^-1": "cm-1",
                   "cm$^{-1}$": "cm-1", "ev": "eV", "nm": "nm"}
#: Length units as factors to nm.
_LENGTHS_NM = {"nm": 1.0, "µm": 1e3, "um": 1e3, "μm": 1e3, "mm": 1e6, "Å": 0.1, "A": 0.1,
               "angstrom": 0.1}
_LASER = "Acquisition_instrument.Laser.wavelength"
_METADATA = "tmdlearn.metadata_json"


def _hyperspy():
    try:
        import hyperspy.api as hs
    except ImportError as err:
        raise InputError("HyperSpy is not installed: pip install 'tmdlearn[hyperspy]' "
                         "(HyperSpy is GPL-3, an optional extra)") from err
    return hs


def _pl_class(hs, unit: str, lumispy: bool | None):
    """LumiSpy's PLSpectrum for luminescence (eV, nm) when wanted and installed, else
    Signal1D; InputError when ``lumispy`` is True and LumiSpy is missing."""
    if unit == "cm-1" or lumispy is False:
        return hs.signals.Signal1D
    try:
        from lumispy.signals import PLSpectrum
    except ImportError as err:
        if lumispy:
            raise InputError("LumiSpy is not installed: pip install 'tmdlearn[hyperspy]' "
                             "(LumiSpy is GPL-3, an optional extra)") from err
        return hs.signals.Signal1D
    return PLSpectrum


def _spatial(name: str, size: int, step: float, origin: float, units: str) -> dict:
    return {"name": name, "size": size, "scale": step, "offset": origin, "units": units,
            "navigate": True}


def _signal(kind, data: np.ndarray, axes: list[dict], title: str,
            metadata: dict | None, excitation_nm: float | None = None):
    signal = kind(data, axes=axes)
    signal.metadata.General.title = title
    if excitation_nm is not None:
        signal.metadata.set_item(_LASER, float(excitation_nm))
    if metadata:
        signal.metadata.set_item(_METADATA, metadata_json(metadata))
    return signal


def _spectral_axis(axis: np.ndarray) -> dict:
    """A uniform axis (offset, scale) when that reproduces ``axis`` exactly, else the values."""
    scale = (axis[-1] - axis[0]) / (axis.size - 1) if axis.size > 1 else 1.0
    if np.array_equal(axis[0] + scale * np.arange(axis.size), axis):
        return {"size": axis.size, "offset": float(axis[0]), "scale": float(scale)}
    return {"axis": np.array(axis)}


def to_signal(obj: Spectra | SpectralMap | HeightMap | StemImage | FitMaps,
              lumispy: bool | None = None):
    """A HyperSpy signal carrying axes, units, laser line and metadata.

    :func:`from_signal` gives the same container back.

    Parameters
    ----------
    obj : Spectra, SpectralMap, HeightMap, StemImage or FitMaps
        The container.
    lumispy : bool, optional
        Spectra and maps in eV or nm become LumiSpy ``PLSpectrum`` signals where LumiSpy is
        installed (None), always (True: InputError without it) or never (False).

    Returns
    -------
    BaseSignal or dict
        ``Signal1D`` / ``PLSpectrum`` (axes in cm⁻¹, eV or nm; map axes in µm), ``Signal2D``
        (axes in nm for AFM, Å for STEM), or for ``FitMaps`` a dict of ``Signal2D`` by parameter.
    """
    hs = _hyperspy()
    if isinstance(obj, Spectra | SpectralMap):
        name, units = SPECTRAL[obj.unit]
        spectral = {"name": name, "units": units, "navigate": False} | _spectral_axis(obj.axis)
        if isinstance(obj, SpectralMap):
            ny, nx = obj.shape
            axes = [_spatial("y", ny, obj.step_um, obj.origin_um[1], "µm"),
                    _spatial("x", nx, obj.step_um, obj.origin_um[0], "µm"), spectral]
        else:
            axes = [_spatial("spectrum", len(obj), 1.0, 0.0, ""), spectral]
        return _signal(_pl_class(hs, obj.unit, lumispy), obj.intensity, axes,
                       type(obj).__name__, obj.metadata, obj.excitation_nm)
    if isinstance(obj, HeightMap | StemImage):
        values, step, units = ((obj.height_nm, obj.pixel_size_nm, "nm")
                               if isinstance(obj, HeightMap)
                               else (obj.intensity, obj.pixel_size_angstrom, "Å"))
        ny, nx = obj.shape
        axes = [_spatial("y", ny, step, 0.0, units) | {"navigate": False},
                _spatial("x", nx, step, 0.0, units) | {"navigate": False}]
        metadata = dict(obj.metadata)
        if isinstance(obj, HeightMap):
            metadata["channel"] = obj.channel
        return _signal(hs.signals.Signal2D, values, axes, type(obj).__name__, metadata)
    if isinstance(obj, FitMaps):
        ny, nx = obj.shape
        axes = [_spatial("y", ny, obj.step_um, obj.origin_um[1], "µm") | {"navigate": False},
                _spatial("x", nx, obj.step_um, obj.origin_um[0], "µm") | {"navigate": False}]
        signals = {}
        for name, image in obj.values.items():
            signal = _signal(hs.signals.Signal2D, image, axes, name, obj.metadata)
            signal.metadata.set_item("Signal.quantity", f"{name} ({obj.units.get(name, '')})")
            signal.metadata.set_item("tmdlearn.units", obj.units.get(name, ""))
            if name in obj.errors:
                signal.metadata.set_item("Signal.Noise_properties.variance",
                                         hs.signals.Signal2D(obj.errors[name] ** 2, axes=axes))
            signals[name] = signal
        return signals
    raise InputError(f"cannot make a HyperSpy signal of a {type(obj).__name__}")


def from_signal(signal):
    """The tmdlearn container of a HyperSpy signal.

    Parameters
    ----------
    signal : BaseSignal or dict
        A ``Signal1D`` (spectra or map), a single ``Signal2D`` image, or a dict of parameter
        images (as :func:`to_signal` makes of ``FitMaps``).

    Returns
    -------
    Spectra, SpectralMap, HeightMap, StemImage or FitMaps
        An image in Å becomes a StemImage, in other length units a HeightMap (nm).

    Raises
    ------
    InputError
        When an axis has no units or units tmdlearn cannot place (a spectral axis not in cm⁻¹,
        eV or nm; spatial axes in different or non-length units).
    """
    if isinstance(signal, dict):
        return _fit_maps(signal)
    _hyperspy()
    metadata = {}
    if signal.metadata.has_item(_METADATA):
        metadata = json.loads(signal.metadata.get_item(_METADATA))
    excitation = (float(signal.metadata.get_item(_LASER))
                  if signal.metadata.has_item(_LASER) else None)
    data = np.asarray(signal.data, dtype=float)
    manager = signal.axes_manager
    if manager.signal_dimension == 1:
        axis = manager.signal_axes[0]
        unit = _spectral_unit(axis)
        values = np.asarray(axis.axis, dtype=float)
        navigation = manager.navigation_axes  # x first, as HyperSpy lists them
        if len(navigation) <= 1:
            return Spectra(data.reshape(-1, values.size), values, unit, excitation,
                           metadata=metadata)
        if len(navigation) == 2:
            step, (x0, y0) = _grid(navigation, 1e3, "navigation")
            return SpectralMap(data, values, unit, step, excitation, (x0, y0),
                               metadata=metadata)
        raise InputError(f"a Signal1D with {len(navigation)} navigation axes: tmdlearn "
                         "reads spectra (0 or 1) and maps (2)")
    if manager.signal_dimension == 2 and manager.navigation_dimension == 0:
        axes = manager.signal_axes
        units = {_text_units(a) for a in axes}
        if units <= {"Å", "A", "angstrom"}:
            step, _ = _grid(axes, 0.1, "signal")
            return StemImage(data, step, metadata=metadata)
        step, _ = _grid(axes, 1.0, "signal")
        channel = metadata.pop("channel", "height")
        return HeightMap(data, step, channel, metadata=metadata)
    raise InputError(f"a signal of dimensions {manager.navigation_shape} | "
                     f"{manager.signal_shape}: tmdlearn reads Signal1D spectra / maps and "
                     "single Signal2D images")


def _text_units(axis) -> str:
    units = axis.units
    return "" if units is None or str(units) in ("", "<undefined>") else str(units).strip()


def _spectral_unit(axis) -> str:
    units = _text_units(axis)
    key = units if units in _SPECTRAL_UNITS else units.lower()
    if key not in _SPECTRAL_UNITS:
        said = f"units {units!r}" if units else "no units"
        raise InputError(f"the signal axis {axis.name!r} has {said}: set it to cm⁻¹, eV or nm "
                         "(signal.axes_manager.signal_axes[0].units)")
    if _SPECTRAL_UNITS[key] == "cm-1" and str(axis.name).lower() == "wavenumber":
        raise InputError("the signal axis is an absolute wavenumber, not a Raman shift: "
                         "convert it with signal.to_invcm_relative(laser=...) (LumiSpy), or "
                         "give the spectra in nm or eV")
    return _SPECTRAL_UNITS[key]


def _grid(axes, nm_per_unit: float, which: str) -> tuple[float, tuple[float, float]]:
    """(step, (x0, y0)) of two uniform axes (x first) in the unit ``nm_per_unit`` nm."""
    units = [_text_units(a) for a in axes]
    if len(set(units)) != 1 or units[0] not in _LENGTHS_NM:
        raise InputError(f"the {which} axes have units {units}: they need one length unit "
                         "(nm, µm, Å, mm)")
    factor = _LENGTHS_NM[units[0]] / nm_per_unit
    if not all(a.is_uniform for a in axes):
        raise InputError(f"the {which} axes are not evenly spaced")
    if len(axes) == 2 and not np.isclose(axes[0].scale, axes[1].scale, rtol=1e-9):
        raise InputError(f"the {which} axes have different steps {axes[0].scale} and "
                         f"{axes[1].scale}: tmdlearn maps have square pixels")
    convert = (lambda v: float(v)) if factor == 1 else (lambda v: float(v) * factor)
    return abs(convert(axes[0].scale)), (convert(axes[0].offset), convert(axes[1].offset))


def _fit_maps(signals: dict) -> FitMaps:
    values, errors, units = {}, {}, {}
    step, origin, metadata = 1.0, (0.0, 0.0), {}
    for name, signal in signals.items():
        values[name] = np.asarray(signal.data, dtype=float)
        units[name] = (str(signal.metadata.get_item("tmdlearn.units"))
                       if signal.metadata.has_item("tmdlearn.units") else "")
        variance = signal.metadata.get_item("Signal.Noise_properties.variance")
        if variance is not None:
            errors[name] = np.sqrt(np.asarray(getattr(variance, "data", variance), dtype=float))
        step, origin = _grid(signal.axes_manager.signal_axes, 1e3, "signal")
        if signal.metadata.has_item(_METADATA):
            metadata = json.loads(signal.metadata.get_item(_METADATA))
    return FitMaps(values, errors, units, step, origin, metadata)
