"""Running trained segmentation models on STEM images: logits of an image, of its mirror
views and of large images tile by tile, and the atoms they find (:func:`identify_atoms`).

Models are saved and loaded by :mod:`tmdlearn.stem.modelstore`, images normalised by
:mod:`tmdlearn.stem.normalisation`, tiles laid out by :mod:`tmdlearn.stem.tiles`; their
functions are importable from here too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.models.unet import UNet
from tmdlearn.stem.atoms import column_separation_px, find_atoms, merge_close_atoms
from tmdlearn.stem.lattice import reassign_layers
from tmdlearn.stem.metrics import best_assignment
from tmdlearn.stem.modelstore import (  # noqa: F401 - re-exported: their import path before
    fast_model,
    load_model,
    save_model,
    shipped_model_path,
    stem_card,
)
from tmdlearn.stem.normalisation import ROBUST, normalise, prepare_image  # noqa: F401 - ditto
from tmdlearn.stem.prior import apply_lattice_prior, check_lattice_prior
from tmdlearn.stem.refine import refine_positions
from tmdlearn.stem.tiles import TILE_OVERLAP_PX, blend_window, match_branches, tile_starts


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
        The network, run once on all the views as one batch.
    image : (H, W) array
        HAADF image (counts, or normalised with ``normalised``) at the model's pixel size.
    layers : int
        Layer branches of the model, matched between views.
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
        The network, run on one tile at a time.
    image : (H, W) array
        HAADF image of any size (counts) at the model's pixel size (Å/px).
    layers : int
        Layer branches of the model, matched between tiles.
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


#: Smallest side, in model pixels, an image may have (a few lattice constants of graphene).
MIN_SIDE_PX = 48
#: Largest accepted ratio between the image's pixel size and the model's (either way).
MAX_SCALE = 2.5


def _regrid(atoms: pd.DataFrame, old: tuple[int, int], new: tuple[int, int]) -> pd.DataFrame:
    """``atoms`` with positions (px) moved from a grid of shape ``old`` to one of ``new`` over
    the same field (pixel centres: x_new = (x_old + 0.5) * nx_new / nx_old - 0.5)."""
    atoms = atoms.copy()
    atoms["x_px"] = (atoms["x_px"] + 0.5) * new[1] / old[1] - 0.5
    atoms["y_px"] = (atoms["y_px"] + 0.5) * new[0] / old[0] - 0.5
    return atoms


def identify_atoms(image: StemImage, model: UNet, meta: dict[str, Any],
                   threshold: str | float = "logit0",
                   lattice: bool = True, views: int = 1, lattice_prior: float = 0.0,
                   tile: int = 0, refine: bool = False, monolayer: bool = False
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """Atoms per layer and species in a HAADF image, and the per-layer masks.

    The image is resampled to the model's pixel size (Å), segmented, and the atoms' sub-pixel
    centroids are mapped back to the image's own pixel grid. A column lit in several species
    channels of a layer is one atom (:func:`tmdlearn.stem.atoms.merge_close_atoms`, after the
    lattice step: before it a layer branch may hold columns of both layers).

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
    refine : bool
        Refine the positions against the image itself, after the lattice step and before the
        lattice prior (:func:`tmdlearn.stem.refine.refine_positions`, on the image's own
        grid; the masks stay the network's).
    monolayer : bool
        The specimen is one layer: the columns of every branch are one layer (0; a column
        found in both is one atom) and the masks one layer, in place of the lattice step.

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
        source = (image.metadata or {}).get("pixel_size_source")
        advice = ("check the unit (Å, not nm or pm)" if source in (None, "given") else
                  f"the file states it ({source}): a field of "
                  f"{max(image.shape) * image.pixel_size_angstrom / 10:.3g} nm is no "
                  "atomic-resolution image; give --pixel-size if the file's calibration "
                  "is wrong")
        raise InputError(
            f"pixel size {image.pixel_size_angstrom:g} Å is far from the model's "
            f"{model_pixel:g} Å (accepted {model_pixel / MAX_SCALE:.3g}-"
            f"{model_pixel * MAX_SCALE:.3g} Å); {advice}", where)
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
    if monolayer:
        atoms, masks = atoms.assign(layer=0), masks.any(axis=0, keepdims=True)
    elif lattice:
        atoms, masks = reassign_layers(atoms, masks)
    atoms = merge_close_atoms(atoms, column_separation_px(str(meta.get("material", "graphene")),
                                                          model_pixel))
    if refine:
        atoms = _regrid(refine_positions(values, _regrid(atoms, shape, (ny, nx)),
                                         image.pixel_size_angstrom), (ny, nx), shape)
    if lattice_prior > 0:
        atoms, masks = apply_lattice_prior(atoms, masks.shape, lattice_prior, meta, model_pixel)
    atoms = _regrid(atoms, shape, (ny, nx))
    atoms["species"] = np.asarray(meta["species"])[atoms["species"].to_numpy()]
    back = resize(masks.astype(np.float32), masks.shape[:2] + (ny, nx), order=1)
    return atoms[["x_px", "y_px", "layer", "species", "score"]], back > 0.5
