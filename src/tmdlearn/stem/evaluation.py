"""Scores of a segmentation U-Net on simulated images: pixel accuracy, mean IoU and, per layer,
atom precision, recall, RMS position error (Å) and species accuracy, on the network's output
and optionally after layer reassignment or the lattice prior. Images come from a fixed stream
of the simulator (``val`` by default), so every model is scored on the same images.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.models.unet import UNet
from tmdlearn.stem.atoms import atom_scores, column_separation_px, find_atoms, merge_close_atoms
from tmdlearn.stem.inference import predict_views
from tmdlearn.stem.lattice import reassign_layers
from tmdlearn.stem.metrics import segmentation_scores
from tmdlearn.stem.normalisation import prepare_image
from tmdlearn.stem.prior import apply_lattice_prior, check_lattice_prior
from tmdlearn.stem.refine import refine_positions
from tmdlearn.synth.stem import N_LAYERS, StemSample, StemSimConfig, simulate_image, split_seed


def _summary(acc: list[float], iou: list[float], tables: list[pd.DataFrame],
             suffix: str = "") -> dict[str, float]:
    """Means over images: pixel accuracy, IoU, and atom scores per layer (keys + suffix)."""
    atoms = pd.concat(tables).groupby("layer")[["precision", "recall", "rms_error_angstrom",
                                                "species_accuracy"]]
    out = {f"pixel_accuracy{suffix}": float(np.mean(acc)),
           f"mean_iou{suffix}": float(np.nanmean(iou))}
    for layer, row in atoms.mean().iterrows():
        for key, value in row.items():
            out[f"{key}_layer{layer}{suffix}"] = float(value)
    return out


def scored_images(model: UNet, sim: StemSimConfig, seed: int, n_images: int,
                  split: str = "val", lattice: bool = False, views: int = 1,
                  lattice_prior: float = 0.0, refine: bool = False
                  ) -> Iterator[tuple[StemSample, str, pd.DataFrame, dict[str, Any]]]:
    """For each of ``n_images`` of ``split``: (sample, suffix, found atoms, segmentation
    scores).

    Images are normalised as the model was trained: the ``normalisation`` that
    :func:`tmdlearn.stem.modelstore.load_model` or training attached to it
    (:func:`tmdlearn.stem.normalisation.prepare_image`; none: z-score).

    Parameters
    ----------
    model : UNet
        The network (set to eval mode).
    sim : StemSimConfig
        The simulator's settings.
    seed : int
        Seed of the image streams.
    n_images : int
        Images of the stream.
    split : str
        The simulator stream ("val", "train"...).
    lattice : bool
        Also yield the atoms after :func:`reassign_layers` and
        :func:`tmdlearn.stem.atoms.merge_close_atoms` (suffix "_lattice").
    views : int
        Mirror images averaged (:func:`tmdlearn.stem.inference.predict_views`).
    lattice_prior : float
        In [0, 1] (InputError otherwise); > 0 also yields (suffix "_prior") the atoms of the
        last step with positions pulled that fraction of the way to the layers' honeycombs
        and the masks repainted as label disks there
        (:func:`tmdlearn.stem.prior.apply_lattice_prior`).
    refine : bool
        Also yield (suffix "_refine") the atoms of the last step before the prior with
        positions refined against the image (:func:`tmdlearn.stem.refine.refine_positions`;
        same masks); the prior then starts from them.

    Yields
    ------
    tuple
        (StemSample, suffix, found atoms DataFrame (px), :func:`segmentation_scores` dict), the
        suffix "" for the network's output; the scores' ``assignment`` maps branches to true
        layers.
    """
    check_lattice_prior(lattice_prior)
    model.eval()
    meta = {"material": sim.material, "label_radius_angstrom": sim.label_radius_angstrom,
            "pixel_size_angstrom": sim.pixel_size_angstrom,
            "normalisation": getattr(model, "normalisation", None)}
    for k in range(n_images):
        s = simulate_image(sim, split_seed(seed, split, k))
        logits = predict_views(model, prepare_image(s.image, meta), N_LAYERS, views)
        found, masks = find_atoms(logits), logits > 0
        yield s, "", found, segmentation_scores(masks, s.labels)
        if lattice:
            found, masks = reassign_layers(found, masks)
            found = merge_close_atoms(found, column_separation_px(sim.material,
                                                                  sim.pixel_size_angstrom))
            yield s, "_lattice", found, segmentation_scores(masks, s.labels)
        if refine:
            found = refine_positions(s.image, found, s.pixel_size_angstrom)
            yield s, "_refine", found, segmentation_scores(masks, s.labels)
        if lattice_prior > 0:
            found, masks = apply_lattice_prior(found, masks.shape, lattice_prior, meta,
                                               sim.pixel_size_angstrom)
            yield s, "_prior", found, segmentation_scores(masks, s.labels)


def evaluate(model: UNet, sim: StemSimConfig, seed: int, n_images: int,
             match_radius_angstrom: float = 0.5, split: str = "val",
             lattice: bool = False, views: int = 1, lattice_prior: float = 0.0,
             refine: bool = False) -> dict[str, float]:
    """Mean pixel accuracy, mean IoU, atom precision/recall/RMS error (Å) and species accuracy
    of the matched atoms per layer over ``n_images`` (:func:`summarise_images` of
    :func:`scored_images`).

    Parameters
    ----------
    model : UNet
        The network.
    sim : StemSimConfig
        The simulator's settings.
    seed : int
        Seed of the image streams.
    n_images : int
        Images scored.
    match_radius_angstrom : float
        Largest distance (Å) of a found atom from the true one it matches.
    split : str
        The simulator stream.
    lattice : bool
        Also score the atoms and masks after :func:`reassign_layers` (keys ending in
        ``_lattice``).
    views : int
        Mirror images averaged (:func:`tmdlearn.stem.inference.predict_views`).
    lattice_prior : float
        > 0 also scores them after the lattice prior (keys ending in ``_prior``).
    refine : bool
        Also scores them after the refinement against the image (keys ending in ``_refine``).

    Returns
    -------
    dict
        ``pixel_accuracy``, ``mean_iou`` and per layer ``precision_layer{k}``,
        ``recall_layer{k}``, ``rms_error_angstrom_layer{k}``, ``species_accuracy_layer{k}``
        (each also with the suffixes above).
    """
    return summarise_images(
        scored_images(model, sim, seed, n_images, split, lattice, views, lattice_prior,
                      refine),
        match_radius_angstrom)


def summarise_images(images: Iterable[tuple[StemSample, str, pd.DataFrame, dict[str, Any]]],
                     match_radius_angstrom: float = 0.5) -> dict[str, float]:
    """The means of :func:`evaluate` over the items of :func:`scored_images`, per suffix.

    Parameters
    ----------
    images : iterable of tuple
        The items of :func:`scored_images`.
    match_radius_angstrom : float
        Largest distance (Å) of a found atom from the true one it matches.

    Returns
    -------
    dict
        As :func:`evaluate` returns it.
    """
    runs: dict[str, tuple[list, list, list]] = {}
    for s, suffix, found, scores in images:
        acc, iou, tables = runs.setdefault(suffix, ([], [], []))
        acc.append(scores["pixel_accuracy"])
        iou.append(scores["mean_iou"])
        table = atom_scores(found, s.atoms, match_radius_angstrom / s.pixel_size_angstrom,
                            assignment=scores["assignment"], border_px=4, shape=s.image.shape)
        tables.append(table.assign(rms_error_angstrom=table.rms_error_px * s.pixel_size_angstrom))
    out: dict[str, float] = {}
    for suffix, lists in runs.items():
        out |= _summary(*lists, suffix=suffix)
    return out
