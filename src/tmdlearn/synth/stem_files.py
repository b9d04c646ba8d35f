"""Simulated HAADF-STEM training sets on disk (``tmdlearn stem simulate``).

Per split: ``{split}.npz`` (image (N, ny, nx) counts, labels (N, layers*species, ny, nx),
pixel_size_angstrom (N,) Å, species) and ``{split}_atoms.csv`` (image, x_px, y_px, layer,
species, n_se), optionally the first test images as TIFF files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path
from tmdlearn.progress import track
from tmdlearn.synth.specimen import WS2_EXIT_LAYER_DIMMING, WS2_METAL_Z_OFFSET, WS2_Z_EXPONENT
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed


def simulation_config(material: str = "graphene", size_px: int = 256,
                      pixel_size_angstrom: float = 0.1, se_scenario: str = "random",
                      microscope: str = "real") -> StemSimConfig:
    """The simulator's config for ``tmdlearn stem simulate``.

    Parameters
    ----------
    material : str
        "graphene", "ws2" or "mos2".
    size_px : int
        Image side, px.
    pixel_size_angstrom : float
        Pixel size, Å.
    se_scenario : str
        Which chalcogen sublayers carry Se (WS2).
    microscope : str
        "real" (aberrated probe, scan distortion, detector, contamination, atom widths
        0.1-0.25 Å; WS2 columns weighted as abTEM calibrates them, :data:`WS2_Z_EXPONENT`,
        :data:`WS2_METAL_Z_OFFSET`, :data:`WS2_EXIT_LAYER_DIMMING`) or "ideal" (Airy probe,
        Poisson noise).

    Returns
    -------
    StemSimConfig
    """
    if microscope not in ("real", "ideal"):
        raise InputError(f"--microscope must be real or ideal, got {microscope!r}")
    real = {"microscope": {}, "atom_sigma_angstrom": (0.1, 0.25)} if microscope == "real" else {}
    if material != "graphene":  # Mo columns: W's exponent offset assumed (not calibrated)
        real |= {"z_exponent": WS2_Z_EXPONENT, "metal_z_offset": WS2_METAL_Z_OFFSET,
                 "exit_layer_dimming": WS2_EXIT_LAYER_DIMMING}
    return StemSimConfig(material=material, size_px=size_px,
                         pixel_size_angstrom=pixel_size_angstrom, se_scenario=se_scenario,
                         **real)


def write_splits(out: Path, config: StemSimConfig, counts: dict[str, int], seed: int = 0,
                 tif: int = 0, log: Callable[[str], None] = print) -> None:
    """Simulate ``counts[split]`` images of each split into ``out`` (module docstring).

    Parameters
    ----------
    out : Path
        The data set folder.
    config : StemSimConfig
        The simulator's parameters.
    counts : dict
        Number of images by split ("train", "val", "test"); image k of a split from
        :func:`split_seed`.
    seed : int
        The data set's seed.
    tif : int
        The first ``tif`` test images also as ``out/test_K.tif``.
    log : callable
        Gets one line per split written.
    """
    from tmdlearn.io import write_stem

    size = config.size_px
    for split, count in counts.items():
        if count <= 0:
            continue
        images, labels, pixels, tables = [], [], [], []
        for k in track(range(count), f"simulating {split}"):
            s = simulate_image(config, split_seed(seed, split, k))
            images.append(s.image)
            labels.append(s.labels.reshape(-1, size, size))
            pixels.append(s.pixel_size_angstrom)
            tables.append(s.atoms.assign(image=k))
            if split == "test" and k < tif:
                write_stem(out / f"test_{k}.tif", StemImage(s.image, s.pixel_size_angstrom))
        with atomic_path(out / f"{split}.npz") as tmp:
            np.savez_compressed(tmp, image=np.stack(images),
                                labels=np.stack(labels).astype(np.uint8),
                                pixel_size_angstrom=np.array(pixels),
                                species=np.array(config.species))
        atoms = pd.concat(tables, ignore_index=True)
        atoms["species"] = np.array(config.species)[atoms["species"]]
        with atomic_path(out / f"{split}_atoms.csv") as tmp:
            atoms[["image", "x_px", "y_px", "layer", "species", "n_se"]].to_csv(tmp, index=False)
        log(f"{split}: {count} images -> {out / f'{split}.npz'}")
