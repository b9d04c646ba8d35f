"""Saving, loading and running trained segmentation models on STEM images.

A saved model is a model folder (:mod:`tmdlearn.models.store`: safetensors weights, JSON
parameters, a ``model.json`` card) holding the U-Net's constructor arguments, its weights and
what inference needs to know: material, species, layers, training pixel size (Å) and label
radius (Å). The shipped graphene model lives in ``tmdlearn/stem/weights/graphene/``.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tmdlearn.constants import LATTICE_ANGSTROM
from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.learn.train import resolve_device
from tmdlearn.models.card import make_card
from tmdlearn.models.store import read_model, write_model
from tmdlearn.models.unet import UNet
from tmdlearn.stem.atoms import atom_masks, find_atoms
from tmdlearn.stem.lattice import check_lattice_prior, pull_to_lattice, reassign_layers
from tmdlearn.stem.metrics import best_assignment


def normalise(image: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance float32 copy of an image (counts, any dose).

    Parameters
    ----------
    image : (H, W) array
        HAADF intensities (counts).

    Returns
    -------
    (H, W) float32 array
        The normalised image (dimensionless).
    """
    image = np.asarray(image, dtype=np.float32)
    return (image - image.mean()) / max(float(image.std()), 1e-6)


#: The robust normalisation of models trained on the realistic microscope (their
#: ``meta["normalisation"]``): background smoothed over 10 Å removed, outer 0.1 % clipped.
ROBUST = {"name": "robust", "background_angstrom": 10.0, "clip_percent": [0.1, 99.9]}


def _background(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """``image`` smoothed by a Gaussian of ``sigma_px``, computed on a grid 1/4 σ coarse."""
    from scipy.ndimage import gaussian_filter
    from skimage.transform import resize

    factor = max(1, int(sigma_px / 4))
    small = resize(image, (max(1, image.shape[0] // factor), max(1, image.shape[1] // factor)),
                   order=1, anti_aliasing=factor > 1, preserve_range=True)
    small = gaussian_filter(small, sigma_px * small.shape[0] / image.shape[0], mode="reflect")
    return resize(small, image.shape, order=1, preserve_range=True)


def prepare_image(image: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """The network's input: ``image`` normalised as the model was trained.

    Robust normalisation: the background smoothed over ``background_angstrom`` is removed
    (contamination and thickness gradients), the values are clipped to the percentiles
    ``clip_percent`` (hot pixels, dead lines, saturation), then zero mean, unit variance.

    Parameters
    ----------
    image : (H, W) array
        HAADF intensities (counts) at the model's pixel size (Å/px).
    meta : dict
        The model's metadata; ``meta["normalisation"]`` holds the settings (:func:`normalise`
        for models without one).

    Returns
    -------
    (H, W) float32 array
        The normalised image.
    """
    spec = meta.get("normalisation")
    if not spec:
        return normalise(image)
    image = np.asarray(image, dtype=np.float32)
    sigma_px = float(spec["background_angstrom"]) / float(meta["pixel_size_angstrom"])
    image = image - _background(image, sigma_px)
    lo, hi = np.percentile(image, spec["clip_percent"])
    return normalise(np.clip(image, lo, hi))


def save_model(path: str | Path, model: UNet, meta: dict[str, Any]) -> Path:
    """Write the model's arguments, weights (CPU) and ``meta`` as a model folder with its
    card (:func:`stem_card`), atomically.

    Parameters
    ----------
    path : str or Path
        The model folder.
    model : UNet
        The network.
    meta : dict
        Training config and record (pixel size in Å/px, species, ...).

    Returns
    -------
    Path
        The folder written.
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return write_model(path, {"unet": model.config, "state_dict": state, "meta": meta},
                       stem_card(meta))


def stem_card(meta: dict[str, Any]) -> dict[str, Any]:
    """The model card of a STEM model from its ``meta`` (training config and record).

    Parameters
    ----------
    meta : dict
        The model's metadata.

    Returns
    -------
    dict
        The model card.
    """
    config = meta.get("config") or {}
    record = meta.get("training") or {}
    train = config.get("train") or {}
    step = meta.get("step")
    images = step * int(train["batch_size"]) if step and train.get("batch_size") else None
    return make_card(
        "stem", "per-layer atom segmentation (Gomb-Net U-Net)", material=meta.get("material"),
        inputs={"modality": "haadf-stem", "unit": "counts",
                "pixel_size_angstrom": meta.get("pixel_size_angstrom"),
                "image_size_px": (config.get("data") or {}).get("size_px"),
                "species": meta.get("species"), "layers": meta.get("layers"),
                "normalisation": meta.get("normalisation")},
        training={"data": "simulated on the fly (tmdlearn.synth.stem); no manifest",
                  "manifest_sha256": None, "n_samples": images, "steps": step,
                  "record": record or None},
        metrics=meta.get("val") or {}, seed=config.get("seed"))


def shipped_model_path(material: str = "graphene") -> Path:
    """Folder of the model shipped inside the package for ``material``.

    Parameters
    ----------
    material : str
        The material, e.g. ``graphene`` or ``WS2``.

    Returns
    -------
    Path
        The model folder.
    """
    return Path(str(resources.files("tmdlearn.stem") / "weights" / material))


def fast_model(model: UNet) -> UNet:
    """Eval-mode copy for inference: batch norm folded into the convolutions, channels-last.

    Parameters
    ----------
    model : UNet
        The network.

    Returns
    -------
    UNet
        The folded copy.
    """
    return model.fold_batchnorm().to(memory_format=torch.channels_last)


def load_model(path: str | Path | None = None, material: str | None = None,
               device: str = "auto", fast: bool = True, trust_mismatch: bool = False
               ) -> tuple[UNet, dict[str, Any]]:
    """The model at ``path`` in eval mode, after its card is checked
    (:func:`tmdlearn.models.store.read_model`).

    Parameters
    ----------
    path : str or Path, optional
        The model folder; default: the shipped one for ``material``.
    material : str, optional
        The material (graphene if None and no ``path``); a model for another material than
        the one given is refused.
    device : str
        Torch device, "auto" picks CUDA when available.
    fast : bool
        Return :func:`fast_model` of it (same outputs to rounding, about twice as fast on a
        CPU); False: the plain module, e.g. to train it further.
    trust_mismatch : bool
        Turn a file whose sha256 differs from the card into a warning, not an error.

    Returns
    -------
    model : UNet
        The network.
    meta : dict
        Its metadata (pixel size in Å/px, species, normalisation, ...).
    """
    if path is None:
        path = shipped_model_path(material or "graphene")
    tree, _, folder = read_model(path, {"workflow": "stem", "material": material},
                                 trust_mismatch)
    try:
        model = UNet(**tree["unet"])
        model.load_state_dict(tree["state_dict"])
        meta = dict(tree["meta"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise InputError(f"not a tmdlearn STEM model ({err.__class__.__name__})",
                         folder) from None
    model = model.to(resolve_device(device)).eval()
    model = fast_model(model) if fast else model
    model.normalisation = meta.get("normalisation")  # its input (prepare_image)
    return model, meta


@torch.no_grad()
def predict_logits(model: UNet, image: np.ndarray, layers: int = 2,
                   batch: np.ndarray | None = None, normalised: bool = False) -> np.ndarray:
    """Logits (layers, species, H, W) of one image (any size: reflect-padded to the model).

    Parameters
    ----------
    model : UNet
        The network.
    image : (H, W) array
        HAADF image (counts) at the model's pixel size (Å/px).
    layers : int
        Layer branches of the model.
    batch : (N, H, W) array, optional
        Several images run at once instead of ``image``.
    normalised : bool
        The images are already :func:`normalise`-d (tiles of a normalised image).

    Returns
    -------
    array
        Logits (layers, species, H, W), or (N, layers, species, H, W) with ``batch``.
    """
    images = np.asarray(image)[None] if batch is None else np.asarray(batch)
    n, h, w = images.shape
    m = model.multiple
    ph, pw = (-h) % m, (-w) % m
    x = (images.astype(np.float32) if normalised
         else np.stack([normalise(im) for im in images]))[:, None]
    x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
    device = next(model.parameters()).device
    x = torch.from_numpy(x).to(device).contiguous(memory_format=torch.channels_last)
    out = model(x)[:, :, :h, :w].float().cpu().numpy()
    out = out.reshape(n, layers, -1, h, w)
    return out[0] if batch is None else out


#: Mirror views for test-time augmentation, as (flip rows, flip columns): they keep the shape.
VIEWS = ((False, False), (False, True), (True, False), (True, True))


def _mirror(array: np.ndarray, rows: bool, cols: bool) -> np.ndarray:
    """``array`` flipped along its last two axes (rows, columns) as asked."""
    return array[..., ::-1 if rows else 1, ::-1 if cols else 1]


def predict_views(model: UNet, image: np.ndarray, layers: int = 2, views: int = 1,
                  normalised: bool = False) -> np.ndarray:
    """Logits (layers, species, H, W) averaged over ``views`` mirror images of ``image``.

    A permutation-invariant model may put the layers in other branches for a mirrored image,
    so each view's branches are first matched to the first view's
    (:func:`tmdlearn.stem.metrics.best_assignment` of the masks).

    Parameters
    ----------
    model : UNet
        The network.
    image : (H, W) array
        HAADF image (counts) at the model's pixel size (Å/px).
    layers : int
        Layer branches of the model.
    views : int
        1 (the image), 2 (and its left-right mirror) or 4 (and the up-down and double
        mirrors); the cost grows in proportion.
    normalised : bool
        As in :func:`predict_logits`.

    Returns
    -------
    (layers, species, H, W) array
        The averaged logits.
    """
    if views not in (1, 2, 4):
        raise InputError(f"views must be 1, 2 or 4, got {views}")
    image = np.asarray(image)
    batch = np.stack([_mirror(image, *view) for view in VIEWS[:views]])
    out = predict_logits(model, None, layers, batch=batch, normalised=normalised)
    total = out[0].copy()
    for view, logits in zip(VIEWS[1:views], out[1:], strict=True):
        logits = _mirror(logits, *view)
        aligned = np.empty_like(logits)
        aligned[list(best_assignment(logits > 0, out[0] > 0))] = logits
        total += aligned
    return total / views


#: Overlap (model px) of neighbouring tiles in :func:`predict_tiled`.
TILE_OVERLAP_PX = 48


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start indices of the fewest tiles of ``tile`` px that cover ``length`` px with
    neighbours overlapping by at least ``overlap`` px, evenly spaced from the first to the
    last pixel (one tile if it fits).

    Parameters
    ----------
    length : int
        Image side, in px.
    tile : int
        Tile side, in px.
    overlap : int
        Least overlap of neighbouring tiles, in px.

    Returns
    -------
    list of int
        First pixel of each tile.
    """
    if length <= tile:
        return [0]
    count = 1 + int(np.ceil((length - tile) / max(1, tile - overlap)))
    return [int(v) for v in np.round(np.linspace(0, length - tile, count))]


def blend_window(size: int, before: int, after: int) -> np.ndarray:
    """1-D weights (``size``,) of a tile: a raised-cosine rise over the ``before`` px it shares
    with the previous tile, a fall over the ``after`` px shared with the next, 1 between
    (and at the image edges). Two neighbours' weights sum to 1 on their overlap; never zero
    (:func:`predict_tiled` divides by the summed weights, also where three tiles meet).

    Parameters
    ----------
    size : int
        Tile side, in px.
    before, after : int
        Overlap with the previous and the next tile, in px (0 at an image edge).

    Returns
    -------
    (size,) array
        The weights.
    """
    weights = np.ones(size, np.float32)
    for n, start in ((before, True), (after, False)):
        if n > 0:
            ramp = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2
            if start:
                weights[:n] = ramp
            else:
                weights[size - n:] = ramp[::-1]
    return weights


def match_branches(logits: np.ndarray, reference: np.ndarray, weights: np.ndarray
                   ) -> tuple[int, ...]:
    """The permutation ``perm`` (branch b -> reference branch perm[b]) that brings
    ``logits`` closest to ``reference``: the largest summed covariance, with pixel
    ``weights``, of the centred logits (the smallest weighted squared difference). On a thin
    strip where two tiles overlap the logits decide more reliably than the masks' IoU
    (:func:`tmdlearn.stem.metrics.best_assignment`), because both tiles see only part of
    their usual context there.

    Parameters
    ----------
    logits, reference : (B, S, N) array
        Logits of B branches, S species on N pixels.
    weights : (N,) array
        Pixel weights.

    Returns
    -------
    tuple of int
        ``perm``.
    """
    w = np.asarray(weights, float) / max(float(np.sum(weights)), 1e-12)
    p = logits.reshape(len(logits), -1, w.size)
    q = reference.reshape(len(reference), -1, w.size)
    p = p - (p * w).sum(-1, keepdims=True)
    q = q - (q * w).sum(-1, keepdims=True)
    cov = np.einsum("bsn,csn,n->bc", p, q, w)
    branches = range(len(cov))
    return max(itertools.permutations(branches),
               key=lambda perm: cov[list(branches), list(perm)].sum())


def predict_tiled(model: UNet, image: np.ndarray, layers: int = 2, views: int = 1,
                  tile: int = 256, overlap: int = TILE_OVERLAP_PX) -> np.ndarray:
    """Logits (layers, species, H, W) of an image of any size, ``tile`` x ``tile`` px at a time.

    The whole image is normalised once (:func:`normalise`; :func:`identify_atoms` passes it
    through :func:`prepare_image` first), so every tile keeps the image's intensity scale (a
    tile normalised on its own makes a monolayer region look like a bilayer one). Tiles overlap
    their neighbours by at least ``overlap`` px; each is predicted by :func:`predict_views`,
    its branches are matched to the part of the image already assembled on their overlap
    (:func:`match_branches`, weighted by both tiles' blending weights: a permutation-invariant
    model may put the layers in the other order in another tile), and the tiles are blended
    with raised-cosine weights (:func:`blend_window`) over the overlaps. The network's memory
    depends on the tile only.

    Parameters
    ----------
    model : UNet
        The network.
    image : (H, W) array
        HAADF image (counts) at the model's pixel size (Å/px).
    layers : int
        Layer branches of the model.
    views : int
        Mirror images averaged (:func:`predict_views`).
    tile : int
        Tile side, in px; 0, or an image that fits in one tile, is predicted whole.
    overlap : int
        Least overlap of neighbouring tiles, in px.

    Returns
    -------
    (layers, species, H, W) array
        The logits.
    """
    image = np.asarray(image)
    h, w = image.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return predict_views(model, image, layers, views)
    if not 0 <= overlap < tile:
        raise InputError(f"tile overlap must be in [0, tile), got {overlap} for tile {tile}")
    image = normalise(image)
    th, tw = min(tile, h), min(tile, w)
    rows, cols = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    total = weight = None
    for i, y in enumerate(rows):
        wy = blend_window(th, rows[i - 1] + th - y if i else 0,
                          y + th - rows[i + 1] if i + 1 < len(rows) else 0)
        for j, x in enumerate(cols):
            wx = blend_window(tw, cols[j - 1] + tw - x if j else 0,
                              x + tw - cols[j + 1] if j + 1 < len(cols) else 0)
            logits = predict_views(model, image[y:y + th, x:x + tw], layers, views,
                                   normalised=True)
            if total is None:
                total = np.zeros(logits.shape[:2] + (h, w), np.float32)
                weight = np.zeros((h, w), np.float32)
            window = (slice(y, y + th), slice(x, x + tw))
            tile_weight = wy[:, None] * wx[None, :]
            seen = weight[window] > 0
            if seen.any():
                assembled = total[(...,) + window][..., seen] / weight[window][seen]
                perm = match_branches(logits[..., seen], assembled,
                                      (weight[window] * tile_weight)[seen])
                aligned = np.empty_like(logits)
                aligned[list(perm)] = logits
                logits = aligned
            total[(...,) + window] += logits * tile_weight
            weight[window] += tile_weight
    return total / weight


def apply_lattice_prior(atoms: pd.DataFrame, shape: tuple[int, ...], lattice_prior: float,
                        meta: dict[str, Any], pixel_size_angstrom: float
                        ) -> tuple[pd.DataFrame, np.ndarray]:
    """Atoms pulled ``lattice_prior`` (0-1) of the way to their layer's honeycomb
    (:func:`tmdlearn.stem.lattice.pull_to_lattice`) and masks repainted as the model's label
    disks there.

    The disk radius (Å in ``meta``) is converted to pixels with the fitted lattice constant and
    the material's (:data:`tmdlearn.constants.LATTICE_ANGSTROM`), i.e. at the image's true
    magnification as the training labels were; with no honeycomb, with ``pixel_size_angstrom``.

    Parameters
    ----------
    atoms : DataFrame
        Atoms (x_px, y_px, layer, species, ...).
    shape : tuple of int
        Shape of the masks (layers, species, H, W).
    lattice_prior : float
        Fraction (0-1) of the way to the honeycomb.
    meta : dict
        The model's metadata (label disk radius in Å, material).
    pixel_size_angstrom : float
        Pixel size of the masks, in Å/px.

    Returns
    -------
    atoms : DataFrame
        The moved atoms.
    masks : (layers, species, H, W) bool array
        The repainted masks.
    """
    atoms, a_px = pull_to_lattice(atoms, lattice_prior)
    a_angstrom = LATTICE_ANGSTROM.get(str(meta.get("material")), float("nan"))
    scale = a_px / a_angstrom if np.isfinite(a_px / a_angstrom) else 1 / pixel_size_angstrom
    return atoms, atom_masks(atoms, shape, float(meta["label_radius_angstrom"]) * scale)


#: Smallest side, in model pixels, an image may have (a few lattice constants of graphene).
MIN_SIDE_PX = 48
#: Largest accepted ratio between the image's pixel size and the model's (either way).
MAX_SCALE = 2.5


def identify_atoms(image: StemImage, model: UNet, meta: dict[str, Any],
                   threshold: str | float = "logit0",
                   lattice: bool = True, views: int = 1, lattice_prior: float = 0.0,
                   tile: int = 0
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """Atoms per layer and species in a HAADF image, and the per-layer masks.

    The image is resampled to the model's pixel size (Å), segmented, and the atoms' sub-pixel
    centroids are mapped back to the image's own pixel grid.

    Parameters
    ----------
    image : StemImage
        The HAADF image (counts) with its pixel size (Å/px).
    model : UNet
        The network.
    meta : dict
        Its metadata (:func:`load_model`).
    threshold : str or float
        ``logit0`` or ``otsu``, or a probability (0-1) above which a pixel belongs to an atom.
    lattice : bool
        Move atoms (and their mask blobs) to the layer whose lattice they fit
        (:func:`tmdlearn.stem.lattice.reassign_layers`).
    views : int
        Mirror images averaged (:func:`predict_views`).
    lattice_prior : float
        Pull the positions that fraction (0-1) of the way to their layer's fitted honeycomb
        (:func:`apply_lattice_prior`: for rigid lattices only, it flattens real strain alike)
        and repaint the masks as the training label disks there.
    tile : int
        Tile side in model px (0 = the whole image at once): predicts larger images tile by
        tile (:func:`predict_tiled`), bounding the network's memory.

    Returns
    -------
    atoms : DataFrame
        One row per atom: x_px, y_px, layer, species name, score.
    masks : (layers, species, ny, nx) bool array
        Masks on the image's grid.

    Raises
    ------
    InputError
        For a pixel size far from the model's, an image too small for it or
        ``lattice_prior`` outside [0, 1].
    """
    from skimage.transform import resize

    check_lattice_prior(lattice_prior)
    model_pixel = float(meta["pixel_size_angstrom"])
    ratio = image.pixel_size_angstrom / model_pixel
    where = image.source
    if not 1 / MAX_SCALE <= ratio <= MAX_SCALE:
        raise InputError(
            f"pixel size {image.pixel_size_angstrom:g} Å is far from the model's "
            f"{model_pixel:g} Å (accepted {model_pixel / MAX_SCALE:.3g}-"
            f"{model_pixel * MAX_SCALE:.3g} Å); check the unit (Å, not nm)", where)
    ny, nx = image.shape
    shape = (max(1, round(ny * ratio)), max(1, round(nx * ratio)))
    if min(shape) < MIN_SIDE_PX:
        raise InputError(
            f"image of {ny}x{nx} px at {image.pixel_size_angstrom:g} Å is smaller than the "
            f"model's field: needs at least {MIN_SIDE_PX * model_pixel:.3g} Å per side", where)
    values = np.asarray(image.intensity, dtype=float)
    if not np.all(np.isfinite(values)):
        raise InputError("the image contains NaN or infinite values", where)
    if np.ptp(values) == 0:
        raise InputError("the image is constant", where)
    resampled = resize(values, shape, order=1, anti_aliasing=ratio < 1, preserve_range=True)
    logits = predict_tiled(model, prepare_image(resampled, meta), int(meta["layers"]), views,
                           tile)
    atoms = find_atoms(logits, threshold)
    cut = 0.0 if threshold in ("logit0", "otsu") else float(np.log(threshold / (1 - threshold)))
    masks = logits > cut
    if lattice:
        atoms, masks = reassign_layers(atoms, masks)
    if lattice_prior > 0:
        atoms, masks = apply_lattice_prior(atoms, masks.shape, lattice_prior, meta, model_pixel)
    # pixel centres: x_image = (x_model + 0.5) * nx / shape_x - 0.5
    atoms["x_px"] = (atoms["x_px"] + 0.5) * nx / shape[1] - 0.5
    atoms["y_px"] = (atoms["y_px"] + 0.5) * ny / shape[0] - 0.5
    atoms["species"] = np.asarray(meta["species"])[atoms["species"].to_numpy()]
    back = resize(masks.astype(np.float32), masks.shape[:2] + (ny, nx), order=1)
    return atoms[["x_px", "y_px", "layer", "species", "score"]], back > 0.5
