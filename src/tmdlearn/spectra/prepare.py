"""Spectra made ready for the fit: the model's axis unit, the config's preprocessing and the
fit options (shared by the in-memory fit and the chunked fit of zarr map stores)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tmdlearn.data import Spectra, SpectralMap
from tmdlearn.errors import InputError


def fit_options(config: dict) -> dict:
    """The keyword arguments of :func:`~tmdlearn.spectra.peaks.fit_peaks` from a config's
    ``fit`` and ``verdict`` sections.

    Parameters
    ----------
    config : dict
        The spectra workflow's config.

    Returns
    -------
    dict
        The ``fit`` keys that are set, and ``verdict`` (a dict of options, or False).
    """
    options = {k: v for k, v in config["fit"].items() if v is not None}
    verdict = {k: v for k, v in config["verdict"].items() if v is not None and k != "enabled"}
    options["verdict"] = verdict if config["verdict"]["enabled"] else False
    return options


def in_model_unit(spectra: Spectra, unit: str, path: Path) -> Spectra:
    """``spectra`` on the peak model's axis unit.

    Parameters
    ----------
    spectra : Spectra
        Spectra in any unit (cm⁻¹, eV, nm).
    unit : str
        The model's unit.
    path : Path
        Their file, for the message.

    Returns
    -------
    Spectra
        Converted (nm <-> cm⁻¹ needs ``excitation_nm``), or ``spectra`` when already in ``unit``.
    """
    problem = unit_problem(spectra, unit, path)
    if problem is not None:
        raise problem
    try:
        return spectra.to_unit(unit)
    except ValueError as err:  # e.g. shifts beyond the laser line: no wavelength
        raise InputError(f"cannot put the spectra on the model's {unit} axis: {err}",
                         path) from None


def unit_problem(data, unit: str, path: Path) -> InputError | None:
    """Why ``data`` (spectra or a map) cannot be put on the model's axis ``unit``: a Raman shift
    (cm⁻¹) to or from anything else needs the laser line; None when it can.

    Parameters
    ----------
    data : Spectra or SpectralMap
        Read spectra, with their ``unit`` and ``excitation_nm``.
    unit : str
        The model's unit.
    path : Path
        Their file, for the message.

    Returns
    -------
    InputError or None
    """
    if data.unit == unit or "cm-1" not in (data.unit, unit) or data.excitation_nm:
        return None
    hint = {("eV", "cm-1"): "PL spectra? fit them with a PL model (e.g. wse2-pl), or ",
            ("cm-1", "eV"): "Raman spectra? fit them with a Raman model (e.g. "
                            "wse2-raman), or "}.get((data.unit, unit), "")
    if data.unit == "cm-1" and unit == "eV" and _guessed_wavelength(data):
        hint = (f"{_guessed(data)}; a PL spectrum in wavelength? set read.unit=nm; Raman "
                "spectra? fit them with a Raman model (e.g. wse2-raman), or ")
    return InputError(f"the spectra are in {data.unit} but the model in {unit}: {hint}"
                      "set read.excitation_nm (or read.unit)", path)


#: Axis values (nm) of the spectrometers' visible and near-infrared range: an axis taken for a
#: Raman shift from its values alone that lies here may be a wavelength.
WAVELENGTH_RANGE_NM = (300.0, 1700.0)


def _guessed_wavelength(data) -> bool:
    """Whether ``data``'s axis was taken for a Raman shift (cm⁻¹) from its values alone and
    lies where a wavelength axis would (:data:`WAVELENGTH_RANGE_NM`)."""
    meta = getattr(data, "metadata", None) or {}
    if data.unit != "cm-1" or meta.get("unit_source") != "value range" or "axis_converted" in meta:
        return False
    low, high = float(np.min(data.axis)), float(np.max(data.axis))
    return WAVELENGTH_RANGE_NM[0] <= low and high <= WAVELENGTH_RANGE_NM[1]


def _guessed(data) -> str:
    return (f"the axis ({float(np.min(data.axis)):.4g}-{float(np.max(data.axis)):.4g}) was taken "
            "for Raman shifts in cm-1 from its values alone (no unit in the file)")


def axis_problem(data, model, path: Path) -> InputError | None:
    """Why ``data`` (spectra or a map) cannot be fitted with ``model`` at all: its unit cannot
    be put on the model's (:func:`unit_problem`), or on the model's axis it covers none of the
    model's windows (a Raman map, laser line known, fitted with a PL model); None when it can.

    Parameters
    ----------
    data : Spectra or SpectralMap
        Read spectra, with their ``axis``, ``unit`` and ``excitation_nm``.
    model : PeakModel
        The model to fit.
    path : Path
        Their file, for the message.

    Returns
    -------
    InputError or None
    """
    problem = unit_problem(data, model.unit, path)
    if problem is not None:
        return problem
    probe = Spectra(np.zeros((1, data.axis.size)), data.axis, data.unit, data.excitation_nm)
    try:
        axis = probe.to_unit(model.unit).axis
    except ValueError as err:
        return InputError(f"cannot put the spectra on the model's {model.unit} axis: {err}",
                          path)
    if any(np.count_nonzero((axis >= r.window[0]) & (axis <= r.window[1])) > r.n_params
           for r in model.regions):
        return None
    windows = ", ".join(f"{r.window[0]:.4g}-{r.window[1]:.4g}" for r in model.regions)
    hint = {"eV": " (Raman spectra? fit them with a Raman model)",
            "cm-1": " (PL spectra? fit them with a PL model)"}.get(model.unit, "")
    if model.unit == "cm-1" and _guessed_wavelength(data):
        hint = (f" ({_guessed(data)}: a wavelength axis? set read.unit=nm and "
                "read.excitation_nm to the laser line)")
    elif model.unit == "cm-1" and data.unit == "nm" and axis.max() < 0:
        hint = (f" (all below zero: the spectra lie on the short-wavelength side of the laser "
                f"line {data.excitation_nm:.6g} nm; is read.excitation_nm the line they were "
                "taken with?)")
    return InputError(f"the spectra cover {axis.min():.4g}-{axis.max():.4g} {model.unit} on the "
                      f"model's axis, none of its windows ({windows} {model.unit}){hint}", path)


def preprocessed(intensity: np.ndarray, axis: np.ndarray, options: dict) -> np.ndarray:
    """Spectra despiked, baseline-subtracted and normalised spectrum by spectrum as the config's
    ``preprocess`` section says (``despike: map`` is done on the map beforehand).

    Parameters
    ----------
    intensity : (N, L) array
        Spectra, in intensity units (counts).
    axis : (L,) array
        Their axis (cm⁻¹ or eV).
    options : dict
        The ``preprocess`` section.

    Returns
    -------
    (N, L) array
    """
    from tmdlearn.spectra import preprocess
    from tmdlearn.spectra.despike import despike

    if options["despike"] != "map":  # map: done on the map before its spectra are taken
        intensity = despike(intensity, options["despike"], options["despike_threshold"])
    if options["baseline"] != "none":
        intensity = intensity - preprocess.baseline(intensity, axis, options["baseline"])
    if options["normalise"] != "none":
        intensity = preprocess.normalise(intensity, options["normalise"], axis)
    return intensity


def despiked_map(data: SpectralMap, mask: np.ndarray, options: dict) -> SpectralMap:
    """A map despiked as a map (``preprocess.despike: map``): spikes confirmed by the 3 x 3
    neighbours.

    Parameters
    ----------
    data : SpectralMap
        The map, in intensity units (counts).
    mask : (ny, nx) bool array
        The pixels that are fitted; the others are not despiked.
    options : dict
        The ``preprocess`` section (``despike_threshold``, ``despike_spatial_k``).

    Returns
    -------
    SpectralMap
        ``data`` with despiked intensities.
    """
    from tmdlearn.spectra.despike import despike

    return replace(data, intensity=despike(data.intensity, "map", options["despike_threshold"],
                                           mask, options["despike_spatial_k"]))
