"""One Raman / PL map pair made ready for the explain workflow: both maps masked, despiked,
baseline-subtracted and fitted into the Raman vectors X and PL vectors Y (:class:`PairData`);
:class:`PairResult` holds what the workflow learns from them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tmdlearn.data.containers import SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.explain.regressor import RamanPLRegressor
from tmdlearn.spectra import (
    anchor_baseline,
    background_mask,
    despike,
    feature_vector,
    fit_peaks,
    fit_table,
    load_model,
    vector_columns,
)


@dataclass
class PairData:
    """Fitted features of one map pair: X (N, 24) Raman, Y (N, 3) PL on the ``mask`` pixels."""

    name: str
    mask: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    columns: list[str]
    modes: list[str]
    truth: np.ndarray | None = None
    regions: dict[int, str] | None = None
    fit_quality: dict = field(default_factory=dict)


@dataclass
class PairResult:
    """Everything the workflow learned about one pair (arrays, tables, models)."""

    data: PairData
    split: np.ndarray                      # (N,) True where the pixel is in the training 70 %
    prediction: np.ndarray                 # (N, 3) of the split model
    scores: pd.DataFrame                   # parameter, part, mape, r2
    verdict: pd.DataFrame                  # parameter, r2_train, r2_val, gap, flagged
    pdp: dict[str, tuple[np.ndarray, np.ndarray]]   # input column -> (grid, (G, 3))
    ranking: pd.DataFrame                  # mode, importance, rank, per-input ranges
    slopes: np.ndarray                     # (N, 24, 3) ICE slopes of the final model
    ice: tuple[np.ndarray, np.ndarray]     # ICE curves of the mode's height (grid, (n, G, 3))
    region_slopes: pd.DataFrame | None
    split_model: RamanPLRegressor
    final_model: RamanPLRegressor
    metrics: dict = field(default_factory=dict)


def prepare_pair(raman: SpectralMap, pl: SpectralMap, config: dict, name: str = "pair",
                 truth=None, regions: dict[int, str] | None = None) -> PairData:
    """Mask, despike, baseline and fit both maps; keep pixels where both fits converged.

    Parameters
    ----------
    raman, pl : SpectralMap
        Raman (cm-1) and PL (eV, or nm converted to eV) maps of the same (ny, nx) pixels.
    config : dict
        Workflow configuration (:data:`~tmdlearn.explain.workflow.DEFAULTS`): its
        ``preprocess`` and ``fit`` sections.
    name : str
        Name of the pair, in messages and metric names.
    truth : (ny, nx) int array, optional
        Region label of each pixel.
    regions : dict of int to str, optional
        Region name by label.

    Returns
    -------
    PairData
        X (N, 24) Raman vectors (cm-1, cm-1, counts) and Y (N, 3) PL vectors (eV, eV, counts)
        of the N pixels kept (flake pixels whose two fits have an ok verdict, or converged
        with ``fit.only_ok`` false, and a positive PL height), with their mask and the fit
        quality.
    """
    pre, fit = config["preprocess"], config["fit"]
    if raman.shape != pl.shape:
        raise InputError(f"pair {name!r}: Raman map {raman.shape} and PL map {pl.shape} differ "
                         "in shape; they must cover the same pixels")
    sources = {"raman": [raman], "pl": [pl], "both": [raman, pl]}.get(pre["mask_from"])
    if sources is None:
        raise InputError(f"preprocess.mask_from must be raman, pl or both, got "
                         f"{pre['mask_from']!r}")
    mask = np.logical_and.reduce([background_mask(m.intensity, k=pre["mask_k"],
                                                  corner=pre["corner"]) for m in sources])
    if mask.sum() < 20:
        raise InputError(f"pair {name!r}: the flake mask holds {int(mask.sum())} pixels "
                         "(< 20); lower preprocess.mask_k")
    raman_model, pl_model = load_model(fit["raman_model"]), load_model(fit["pl_model"])
    X, raman_ok, raman_r2, raman_not_ok = _fit(raman, mask, "cm-1", pre["raman_anchors_cm1"],
                                               raman_model, pre, fit)
    Y, pl_ok, pl_r2, pl_not_ok = _fit(pl, mask, "eV", pre["pl_anchors_ev"], pl_model, pre, fit)
    keep = raman_ok & pl_ok & (Y[:, 2] > 0)     # a PL height <= 0 is no PL peak
    if keep.sum() < 20:
        raise InputError(f"pair {name!r}: only {int(keep.sum())} pixels fitted in both maps")
    final = mask.copy()
    final[mask] = keep
    columns = vector_columns(raman_model)
    quality = {"pixels_flake": int(mask.sum()), "pixels_used": int(keep.sum()),
               "raman_fit_r2_median": float(np.nanmedian(raman_r2)),
               "pl_fit_r2_median": float(np.nanmedian(pl_r2)),
               # converged fits whose verdict is not ok (dropped unless fit.only_ok is false)
               "raman_not_ok": raman_not_ok, "pl_not_ok": pl_not_ok}
    truth = None if truth is None else np.asarray(truth)
    if truth is not None and truth.shape != raman.shape:
        raise InputError(f"pair {name!r}: truth map {truth.shape} differs from the maps "
                         f"{raman.shape}")
    return PairData(name, final, X[keep], Y[keep], columns, [p.name for p in raman_model.peaks],
                    truth, regions, quality)


def _fit(smap: SpectralMap, mask, unit, anchors, model, pre, fit):
    cube = despike(smap.intensity, pre["despike"], pre["despike_threshold"], mask,
                   pre["despike_spatial_k"])
    spectra = replace(smap, intensity=cube).spectra(mask)
    if spectra.unit != unit:
        try:
            spectra = spectra.to_unit(unit)
        except (ValueError, InputError) as err:
            raise InputError(f"map in {spectra.unit} cannot be converted to {unit}: {err}",
                             smap.source) from None
    y = spectra.intensity
    y = y - anchor_baseline(y, spectra.axis, anchors, pre["anchor_half_width"])
    result = fit_peaks(y, model, axis=spectra.axis, max_iter=fit["max_iter"])
    # the study's vectors keep every band's fitted values; pixels must have an ok verdict
    vectors = feature_vector(fit_table(result, blank_absent=False), model)
    judged = result.verdict == "ok" if fit["only_ok"] else result.converged
    ok = np.asarray(judged, dtype=bool) & np.isfinite(vectors).all(axis=1)
    return vectors, ok, result.r2, int((result.converged & (result.verdict != "ok")).sum())
