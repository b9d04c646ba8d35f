"""Map fit results as images with units and standard errors (for NeXus, HyperSpy, napari)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmdlearn.data.containers import SpectralMap
from tmdlearn.spectra import quality
from tmdlearn.spectra.mapfit import parameter_maps
from tmdlearn.spectra.peaks import PeakFit


@dataclass
class FitMaps:
    """Fitted parameters of a map, each an (ny, nx) image on a square grid of ``step_um``.

    ``values[name]`` is the image (NaN outside the fitted pixels), ``errors[name]`` its standard
    error where the fit gives one, ``units[name]`` the unit ("1/cm", "eV", "nm" for centres and
    widths, the map's intensity unit for heights, "" for dimensionless values such as r2, eta
    and the verdict codes 0 ok, 1 weak, 2 absent, 3 poor).
    """

    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    units: dict[str, str]
    step_um: float
    origin_um: tuple[float, float] = (0.0, 0.0)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        shapes = {np.shape(v) for v in self.values.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"parameter images must share one 2-D shape, got {shapes}")
        unknown = (set(self.errors) | set(self.units)) - set(self.values)
        if unknown:
            raise ValueError(f"errors or units for parameters without values: {sorted(unknown)}")

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (ny, nx)."""
        return next(iter(self.values.values())).shape


#: NeXus unit names of the container spectral units.
NEXUS_UNITS = {"cm-1": "1/cm", "eV": "eV", "nm": "nm"}


def fit_maps(fit: PeakFit, mask: np.ndarray, spectral_map: SpectralMap,
             intensity_unit: str = "counts", only_ok: bool = True) -> FitMaps:
    """The :func:`parameter_maps` of a :func:`fit_map` result with standard errors and units.

    Parameters
    ----------
    fit : PeakFit
    mask : (ny, nx) bool array
        The fitted pixels.
    spectral_map : SpectralMap
        Gives the grid (step, origin) and excitation.
    intensity_unit : str
        Unit of heights and backgrounds.
    only_ok : bool
        NaN where the verdict is not ok.

    Returns
    -------
    FitMaps
        Centres and widths in the peak model's unit.
    """
    values = parameter_maps(fit, mask, only_ok)
    mask = np.asarray(mask, dtype=bool)
    shown = np.ones(len(fit), dtype=bool)
    if only_ok and fit.quality is not None:
        shown = fit.quality["verdict"] == quality.OK
    errors = {}
    for name, column in zip(fit.names, fit.stderr.T, strict=True):
        image = np.full(mask.shape, np.nan)
        image[mask] = np.where(shown, column, np.nan)
        errors[name] = image
    axis_unit = NEXUS_UNITS[fit.model.unit]
    units = {name: _unit(name, axis_unit, intensity_unit) for name in values}
    return FitMaps(values, errors, units, spectral_map.step_um, spectral_map.origin_um,
                   metadata={"model": fit.model.name,
                             "excitation_nm": spectral_map.excitation_nm})


def _unit(name: str, axis_unit: str, intensity_unit: str) -> str:
    """Unit of a fitted column: background0 is the level at the window's middle, background1
    the slope per axis unit."""
    if name.endswith(("_center", "_fwhm")):
        return axis_unit
    if name.startswith("background1"):
        return f"{intensity_unit}/({axis_unit})"
    if name.endswith("_height") or name.startswith("background") or name in ("rmse", "noise"):
        return intensity_unit
    return ""
