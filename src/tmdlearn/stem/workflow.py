"""The STEM prediction workflow: Gomb-Net atoms per layer in a HAADF image, with the self-check.

``DEFAULTS`` (the documented config of ``stem predict``), ``load(cfg)`` (the model and the image
``data.image``) and ``run(inputs, cfg)`` -> :class:`~tmdlearn.outcome.Outcome` of one image:
``atoms.csv``, ``masks.npz``, ``quality.json``, figures ``overlay`` and ``render``, and its
summary row as metrics. Training has its own config (:data:`tmdlearn.stem.train.DEFAULTS`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from tmdlearn.constants import A_WS2_ANGSTROM, A_WSE2_ANGSTROM
from tmdlearn.engine.choice import RUN_HELP, run_section
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path, write_json
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing

DEFAULTS = {
    # image: a HAADF file; pixel_size_angstrom: overrides the file's (Å)
    "data": {"image": None, "pixel_size_angstrom": None},
    # path: a model folder (null: the shipped one for material, graphene if null); material:
    # with a path, the material the model must be for; device: auto, cpu or cuda;
    # trust_mismatch: load a model whose files differ from the sha256 in its card (a warning)
    "model": {"path": None, "material": None, "device": "auto", "trust_mismatch": False},
    # threshold: logit0, otsu or a probability; lattice: move atoms to the layer whose
    # honeycomb they sit on; views: 1, 2 or 4 mirror views; lattice_prior, refine: HELP below;
    # tile: model px per tile (0: none)
    "find": {"threshold": "logit0", "lattice": True, "views": 1, "lattice_prior": 0.0,
             "tile": 1024, "refine": False},
    # where the images of a folder are predicted, one task each (docs/scale.md)
    "run": run_section(),
}
#: ``run.scheduler: auto`` starts a local cluster of processes from this many images on.
LARGE_FOLDER = 16

#: Meaning of config keys, shared by the command-line help and the docs' config table
#: (:func:`tmdlearn.config.fill_config_tables`).
HELP = {
    "find.lattice_prior": "pull each atom this fraction (0-1) of the way to its layer's fitted "
                          "honeycomb site and repaint the masks there; rigid lattices only: it "
                          "flattens real strain alike (`--lattice-prior`; docs/stem.md, "
                          "Rigid-lattice prior)",
    "find.refine": "refine each atom's position by a joint 2-D Gaussian fit to the image "
                   "(moves of at most 0.3 Å; before the lattice prior) (`--refine/--no-refine`; "
                   "docs/stem.md, Position refinement)",
    **RUN_HELP,
}


def load(config: dict) -> dict:
    """The model and the image ``data.image``; the ``find`` options checked.

    Parameters
    ----------
    config : dict
        The config (:data:`DEFAULTS` layout).

    Returns
    -------
    dict
        ``net`` (the network), ``meta`` (its card), ``model`` (its folder) and ``image`` (the
        StemImage, pixel size in Å).
    """
    return {**load_model_inputs(config), "image": read_image(config["data"]["image"], config)}


def load_model_inputs(config: dict) -> dict:
    """The model of ``config["model"]`` as inputs of :func:`run`; the ``find`` options checked.

    Parameters
    ----------
    config : dict
        The effective config (:data:`DEFAULTS`).

    Returns
    -------
    dict
        ``net`` (the network), ``meta`` (its card) and ``model`` (its folder).
    """
    from tmdlearn.models.store import model_folder
    from tmdlearn.stem.modelstore import load_model, shipped_model_path

    check_options(config)
    m = config["model"]
    path = m["path"] or shipped_model_path(m["material"] or "graphene")
    net, meta = load_model(path, m["material"], m["device"], trust_mismatch=m["trust_mismatch"])
    return {"net": net, "meta": meta, "model": model_folder(path)}


def check_options(config: dict) -> None:
    """InputError for a threshold, pixel size, lattice prior, refine flag or tile out of range
    (the config keys and their command-line options named).

    Parameters
    ----------
    config : dict
        The config (:data:`DEFAULTS` layout); a numeric ``find.threshold`` given as text is
        replaced by its float.
    """
    from tmdlearn.stem.prior import check_lattice_prior
    from tmdlearn.stem.tiles import TILE_OVERLAP_PX

    find, pixel_size = config["find"], config["data"]["pixel_size_angstrom"]
    threshold = find["threshold"]
    if threshold not in ("logit0", "otsu"):
        try:
            threshold = float(threshold)
        except ValueError:
            raise InputError(
                f"threshold must be logit0, otsu or a number, got {threshold!r}") from None
        if not 0 < threshold < 1:
            raise InputError(f"threshold probability must be in (0, 1), got {threshold}")
        find["threshold"] = threshold
    if pixel_size is not None and not pixel_size > 0:
        raise InputError(f"--pixel-size must be positive, got {pixel_size}",
                         config["data"]["image"])
    check_lattice_prior(find["lattice_prior"])
    if not isinstance(find["refine"], bool):
        raise InputError(f"find.refine (--refine/--no-refine) must be true or false, got "
                         f"{find['refine']!r}")
    tile = find["tile"]
    if tile != 0 and tile < 2 * TILE_OVERLAP_PX:
        raise InputError(f"--tile must be 0 or at least {2 * TILE_OVERLAP_PX} px, got {tile}")


def read_image(path, config: dict):
    """The StemImage at ``path`` (colour images refused by the reader), with the config's
    pixel size (Å) when given.

    Parameters
    ----------
    path : str or Path
        The HAADF file.
    config : dict
        The config; ``data.pixel_size_angstrom`` (Å/px) overrides the file's.

    Returns
    -------
    StemImage
    """
    from tmdlearn.io import read

    return read(Path(path), modality="stem",
                pixel_size_angstrom=config["data"]["pixel_size_angstrom"])


def run(inputs: dict, config: dict, progress: bool | None = None) -> Outcome:
    """Atoms, masks, overlay and self-check of the image of :func:`load`.

    Parameters
    ----------
    inputs : dict
        As :func:`load` returns it.
    config : dict
        The config (:data:`DEFAULTS` layout).
    progress : bool, optional
        Progress bars on (True), off (False) or on a terminal only (None).

    Returns
    -------
    Outcome
        Metrics: the image's summary row (file, pixel size (Å), atoms per layer, trust, score,
        main reason); files ``atoms.csv`` (positions in px), ``masks.npz`` and
        ``quality.json``; figures ``overlay`` and ``render``; the model folder
        (``inputs["model"]``, when given) as the loaded model; ``details``: atoms, masks and
        the :class:`~tmdlearn.stem.quality.Quality`.
    """
    from tmdlearn.stem.figures import overlay_figure, render_figure
    from tmdlearn.stem.inference import identify_atoms
    from tmdlearn.stem.quality import assess

    stem_image, net, meta, find = inputs["image"], inputs["net"], inputs["meta"], config["find"]
    name = Path(stem_image.source).name if stem_image.source else "image"
    with showing(progress):
        atoms, masks = identify_atoms(stem_image, net, meta, find["threshold"],
                                      find["lattice"], find["views"], find["lattice_prior"],
                                      find["tile"], find["refine"])
    quality = assess(stem_image.intensity, atoms, stem_image.pixel_size_angstrom,
                     str(meta.get("material", "graphene")), int(meta["layers"]))
    counts = atoms.groupby("layer").size()
    row = {"file": name, "pixel_size_angstrom": stem_image.pixel_size_angstrom,
           "atoms": len(atoms),
           **{f"atoms_layer{k}": int(counts.get(k, 0)) for k in range(int(meta["layers"]))},
           "trust": quality.trust, "score": round(quality.score, 4),
           "main_reason": quality.main_reason}
    files = {"atoms.csv": partial(_write_csv, table=atoms),
             "masks.npz": partial(_write_masks, masks=masks, species=meta["species"],
                                  pixel_size=stem_image.pixel_size_angstrom),
             "quality.json": partial(write_json, payload={"file": name, **quality.to_dict()})}
    figures = {"overlay": overlay_figure(stem_image.intensity, atoms, masks,
                                         stem_image.pixel_size_angstrom, quality),
               "render": render_figure(quality)}
    return Outcome(metrics=row, figures=figures, files=files, folders=("", ""),
                   loaded_models=[inputs["model"]] if inputs.get("model") else [],
                   details={"atoms": atoms, "masks": masks, "quality": quality})


def _write_csv(path: Path, table) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def _write_masks(path: Path, masks: np.ndarray, species, pixel_size: float) -> None:
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, masks=masks.astype(np.uint8), species=np.array(species),
                            pixel_size_angstrom=pixel_size)


def read_atoms(atoms_csv: str | Path, masks: str | Path | None = None):
    """The atoms table of ``stem predict`` and the image shape.

    Parameters
    ----------
    atoms_csv : str or Path
        The ``atoms.csv`` (columns x_px, y_px, layer, species).
    masks : str or Path, optional
        The ``masks.npz`` giving the image shape; default the one beside ``atoms_csv``, and
        the atoms' extent when there is none.

    Returns
    -------
    atoms : DataFrame
        Positions in px.
    shape : tuple of int
        (H, W) of the image (px).
    """
    import pandas as pd

    atoms_csv = Path(atoms_csv)
    try:
        atoms = pd.read_csv(atoms_csv)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read atoms table ({err.__class__.__name__})", atoms_csv) from None
    missing = {"x_px", "y_px", "layer", "species"} - set(atoms.columns)
    if missing:
        raise InputError(f"atoms table lacks columns {sorted(missing)}", atoms_csv)
    masks = Path(masks) if masks else atoms_csv.parent / "masks.npz"
    if atoms.empty and not masks.is_file():
        raise InputError("the atoms table has no atoms, and no masks.npz gives the image "
                         "shape", atoms_csv)
    if masks.is_file():
        shape = tuple(np.load(masks)["masks"].shape[-2:])
    else:
        shape = (int(np.ceil(atoms.y_px.max())) + 1, int(np.ceil(atoms.x_px.max())) + 1)
    return atoms, shape


def analyse(atoms, shape: tuple[int, int], pixel_size_angstrom: float,
            material: str = "graphene", n_boot: int = 1000, seed: int = 0,
            a_ws2: float = A_WS2_ANGSTROM, a_wse2: float = A_WSE2_ANGSTROM,
            bond_max: float | None = None, undistort: bool = True) -> Outcome:
    """The analyses of ``stem analyze`` (:func:`tmdlearn.stem.analysis.analyse_atoms`) as an
    Outcome.

    Parameters
    ----------
    atoms : DataFrame
        Atoms, columns x_px, y_px (px), layer and species.
    shape : tuple of int
        (H, W) of the image (px).
    pixel_size_angstrom : float
        Pixel size (Å/px), positive.
    material : str
        "graphene" or "ws2".
    n_boot : int
        Bootstrap resamples of the Se-site KDE comparison (WS2 with two layers and Se sites).
    seed : int
        Seed of that bootstrap.
    a_ws2, a_wse2 : float
        Lattice constants (Å) of WS2 and WSe2 for the Vegard Se fraction (WS2 only).
    bond_max : float, optional
        Bond distances above it (Å) are left out of the bond statistics.
    undistort : bool
        Remove the shared scan distortion before measuring.

    Returns
    -------
    Outcome
        Tables ``lattice`` and ``bonds`` (Å), figures ``bond_histogram``, ``order_parameter``,
        ``se_vs_moire_kde`` where they apply, and ``analysis.json`` (= metrics).
    """
    from tmdlearn.stem.analysis import analyse_atoms
    from tmdlearn.stem.figures import bond_histogram_figure, kde_figure, order_parameter_figure

    if not pixel_size_angstrom > 0:
        raise InputError(f"--pixel-size must be positive, got {pixel_size_angstrom}")
    if material not in ("graphene", "ws2"):
        raise InputError(f"material must be graphene or ws2, got {material!r}")
    if bond_max is not None and not bond_max > 0:
        raise InputError(f"--bond-max must be positive, got {bond_max}")
    result = analyse_atoms(atoms, pixel_size_angstrom, material, shape, n_boot, seed, a_ws2,
                           a_wse2, bond_max, undistort)
    bonds = result["bond_statistics"]
    outcome = Outcome(tables={"lattice": result["lattice"], "bonds": bonds}, folders=("", ""))
    summary = {"scan_distortion": result.get("scan_distortion"),
               "lattice": result["lattice"].to_dict("records"),
               "bond_statistics": {str(row.pop("layer")): row for row in bonds.to_dict("records")}}
    if "bonds" in result and len(result["bonds"]):
        outcome.figures["bond_histogram"] = bond_histogram_figure(result["bonds"])
        summary["bond_median_angstrom"] = float(np.median(result["bonds"]))
    if result.get("maps"):
        outcome.figures["order_parameter"] = order_parameter_figure(result["maps"])
    if "kde" in result:
        outcome.figures["se_vs_moire_kde"] = kde_figure(result["kde"], n_boot)
        summary["kde_mse"] = {k: result["kde"][k] for k in ("mse", "mse_low", "mse_high")}
    outcome.metrics = summary
    outcome.files["analysis.json"] = partial(write_json, payload=summary)
    return outcome
