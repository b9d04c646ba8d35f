"""The inputs of the classification workflow: features from an .npz, AFM height maps from an
.npz or from a manifest (``data.features``, ``data.images``, ``data.manifest`` of the config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.errors import InputError


def load(config: dict) -> dict:
    """The arrays the config's ``data`` names, as keyword arguments of
    :func:`~tmdlearn.classify.workflow.run_images` (``heights``, ``targets``, ``groups``,
    ``pixel_size_nm``, ``properties``; from ``data.manifest``, else ``data.images``) or of
    :func:`~tmdlearn.classify.workflow.run_features` (``features``, ``targets``, ``groups``,
    ``latent_features``; from ``data.features``).

    Parameters
    ----------
    config : dict
        Workflow configuration with a ``data`` section (``manifest`` with ``target``,
        ``images``, or ``features`` with ``latent_features``: file paths).

    Returns
    -------
    dict
        For images: heights ((N, H, W) array or list of 2-D arrays, nm), targets, groups
        (sample ids), pixel_size_nm (nm, one per image or one number, or None) and properties
        (DataFrame); for features: features (N, D), targets, groups and latent_features
        ((N, D') or None).
    """
    data = config["data"]
    if data.get("manifest"):
        return _load_manifest(Path(data["manifest"]), data.get("target", "material"))
    if data.get("images"):
        return _load_images(Path(data["images"]))
    if data.get("features"):
        return _load_features(Path(data["features"]), data.get("latent_features"))
    raise InputError("the config names no data: set data.manifest, data.images or "
                     "data.features")


def _load_features(path: Path, latent_path: str | None) -> dict:
    arrays = _load_npz(path, ("features", "targets", "sample_id"))
    if arrays["features"].ndim != 2 or len(arrays["features"]) != len(arrays["targets"]):
        raise InputError(f"features must be (N, D) with N = len(targets), got "
                         f"{arrays['features'].shape}", path)
    latent = None
    if latent_path:
        latent_path = Path(latent_path)
        latent = _load_npz(latent_path, ("features",))["features"]
        if len(latent) != len(arrays["targets"]):
            raise InputError(f"{len(latent)} rows, {len(arrays['targets'])} expected",
                             latent_path)
    return {"features": arrays["features"], "targets": arrays["targets"],
            "groups": arrays["sample_id"], "latent_features": latent}


def _load_npz(path: Path, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable .npz file ({err.__class__.__name__})", path) from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise InputError(f"missing arrays {missing} (has {sorted(arrays)})", path)
    n = len(arrays[required[0]])
    for key in ("targets", "sample_id"):
        if key in arrays and len(arrays[key]) != n:
            raise InputError(f"{key} has {len(arrays[key])} rows, {n} expected", path)
    return arrays


def _load_images(path: Path):
    """Height maps (N, H, W) in nm, targets, sample ids, the optional ``pixel_size_nm`` (one
    number or one per image) and, as a table, the other 1-D numeric arrays of length N
    (per-image properties for the latent analysis)."""
    arrays = _load_npz(path, ("heights", "targets", "sample_id"))
    heights = arrays.pop("heights").astype(np.float32)
    if heights.ndim != 3:
        raise InputError(f"heights must be (N, H, W) in nm, got {heights.shape}", path)
    targets, groups = arrays.pop("targets"), arrays.pop("sample_id")
    pixel_size = arrays.pop("pixel_size_nm", None)
    if pixel_size is not None and (pixel_size.size not in (1, len(heights))
                                   or not np.all(pixel_size > 0)):
        raise InputError("pixel_size_nm must be one positive number or one per image", path)
    properties = pd.DataFrame({key: value for key, value in arrays.items()
                               if value.shape == (len(heights),)
                               and np.issubdtype(value.dtype, np.number)})
    return {"heights": heights, "targets": targets, "groups": groups,
            "pixel_size_nm": None if pixel_size is None else pixel_size.ravel(),
            "properties": properties}


def _load_manifest(path: Path, target: str):
    """AFM height maps (nm) listed by a manifest, their classes (column ``target``), samples,
    pixel sizes (nm) and the varying numeric columns of the manifest (per-image properties for
    the latent analysis)."""
    from tmdlearn.io import open_dataset

    dataset = open_dataset(path).filter(modality="afm")
    if len(dataset) == 0:
        raise InputError("the manifest lists no afm rows", path)
    if target not in dataset.table.columns:
        raise InputError(f"no column {target!r} in the manifest (set data.target)", path)
    maps = [height_map for _, height_map in dataset]
    table = dataset.table
    numeric = table.select_dtypes("number")
    properties = numeric.loc[:, numeric.nunique() > 1].reset_index(drop=True)
    return {"heights": [m.height_nm for m in maps], "targets": table[target].to_numpy(dtype=str),
            "groups": table["sample_id"].to_numpy(dtype=str),
            "pixel_size_nm": np.array([m.pixel_size_nm for m in maps]), "properties": properties}
