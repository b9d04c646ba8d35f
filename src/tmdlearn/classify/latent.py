"""Latent analysis: a 2-D map (PCA or UMAP) of head features, correlated with physical
image properties (morphology features of the AFM images)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from tmdlearn.errors import InputError


def latent_map(features, method: str = "pca", n_components: int = 2,
               seed: int = 0) -> np.ndarray:
    """Project standardised ``features`` (N, D) to (N, n_components) by PCA or UMAP."""
    z = StandardScaler().fit_transform(np.asarray(features, dtype=float))
    if method == "pca":
        return PCA(n_components=n_components, random_state=seed).fit_transform(z)
    if method == "umap":
        import umap

        neighbours = max(2, min(15, len(z) - 1))
        return umap.UMAP(n_components=n_components, n_neighbors=neighbours,
                         random_state=seed).fit_transform(z)
    raise InputError(f"unknown latent method {method!r}: use 'pca' or 'umap'")


def correlate(latent: np.ndarray, properties: pd.DataFrame, prefix: str = "PC") -> pd.DataFrame:
    """Spearman rank correlation of each latent axis with each numeric property.

    Returns one row per (axis, property): ``rho``, ``p_value`` and ``n`` (rows without NaN).
    """
    latent = np.asarray(latent, dtype=float)
    if len(properties) != len(latent):
        raise InputError(f"{len(properties)} property rows for {len(latent)} latent rows")
    rows = []
    for column in properties.select_dtypes("number").columns:
        values = properties[column].to_numpy(dtype=float)
        for axis in range(latent.shape[1]):
            ok = np.isfinite(values) & np.isfinite(latent[:, axis])
            rho, p = (spearmanr(latent[ok, axis], values[ok]) if ok.sum() > 2
                      and np.ptp(values[ok]) > 0 else (np.nan, np.nan))
            rows.append({"axis": f"{prefix}{axis + 1}", "property": column, "rho": float(rho),
                         "p_value": float(p), "n": int(ok.sum())})
    return pd.DataFrame(rows)
