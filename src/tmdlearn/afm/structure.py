"""The structure of a film in a levelled AFM height map (heights in nm): the film mask, grooves
between coalesced domains, the domain count, step edges and the bilayer fraction."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import black_tophat, disk, skeletonize

from tmdlearn.afm.edges import canny
from tmdlearn.afm.gauss import gaussian_filter
from tmdlearn.afm.level import otsu_in_window, substrate_level
from tmdlearn.afm.maxima import count_h_maxima
from tmdlearn.afm.shifts import dilate_cross, erode_cross, grey_dilate_diamond, grey_erode_diamond
from tmdlearn.errors import InputError

#: Apparent AFM step of a MoS2 monolayer on sapphire or SiO2, nm (0.6-0.7 nm reported).
MONOLAYER_NM = 0.65
#: Film mask defaults: Otsu window about the median, nm; particle height above the substrate, nm.
WINDOW_NM, PARTICLE_NM = 1.5, 2.0
#: The named thresholds of :func:`film_mask` (else a height, nm) and the methods of
#: :func:`count_domains`.
FILM_THRESHOLDS, DOMAIN_METHODS = ("step", "otsu"), ("split", "components")


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
    return mask_of_smoothed(smooth, threshold, opening_px, window_nm, particle_nm, monolayer_nm,
                            substrate_nm)


def mask_of_smoothed(smooth: np.ndarray, threshold: str | float, opening_px: int,
                     window_nm: float, particle_nm: float | None, monolayer_nm: float,
                     substrate_nm: float | None) -> np.ndarray:
    """:func:`film_mask` of an image already smoothed, so that the smoothed copy serves other
    features too.

    Parameters
    ----------
    smooth : (H, W) array
        Smoothed levelled heights (nm).
    threshold : str or float
        "step", "otsu" or a height (nm), as in :func:`film_mask`.
    opening_px : int
        Radius of the opening disk (px); 0 for none.
    window_nm : float
        Half-width (nm) of the "otsu" window about the median.
    particle_nm : float or None
        Height above the substrate (nm) from which pixels are particles; None keeps them.
    monolayer_nm : float
        Apparent monolayer step (nm) of the "step" threshold.
    substrate_nm : float or None
        Substrate height (nm); None: found from the height histogram when needed.

    Returns
    -------
    (H, W) ndarray of bool
        True on the film.
    """
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
        raise InputError(f"domain method must be one of {', '.join(DOMAIN_METHODS)}, got "
                         f"{method!r}")
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
