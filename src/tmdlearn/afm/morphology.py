"""Physical morphology features of levelled AFM height maps (heights in nm), one row per image.

Defaults follow the MoS2 cross-modal and multi-material studies: Gaussian smoothing (σ = 1 px),
Otsu threshold and a one-pixel opening for the film mask; connected components for domains;
Canny edges closed by dilation then erosion for step edges; RMS against a Gaussian-smoothed copy
(σ = 2 px); Difference-of-Gaussian blobs; GLCM texture at distance 1 px and four angles on the
image shifted to zero; a height-histogram bilayer fraction for MoS2 (monolayer step 0.65 nm).
The single features are in :mod:`tmdlearn.afm.structure` (mask, domains, edges, layers) and
:mod:`tmdlearn.afm.texture` (roughness, blobs, GLCM); their names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tmdlearn.afm.batch import map_images
from tmdlearn.afm.gauss import gaussian_filter
from tmdlearn.afm.level import substrate_level
from tmdlearn.afm.structure import (
    MONOLAYER_NM,
    PARTICLE_NM,
    WINDOW_NM,
    bilayer_fraction,
    count_domains,
    film_mask,
    grain_boundaries,
    mask_of_smoothed,
    step_edges,
)
from tmdlearn.afm.texture import dog_blob_count, glcm_features, roughness
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError

if TYPE_CHECKING:
    from tmdlearn.engine import Engine

__all__ = ["MONOLAYER_NM", "PARTICLE_NM", "WINDOW_NM", "bilayer_fraction", "count_domains",
           "dog_blob_count", "features_table", "film_mask", "glcm_features", "grain_boundaries",
           "morphology_features", "roughness", "step_edges"]


def morphology_features(h, pixel_size_nm: float | None = None, sigma_px: float = 1.0,
                        threshold: str | float = "step", opening_px: int = 1,
                        min_domain_px: int = 4, domain_method: str = "split",
                        boundary_depth_nm: float | None = 0.1,
                        edge_sigma_px: float = 2.0,
                        smooth_sigma_px: float = 2.0, blob_threshold_nm: float = 0.1,
                        glcm_distances: Sequence[int] = (1,),
                        glcm_angles: Sequence[float] = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4),
                        monolayer_nm: float = MONOLAYER_NM) -> dict[str, float]:
    """All physical features of one levelled height map, units in the keys.

    Domains are counted after cutting the film mask along grooves
    (:func:`grain_boundaries`).

    Parameters
    ----------
    h : HeightMap or (H, W) array
        Levelled heights (nm), at least 8 x 8; a HeightMap gives its pixel size.
    pixel_size_nm : float, optional
        Pixel size (nm/px); required for an array, overrides a HeightMap's.
    sigma_px, threshold, opening_px, monolayer_nm
        As in :func:`film_mask` (``monolayer_nm`` also for :func:`bilayer_fraction`).
    min_domain_px, domain_method
        ``min_area_px`` and ``method`` of :func:`count_domains`.
    boundary_depth_nm : float, optional
        Least groove depth (nm) cutting domains apart; None skips the cut.
    edge_sigma_px : float
        Canny smoothing of :func:`step_edges` (px).
    smooth_sigma_px : float
        Smoothing of :func:`roughness` (px).
    blob_threshold_nm : float
        DoG threshold of :func:`dog_blob_count` (nm).
    glcm_distances, glcm_angles
        ``distances`` (px) and ``angles`` (rad) of :func:`glcm_features`.

    Returns
    -------
    dict
        Coverage, domain count and densities (per µm², per megapixel), mean domain area (µm²),
        step edge count and length (µm), roughness (nm), blob count, GLCM texture and bilayer
        fraction.
    """
    if isinstance(h, HeightMap):
        pixel_size_nm = h.pixel_size_nm if pixel_size_nm is None else pixel_size_nm
        h = h.height_nm
    if pixel_size_nm is None or not pixel_size_nm > 0:
        raise InputError("pixel_size_nm must be given and positive for an array height map")
    h = np.asarray(h, dtype=float)
    if h.ndim != 2 or min(h.shape) < 8:
        raise InputError(f"a height map must be 2-D and at least 8 x 8, got shape {h.shape}")
    if not np.isfinite(h).all():
        h = np.where(np.isfinite(h), h, np.nanmedian(h))
    area_um2 = h.size * (pixel_size_nm / 1000.0) ** 2
    smooth = gaussian_filter(h, sigma_px) if sigma_px > 0 else h
    substrate = substrate_level(smooth)
    mask = mask_of_smoothed(smooth, threshold, opening_px, WINDOW_NM, PARTICLE_NM,
                            monolayer_nm, substrate)
    domains = mask if boundary_depth_nm is None else mask & ~grain_boundaries(h, boundary_depth_nm)
    n_domains = count_domains(domains, min_domain_px, domain_method)
    n_edges, edge_px = step_edges(h, edge_sigma_px)
    coverage = float(mask.mean())
    row = {
        "coverage": coverage,
        "domain_count": n_domains,
        "domain_density_um2": n_domains / area_um2,
        "domain_density_per_mpx": n_domains / h.size * 1e6,
        "mean_domain_area_um2": coverage * area_um2 / n_domains if n_domains else 0.0,
        "step_edge_count": n_edges,
        "step_edge_length_um": edge_px * pixel_size_nm / 1000.0,
    }
    row.update(roughness(h, smooth_sigma_px))
    row["dog_blob_count"] = dog_blob_count(h, threshold_nm=blob_threshold_nm)
    row.update(glcm_features(h, glcm_distances, glcm_angles))
    row["bilayer_fraction"] = bilayer_fraction(h, mask, monolayer_nm, substrate)
    return row


def features_table(images: Sequence[HeightMap], names: Sequence[str] | None = None,
                   workers: int = 1, engine: Engine | None = None, **params) -> pd.DataFrame:
    """One row of :func:`morphology_features` per height map.

    Parameters
    ----------
    images : sequence of HeightMap
        Levelled height maps (heights in nm).
    names : sequence of str, optional
        Row index; default: the file names of the maps' sources, else their positions.
    workers : int
        Threads sharing the images when there is no ``engine``.
    engine : Engine, optional
        Where the images are featurised (:func:`~tmdlearn.afm.batch.map_images`).
    **params
        Keyword arguments of :func:`morphology_features`.

    Returns
    -------
    pandas.DataFrame
        One row per image, indexed by ``image``; lengths in nm and µm as in
        :func:`morphology_features`.
    """
    rows = map_images(partial(morphology_features, **params), images, workers, "features",
                      engine)
    if names is None:
        names = [str(getattr(im, "source", None) or i) for i, im in enumerate(images)]
    return pd.DataFrame(rows, index=pd.Index(list(names), name="image"))
