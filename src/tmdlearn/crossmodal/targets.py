"""AFM morphology targets: 2-D embedding axes (UMAP-0/1, PCA-0/1) of pooled image features.

Both embeddings see the backbone features standardised (centred, unit variance per feature,
statistics of the training rows). PCA takes them as they are; UMAP compares them by cosine
distance, i.e. by the pattern of a feature vector rather than its length, so one image with
unusually strong activations (a particle, a scratch) is not pushed far from its neighbours
and does not stretch an axis on its own. The embeddings are fitted on the training rows only
and applied to the others, so held-out images never shape the axes they are scored on.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from tmdlearn.errors import InputError

METHODS = ("umap", "pca")


def embedding_targets(features: np.ndarray, fit_rows: np.ndarray, methods=METHODS,
                      seed: int = 0, n_neighbors: int = 15,
                      umap_metric: str = "cosine") -> dict[str, np.ndarray]:
    """Embedding axes of ``features`` (N, D): ``{"UMAP-0": (N,), "UMAP-1", "PCA-0", ...}``.

    Parameters
    ----------
    features : (N, D) array
        Pooled backbone features of the AFM images (NaN rows where absent).
    fit_rows : int array
        Rows the embeddings are fitted on (the training samples; at least 5 finite).
    methods : sequence of str
        "umap" and/or "pca".
    seed : int
        Seed of PCA and UMAP.
    n_neighbors : int
        UMAP's neighbours (at most the fitted rows - 1).
    umap_metric : str
        UMAP's distance.

    Returns
    -------
    dict of str to (N,) array
        Two axes per method (dimensionless); rows with non-finite features get NaN.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown embedding {unknown}: use {list(METHODS)}")
    features = np.asarray(features, dtype=np.float64)
    good = np.flatnonzero(np.isfinite(features).all(axis=1))
    fit_rows = np.intersect1d(fit_rows, good)
    if fit_rows.size < 5:
        raise InputError(f"need at least 5 AFM images to fit the embedding, got {fit_rows.size}")
    scaler = StandardScaler().fit(features[fit_rows])
    z_fit, z_all = scaler.transform(features[fit_rows]), scaler.transform(features[good])
    out = {}
    for method in methods:
        if method == "pca":
            reducer = PCA(n_components=2, random_state=seed).fit(z_fit)
            values = reducer.transform(z_all)
        else:
            import umap

            reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, fit_rows.size - 1),
                                metric=umap_metric, random_state=seed, n_jobs=1).fit(z_fit)
            values = reducer.transform(z_all)
        for axis in range(2):
            column = np.full(len(features), np.nan)
            column[good] = values[:, axis]
            out[f"{method.upper()}-{axis}"] = column
    return out


def physical_targets(heights, names) -> dict[str, np.ndarray]:
    """Physical morphology features (``names`` of :func:`tmdlearn.afm.morphology.
    morphology_features`, e.g. ``coverage``, ``domain_density_um2``) of each levelled
    :class:`HeightMap` in ``heights``; NaN where a map is None.

    Parameters
    ----------
    heights : sequence of HeightMap or None
        Levelled AFM height maps (nm).
    names : sequence of str
        Columns of ``morphology_features`` to keep.

    Returns
    -------
    dict of str to (N,) array
        Each feature in its unit (e.g. µm⁻² for ``domain_density_um2``).
    """
    from tmdlearn.afm.morphology import morphology_features
    from tmdlearn.progress import track

    out = {name: np.full(len(heights), np.nan) for name in names}
    for i, image in track(list(enumerate(heights)), "AFM features"):
        if image is None:
            continue
        row = morphology_features(image)
        for name in names:
            if name not in row:
                raise InputError(f"unknown AFM feature {name!r}: use {sorted(row)}")
            out[name][i] = row[name]
    return out
