"""Physical morphology features of levelled AFM height maps (heights in nm), one row per image.

Defaults follow the MoS2 cross-modal and multi-material studies: Gaussian smoothing (σ = 1 px),
Otsu threshold and a one-pixel opening for the film mask; connected components for domains;
Canny edges closed by dilation then erosion for step edges; RMS against a Gaussian-smoothed copy
(σ = 2 px); Difference-of-Gaussian blobs; GLCM texture at distance 1 px and four angles on the
image shifted to zero; a height-histogram bilayer fraction for MoS2 (monolayer step 0.65 nm).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.feature import graycomatrix, graycoprops
from skimage.morphology import black_tophat, disk, skeletonize

from tmdlearn.afm.batch import map_images
from tmdlearn.afm.blobs import count_dog_blobs
from tmdlearn.afm.edges import canny
from tmdlearn.afm.gauss import gaussian_filter
from tmdlearn.afm.level import otsu_in_window, substrate_level
from tmdlearn.afm.maxima import count_h_maxima
from tmdlearn.afm.shifts import dilate_cross, erode_cross, grey_dilate_diamond, grey_erode_diamond
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError

#: Apparent AFM step of a MoS2 monolayer on sapphire or SiO2, nm (0.6-0.7 nm reported).
MONOLAYER_NM = 0.65
#: Film mask defaults: Otsu window about the median, nm; particle height above the substrate, nm.
WINDOW_NM, PARTICLE_NM = 1.5, 2.0


def film_mask(h: np.ndarray, sigma_px: float = 1.0, threshold: str | float = "step",
              opening_px: int = 1, window_nm: float = WINDOW_NM,
              particle_nm: float | None = PARTICLE_NM,
              monolayer_nm: float = MONOLAYER_NM, substrate_nm: float | None = None) -> np.ndarray:
    """Film (raised) pixels: Gaussian smoothing of ``sigma_px``, a threshold, then a binary
    opening with a disk of radius ``opening_px`` to drop isolated pixels.

    ``sigma_px=0, opening_px=0`` gives the study's per-pixel variant (each pixel thresholded
    on its own).

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    sigma_px : float
        Gaussian smoothing (px); 0 for none.
    threshold : str or float
        "step" (default) puts it half a monolayer (``monolayer_nm``) above the substrate peak
        of the height histogram (:func:`~tmdlearn.afm.level.substrate_level`), which stays
        right when the film covers most of the image or carries second layers; "otsu" (the
        studies) is Otsu's threshold of the heights clipped to median ± ``window_nm``; a number
        is a height (nm).
    opening_px : int
        Radius of the opening disk (px); 0 for none.
    window_nm : float
        Half-width (nm) of the "otsu" window.
    particle_nm : float, optional
        Pixels more than this (nm) above the substrate (and a 3-pixel margin) are particles,
        not film; None keeps them.
    monolayer_nm : float
        Apparent monolayer step (nm).
    substrate_nm : float, optional
        Substrate height (nm), skipping the histogram search when known.

    Returns
    -------
    (H, W) ndarray of bool
        True on the film.
    """
    smooth = gaussian_filter(h, sigma_px) if sigma_px > 0 else h
    return _mask_of_smoothed(smooth, threshold, opening_px, window_nm, particle_nm, monolayer_nm,
                             substrate_nm)


def _mask_of_smoothed(smooth, threshold, opening_px, window_nm, particle_nm, monolayer_nm,
                      substrate_nm) -> np.ndarray:
    """:func:`film_mask` of an already smoothed image."""
    if substrate_nm is None and (threshold == "step" or particle_nm is not None):
        substrate_nm = substrate_level(smooth)
    if threshold == "step":
        level = substrate_nm + 0.5 * monolayer_nm
    elif threshold == "otsu":
        level = otsu_in_window(smooth, window_nm)
    elif isinstance(threshold, str):
        raise InputError(f"threshold must be 'step', 'otsu' or a height in nm, got {threshold!r}")
    else:
        level = float(threshold)
    mask = smooth > level
    if particle_nm is not None and (~mask).any():
        # Particles (residue, oxide clusters) stand > particle_nm above the substrate: drop them
        # with a 3-pixel margin for their flanks.
        tall = smooth - substrate_nm > particle_nm
        if tall.any():
            mask &= ~dilate_cross(tall, 3)
    if opening_px == 1:  # disk(1) is the cross
        mask = dilate_cross(erode_cross(mask))
    elif opening_px > 1:
        mask = ndimage.binary_opening(mask, structure=disk(opening_px))
    return mask


def grain_boundaries(h: np.ndarray, depth_nm: float = 0.1, sigma_px: float = 0.7,
                     radius_px: int = 2) -> np.ndarray:
    """Grooves such as grain boundaries between coalesced domains: pixels where the black
    top-hat (disk of ``radius_px``) of the image smoothed by ``sigma_px`` exceeds ``depth_nm``.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    depth_nm : float
        Least groove depth (nm).
    sigma_px : float
        Gaussian smoothing (px); 0 for none.
    radius_px : int
        Radius of the top-hat disk (px).

    Returns
    -------
    (H, W) ndarray of bool
        True on grooves.
    """
    smooth = gaussian_filter(h, sigma_px) if sigma_px > 0 else h
    if radius_px <= 2:  # disk(1), disk(2) are diamonds: closing by shifts
        closed = grey_erode_diamond(grey_dilate_diamond(smooth, radius_px), radius_px)
        return closed - smooth > depth_nm
    return black_tophat(smooth, disk(radius_px)) > depth_nm


def count_domains(mask: np.ndarray, min_area_px: int = 4, method: str = "split",
                  split_px: float = 3.0, downsample: int = 2) -> int:
    """Number of domains in ``mask``.

    Parameters
    ----------
    mask : (H, W) bool array
        Film pixels.
    min_area_px : int
        Smallest domain of the "components" method (px).
    method : str
        "components" (the studies): connected components (8-connectivity) with at least
        ``min_area_px`` pixels; coalesced domains count once. "split" (default): regional
        maxima of the distance transform of ``mask`` with a dynamic of at least ``split_px``
        (h-maxima), i.e. one per domain core, so coalesced domains joined by a neck are split
        as a watershed would split them.
    split_px : float
        Least dynamic of a "split" domain core (px, full resolution).
    downsample : int
        The "split" method runs on the mask subsampled by this factor, for speed.

    Returns
    -------
    int
    """
    if method == "split":
        step = max(int(downsample), 1)
        distance = ndimage.distance_transform_edt(mask[::step, ::step])
        dynamic = split_px / step
        if distance.max() > dynamic:
            return count_h_maxima(distance, dynamic)
        return int(ndimage.label(distance > 0, structure=np.ones((3, 3)))[1])
    if method != "components":
        raise InputError(f"domain method must be 'split' or 'components', got {method!r}")
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return 0
    sizes = np.bincount(labels.ravel())[1:]
    return int((sizes >= min_area_px).sum())


def step_edges(h: np.ndarray, sigma_px: float = 2.0, closing_px: int = 1,
               min_length_px: int = 5) -> tuple[int, int]:
    """Step edges: Canny edges (Gaussian σ = ``sigma_px``, skimage's default hysteresis), closed
    by ``closing_px`` dilations then erosions, skeletonised.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    sigma_px : float
        Canny smoothing (px).
    closing_px : int
        Closing steps (px); 0 for none.
    min_length_px : int
        Shortest edge counted (px of skeleton).

    Returns
    -------
    count : int
        Number of edges of at least ``min_length_px`` pixels.
    length_px : int
        Their total length (px).
    """
    edges = canny(h, sigma=sigma_px)
    if closing_px > 0:
        edges = erode_cross(dilate_cross(edges, closing_px), closing_px, border_value=True)
    skeleton = skeletonize(edges)
    labels, n = ndimage.label(skeleton, structure=np.ones((3, 3)))
    if n == 0:
        return 0, 0
    sizes = np.bincount(labels.ravel())[1:]
    long = sizes >= min_length_px
    return int(long.sum()), int(sizes[long].sum())


def roughness(h: np.ndarray, smooth_sigma_px: float = 2.0) -> dict[str, float]:
    """RMS roughness Sq and mean absolute roughness Ra about the mean plane (nm), and the study's
    RMS of the image minus its Gaussian-smoothed copy (σ = ``smooth_sigma_px``), nm.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    smooth_sigma_px : float
        Smoothing of the copy (px).

    Returns
    -------
    dict
        ``sq_nm``, ``ra_nm`` and ``rms_vs_smoothed_nm`` (nm).
    """
    dev = h - h.mean()
    fine = h - gaussian_filter(h, smooth_sigma_px)
    return {"sq_nm": float(np.sqrt(np.mean(dev**2))), "ra_nm": float(np.mean(np.abs(dev))),
            "rms_vs_smoothed_nm": float(np.sqrt(np.mean(fine**2)))}


def dog_blob_count(h: np.ndarray, min_sigma_px: float = 2.0, max_sigma_px: float = 8.0,
                   threshold_nm: float = 0.1, downsample: int = 2) -> int:
    """Difference-of-Gaussian blobs (skimage ``blob_dog``) of σ in [min, max] px and DoG response
    above ``threshold_nm``; computed on the image block-averaged by ``downsample`` for speed.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    min_sigma_px, max_sigma_px : float
        Smallest and largest blob σ (px, full resolution).
    threshold_nm : float
        Least DoG response (nm).
    downsample : int
        Block-averaging factor.

    Returns
    -------
    int
    """
    if downsample > 1:
        ny, nx = (s - s % downsample for s in h.shape)
        h = h[:ny, :nx].reshape(ny // downsample, downsample, nx // downsample,
                                downsample).mean(axis=(1, 3))
    return count_dog_blobs(h, min_sigma_px / downsample, max_sigma_px / downsample, threshold_nm)


def glcm_features(h: np.ndarray, distances: Sequence[int] = (1,),
                  angles: Sequence[float] = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4),
                  levels: int = 64, range_nm: float = 3.0) -> dict[str, float]:
    """Grey-level co-occurrence texture: dissimilarity, contrast and homogeneity averaged over
    ``distances`` and ``angles``.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm); shifted so that the minimum is 0.
    distances : sequence of int
        Pixel pair distances (px).
    angles : sequence of float
        Pixel pair directions (rad).
    levels : int
        Grey levels over [0, ``range_nm``].
    range_nm : float
        Height range quantised (nm; 3 nm: the ±1.5 nm window); heights above it saturate.

    Returns
    -------
    dict
        ``glcm_dissimilarity``, ``glcm_contrast``, ``glcm_homogeneity``.
    """
    shifted = h - np.nanmin(h)
    grey = np.clip(shifted / range_nm * (levels - 1), 0, levels - 1).astype(np.uint8)
    matrix = graycomatrix(grey, distances=list(distances), angles=list(angles), levels=levels,
                          symmetric=True, normed=True)
    return {f"glcm_{prop}": float(graycoprops(matrix, prop).mean())
            for prop in ("dissimilarity", "contrast", "homogeneity")}


def bilayer_fraction(h: np.ndarray, mask: np.ndarray, monolayer_nm: float = MONOLAYER_NM,
                     substrate_nm: float | None = None) -> float:
    """Fraction of the film pixels (``mask``) whose height above the substrate
    (:func:`~tmdlearn.afm.level.substrate_level`) falls in the second-layer window
    [1.5, 2.5] x ``monolayer_nm``.

    Parameters
    ----------
    h : (H, W) array
        Levelled heights (nm).
    mask : (H, W) bool array
        Film pixels.
    monolayer_nm : float
        Apparent monolayer step (nm).
    substrate_nm : float, optional
        Substrate height (nm); default: :func:`~tmdlearn.afm.level.substrate_level` of ``h``.

    Returns
    -------
    float
        In [0, 1]; 0 for an empty mask.
    """
    if not mask.any():
        return 0.0
    substrate = substrate_level(h) if substrate_nm is None else substrate_nm
    above = h[mask] - substrate
    second = (above > 1.5 * monolayer_nm) & (above < 2.5 * monolayer_nm)
    return float(second.mean())


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
    mask = _mask_of_smoothed(smooth, threshold, opening_px, WINDOW_NM, PARTICLE_NM,
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
                   workers: int = 1, **params) -> pd.DataFrame:
    """One row of :func:`morphology_features` per height map; ``workers`` threads share the
    images.

    Parameters
    ----------
    images : sequence of HeightMap
        Levelled height maps.
    names : sequence of str, optional
        Index of the rows; default: each map's ``source`` (its path as a string), else its
        position.
    workers : int
        Threads.
    **params
        Keyword arguments of :func:`morphology_features`.

    Returns
    -------
    DataFrame
        One row per image, index named "image".
    """
    rows = map_images(lambda image: morphology_features(image, **params), images, workers,
                      "features")
    if names is None:
        names = [str(getattr(im, "source", None) or i) for i, im in enumerate(images)]
    return pd.DataFrame(rows, index=pd.Index(list(names), name="image"))
