"""The napari reader (npe2 command ``tmdlearn.get_reader``): every file tmdlearn reads and
tmdlearn's outputs, as layers with physical scales and units.

* instrument files (:func:`tmdlearn.io.read`): AFM heights (nm), HAADF images (Å), spectral
  maps as a stack (spectral axis, y, x), spectra as an (N, L) image;
* NeXus files (:func:`tmdlearn.interop.nexus.read_nexus`): their container, or map fit
  results as one image per parameter and the verdicts as labels;
* ``stem predict`` outputs: ``atoms.csv`` as one points layer per crystal layer and species,
  ``masks.npz`` as one labels layer per crystal layer, ``quality.json`` (found beside them)
  as their metadata, and a prediction folder (all of these) at once.

A file tmdlearn cannot read gives no reader when its extension is a generic one (.tif, .npy,
.csv, .txt, ...), so napari's own readers take it; for tmdlearn's own formats the reader
raises the InputError that says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.errors import InputError
from tmdlearn.interop.napari.layers import (
    LayerData,
    atom_layers,
    container_layers,
    fit_maps_layers,
    mask_layers,
)
from tmdlearn.io.read import NEXUS_SUFFIXES
from tmdlearn.io.spectra import TEXT_SUFFIXES
from tmdlearn.io.stem import DM_FORMATS, EMD_FORMATS, GPL_FORMATS, NION_FORMATS, STEM_FORMATS

#: Extensions other programs use too: a file tmdlearn cannot read is left to other readers.
OWN_STEM_FORMATS = DM_FORMATS + EMD_FORMATS + GPL_FORMATS + NION_FORMATS
GENERIC_SUFFIXES = (*TEXT_SUFFIXES, *(s for s in STEM_FORMATS if s not in OWN_STEM_FORMATS),
                    ".h5", ".hdf5")
ATOMS_COLUMNS = ("x_px", "y_px", "layer", "species")


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """The reader of ``path``, or None when tmdlearn does not read it.

    The file is read here, once; the reader returns its layers.

    Parameters
    ----------
    path : str or list of str
        One file or a ``stem predict`` folder (a list of one).

    Returns
    -------
    callable or None
        ``reader(path)`` -> list of layer data.
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    try:
        layers = read_layers(path)
    except InputError as err:
        if path.is_dir() or path.suffix.lower() in GENERIC_SUFFIXES:
            return None
        return _raise(err)
    return (lambda _path: layers) if layers else None


def _raise(err: InputError) -> Callable[[str], list[LayerData]]:
    def reader(_path: str) -> list[LayerData]:
        raise err
    return reader


def read_layers(path: str | Path) -> list[LayerData]:
    """The napari layers of one file or ``stem predict`` folder.

    Parameters
    ----------
    path : str or Path
        The file or folder.

    Returns
    -------
    list of (data, kwargs, layer_type)
        [] for a folder without ``atoms.csv``.

    Raises
    ------
    InputError
        For a file tmdlearn cannot read.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "atoms.csv").is_file():
            return []
        layers = _atoms(path / "atoms.csv")
        if (path / "masks.npz").is_file():
            layers = _masks(path / "masks.npz") + layers
        return layers
    suffix = path.suffix.lower()
    if suffix == ".csv" and _is_atoms_table(path):
        return _atoms(path)
    if suffix == ".npz" and _is_masks_archive(path):
        return _masks(path)
    if suffix in NEXUS_SUFFIXES:
        from tmdlearn.interop.nexus import read_nexus
        from tmdlearn.spectra.fitmaps import FitMaps

        item = read_nexus(path)
        if isinstance(item, FitMaps):
            return fit_maps_layers(item, path.stem)
        return container_layers(item, path.stem)
    from tmdlearn.io import read

    return container_layers(read(path), path.stem)


def _is_atoms_table(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = [name.strip() for name in handle.readline().split(",")]
    return set(ATOMS_COLUMNS) <= set(header)


def _is_masks_archive(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {"masks", "species"} <= set(archive.files)
    except Exception:  # noqa: BLE001 - not an archive: read() says why
        return False


def _quality(folder: Path) -> dict | None:
    """``quality.json`` of a prediction folder (None when absent or unreadable)."""
    try:
        return json.loads((folder / "quality.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pixel_size(folder: Path, quality: dict | None) -> float | None:
    """The image's pixel size in Å, from ``quality.json`` or ``masks.npz`` beside a table."""
    if quality and (quality.get("figures") or {}).get("pixel_size_angstrom"):
        return float(quality["figures"]["pixel_size_angstrom"])
    if (folder / "masks.npz").is_file():
        with np.load(folder / "masks.npz", allow_pickle=False) as archive:
            if "pixel_size_angstrom" in archive.files:
                return float(archive["pixel_size_angstrom"])
    return None


def _atoms(path: Path) -> list[LayerData]:
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError) as err:
        raise InputError(f"cannot read the atoms table: {err}", path) from err
    quality = _quality(path.parent)
    try:
        return atom_layers(table, _pixel_size(path.parent, quality), quality,
                           path.parent.name if path.name == "atoms.csv" else path.stem)
    except InputError as err:
        raise InputError(err.problem, path) from err


def _masks(path: Path) -> list[LayerData]:
    with np.load(path, allow_pickle=False) as archive:
        masks, species = archive["masks"], [str(s) for s in archive["species"]]
        pixel = (float(archive["pixel_size_angstrom"])
                 if "pixel_size_angstrom" in archive.files else None)
    try:
        return mask_layers(masks, species, pixel, _quality(path.parent), path.parent.name)
    except InputError as err:
        raise InputError(err.problem, path) from err
