"""Latent analysis: a 2-D map (PCA or UMAP) of head features, correlated with physical
properties of the same levelled AFM images (:func:`tmdlearn.afm.morphology.morphology_features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from tmdlearn.afm.embed import axis_correlations, reduce
from tmdlearn.errors import InputError
from tmdlearn.progress import track

#: Morphology columns in physical lengths, dropped when the pixel size is unknown.
_LENGTH_COLUMNS = ("domain_density_um2", "mean_domain_area_um2", "step_edge_length_um")


def latent_map(features, method: str = "pca", n_components: int = 2,
               seed: int = 0) -> np.ndarray:
    """Project standardised ``features`` (N, D) to (N, n_components) by PCA or UMAP
    (:func:`tmdlearn.afm.embed.reduce`, UMAP with 15 neighbours).

    Parameters
    ----------
    features : (N, D) array
        Head features.
    method : str
        "pca" or "umap".
    n_components : int
        Dimensions of the map.
    seed : int
        Seed of UMAP.

    Returns
    -------
    (N, n_components) array
        Latent coordinates.
    """
    z = StandardScaler().fit_transform(np.asarray(features, dtype=float))
    neighbours = max(2, min(15, len(z) - 1)) if method == "umap" else None
    if method not in ("pca", "umap"):
        raise InputError(f"unknown latent method {method!r}: use 'pca' or 'umap'")
    return reduce(z, method, n_components, n_neighbors=neighbours, seed=seed)


def physical_properties(heights: Sequence, pixel_size_nm=None) -> pd.DataFrame:
    """Physical features of each levelled AFM height map, one row per map.

    Parameters
    ----------
    heights : (N, H, W) array or sequence of 2-D arrays
        Levelled height maps in nm (e.g. from :func:`tmdlearn.afm.level.level`, substrate at
        0 nm).
    pixel_size_nm : float or (N,) array, optional
        Pixel size in nm, one number or one per map; None gives pixel units, and the columns
        in µm are dropped.

    Returns
    -------
    DataFrame
        The columns of :func:`tmdlearn.afm.morphology.morphology_features` (coverage, domain
        density, step edges, roughness, blobs, GLCM texture, bilayer fraction).
    """
    from tmdlearn.afm.morphology import morphology_features

    n = len(heights)
    known = pixel_size_nm is not None
    sizes = np.broadcast_to(np.asarray(pixel_size_nm if known else 1.0, dtype=float), (n,))
    rows = [morphology_features(np.asarray(h, dtype=float), pixel_size_nm=size)
            for h, size in track(list(zip(heights, sizes, strict=True)), "AFM properties")]
    table = pd.DataFrame(rows)
    return table if known else table.drop(columns=list(_LENGTH_COLUMNS))


def correlate(latent: np.ndarray, properties: pd.DataFrame, prefix: str = "PC",
              n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Spearman rank correlation of each latent axis with each numeric property
    (:func:`tmdlearn.afm.embed.axis_correlations`).

    Parameters
    ----------
    latent : (N, A) array
        Latent coordinates.
    properties : DataFrame
        N rows of per-image properties.
    prefix : str
        Axis names are ``prefix`` + 1, 2, ...
    n_boot : int
        Bootstrap resamples of the CI.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    DataFrame
        One row per (axis, property): axis, property, rho, a 95 % bootstrap CI over images
        (rho_low, rho_high), p_value and n; constant properties give NaN.
    """
    latent = np.asarray(latent, dtype=float)
    if len(properties) != len(latent):
        raise InputError(f"{len(properties)} property rows for {len(latent)} latent rows")
    names = [f"{prefix}{axis + 1}" for axis in range(latent.shape[1])]
    table = axis_correlations(latent, properties, names, n_boot=n_boot, seed=seed)
    return table.rename(columns={"feature": "property", "spearman_rho": "rho",
                                 "spearman_p": "p_value", "spearman_ci_low": "rho_low",
                                 "spearman_ci_high": "rho_high"})[
        ["axis", "property", "rho", "rho_low", "rho_high", "p_value", "n"]]
