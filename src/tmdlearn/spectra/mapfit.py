"""Peak fits of a spectral map: the masked pixels fitted at once, and the results as images."""

from __future__ import annotations

import numpy as np

from tmdlearn.data import SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.spectra import quality
from tmdlearn.spectra.peakmodel import PeakModel
from tmdlearn.spectra.peaks import PeakFit, fit_peaks


def fit_map(smap: SpectralMap, model: PeakModel | str, mask: np.ndarray | None = None,
            **kwargs) -> tuple[PeakFit, np.ndarray]:
    """Fit the pixels of a map where ``mask`` (ny, nx) is true (all when None).

    Parameters
    ----------
    smap : SpectralMap
        The map (ny, nx) of spectra.
    model : PeakModel or str
        A :class:`PeakModel` or a preset name / YAML path for :func:`load_model`.
    mask : (ny, nx) bool array, optional
        Pixels to fit; all when None.
    **kwargs
        Options of :func:`fit_peaks`.

    Returns
    -------
    fit : PeakFit
        One row per masked pixel, row-major; the table of the fit carries the pixels'
        ``x_um, y_um`` (µm). :func:`parameter_maps` turns it into images.
    mask : (ny, nx) bool array
        The mask used.
    """
    mask = np.ones(smap.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != smap.shape:
        raise InputError(f"mask shape {mask.shape} differs from the map's {smap.shape}")
    fit = fit_peaks(smap.spectra(mask), model, **kwargs)
    x_um, y_um = smap.coordinates_um()
    fit.metadata.update(x_um=x_um[mask], y_um=y_um[mask], map_shape=smap.shape)
    return fit, mask


def parameter_maps(fit: PeakFit, mask: np.ndarray, only_ok: bool = True
                   ) -> dict[str, np.ndarray]:
    """Each fitted parameter (and r2, rmse) as an (ny, nx) image, NaN outside ``mask``.

    Parameters
    ----------
    fit : PeakFit
        A fit from :func:`fit_map`.
    mask : (ny, nx) bool array
        The mask :func:`fit_map` returned.
    only_ok : bool
        For a judged fit, make the images NaN wherever the verdict is not ok.

    Returns
    -------
    dict of str to (ny, nx) array
        One image per parameter (axis units, cm⁻¹ or eV, for centres and FWHM; intensity
        units for heights), ``r2``, ``rmse`` and, for a judged fit, ``noise``, ``chi2`` and
        ``verdict``: an image of verdict codes (0 ok, 1 weak, 2 absent, 3 poor, NaN outside
        the mask).
    """
    mask = np.asarray(mask, dtype=bool)
    columns = dict(zip(fit.names, fit.values.T, strict=True))
    columns.update(r2=fit.r2, rmse=fit.rmse)
    shown = np.ones(len(fit), dtype=bool)
    if fit.quality is not None:
        if only_ok:
            shown = fit.quality["verdict"] == quality.OK
        columns.update(noise=fit.quality["noise"], chi2=fit.quality["chi2"])
    maps = {}
    for name, column in columns.items():
        image = np.full(mask.shape, np.nan)
        image[mask] = np.where(shown, column, np.nan)
        maps[name] = image
    if fit.quality is not None:
        maps["verdict"] = np.full(mask.shape, np.nan)
        maps["verdict"][mask] = fit.quality["verdict"]
    return maps
