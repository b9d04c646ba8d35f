"""The AFM workflow: read, level, physical features and deep embeddings of height maps.

``DEFAULTS`` (the documented config), ``load(cfg)`` (the ``(name, HeightMap)`` of every image
``data.inputs`` names) and ``run(inputs, cfg)`` -> :class:`~tmdlearn.outcome.Outcome` of the
stage ``run.stage``: ``level`` (levelled maps, previews, ``rms``), ``features`` (``features``)
or ``embed`` (``embedding``, ``features``, ``correlations`` and their figures).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.afm.level import LEVEL_METHODS, ZEROS
from tmdlearn.afm.structure import DOMAIN_METHODS, FILM_THRESHOLDS
from tmdlearn.config import Checked, check_among, check_least, check_one_among, is_number
from tmdlearn.data import HeightMap
from tmdlearn.engine import Engine, workflow_engine
from tmdlearn.engine.choice import RUN_HELP, run_section
from tmdlearn.errors import InputError
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing, track


def _check_embed(embed: dict) -> None:
    """``embed``: counts in range, known reductions."""
    check_least(embed, "embed.", batch_size=1, size=8, clip_nm=1e-9, n_neighbors=2, n_boot=1)
    check_among(embed, "embed.", methods=("umap", "pca"))


def _check_threshold(section: dict, where: str, names: tuple[str, ...]) -> None:
    """``threshold`` of ``section``: a number or one of ``names``."""
    if not is_number(section.get("threshold")):
        check_one_among(section, where, threshold=names)


def _check_level(level: dict) -> None:
    """``level``: known method, zero and threshold ("otsu" or a number)."""
    check_one_among(level, "level.", method=LEVEL_METHODS, zero=ZEROS)
    _check_threshold(level, "level.", ("otsu",))


def _check_features(features: dict) -> None:
    """``features``: known domain method and threshold (step, otsu or a height)."""
    check_one_among(features, "features.", domain_method=DOMAIN_METHODS)
    _check_threshold(features, "features.", FILM_THRESHOLDS)


#: The documented config of ``tmdlearn afm level|features|embed`` (docs/afm.md).
DEFAULTS = {
    # AFM files, folders (every AFM file inside, recursively), manifests (folder or CSV) or
    # image-stack stores (.zarr, tmdlearn convert: the workers read the images)
    # pixel_size_nm: for files that store none (.npy, plain .tif), overriding the files'
    "data": Checked({"inputs": [], "pixel_size_nm": None},
                    check=lambda data: check_least(data, "data.", pixel_size_nm=1e-6)),
    "level": Checked({"method": "two-pass", "order": 2, "threshold": "otsu", "scars": True,
                      "zero": "substrate"}, check=_check_level),
    "features": Checked({"sigma_px": 1.0, "threshold": "step", "opening_px": 1,
                         "min_domain_px": 4, "domain_method": "split", "boundary_depth_nm": 0.1,
                         "edge_sigma_px": 2.0, "smooth_sigma_px": 2.0, "blob_threshold_nm": 0.1,
                         "monolayer_nm": 0.65}, check=_check_features),
    "embed": Checked({"backbone": "efficientnet-lite0", "weights": "default", "batch_size": 32,
                      # cache: a folder for the backbone features (true: OUT/cache on the
                      # command line)
                      "device": "auto", "clip_nm": 1.5, "size": 224, "cache": True,
                      "methods": ["umap", "pca"], "n_neighbors": None, "seed": 0,
                      "n_boot": 1000}, check=_check_embed),
    # where the images are levelled, featurised and embedded (docs/scale.md); the stage run
    "run": run_section(stage="embed"),
}
#: Meaning of config keys, shared by the command-line help and the docs' config table.
HELP = dict(RUN_HELP)
STAGES = ("level", "features", "embed")
#: ``run.scheduler: auto`` starts a local cluster of processes from this many images on.
LARGE_IMAGES = 256


#: A levelled image whose Sq exceeds this many monolayer steps is not a few-layer film on a
#: flat substrate: its film features (coverage, domains, bilayer fraction) are warned about.
ROUGH_MONOLAYERS = 5


def rough_images(table, monolayer_nm: float) -> list[str]:
    """Sentences for the images of a features ``table`` (columns image, sq_nm) whose Sq is more
    than ``ROUGH_MONOLAYERS`` monolayer steps (``monolayer_nm``, nm).

    Parameters
    ----------
    table : DataFrame
        The features table.
    monolayer_nm : float
        The monolayer step, nm.

    Returns
    -------
    list of str
    """
    limit = ROUGH_MONOLAYERS * monolayer_nm
    return [f"{row.image}: Sq {row.sq_nm:.3g} nm, more than {ROUGH_MONOLAYERS} monolayer steps "
            f"({limit:.3g} nm): not a few-layer film on a flat substrate? coverage, domains and "
            "bilayer fraction assume one" for row in table.itertuples() if row.sq_nm > limit]


def load(config: dict, skipped: list[InputError] | None = None
         ) -> list[tuple[str, HeightMap]]:
    """(name, height map) of every AFM image ``data.inputs`` names (:func:`collect`).

    Parameters
    ----------
    config : dict
        The AFM config; its ``data.inputs`` lists image files, folders and manifests.
    skipped : list, optional
        Collects the errors of a folder's unreadable files, which are then left out
        (:func:`collect`).

    Returns
    -------
    list of (str, HeightMap)
        Each image's name and its heights (nm).
    """
    return collect([Path(p) for p in config["data"]["inputs"]], skipped,
                   config["data"]["pixel_size_nm"])


def run(inputs: list[tuple[str, HeightMap]], config: dict,
        progress: bool | None = None) -> Outcome:
    """The stage ``run.stage`` (level, features or embed) on the images of :func:`load`, each
    image a task of the engine of ``run.scheduler`` and ``run.workers`` (docs/scale.md).

    Parameters
    ----------
    inputs : list of (str, HeightMap)
        Named height maps (nm), as :func:`load` returns them.
    config : dict
        The AFM config (:data:`DEFAULTS` layout); ``run.stage`` picks the stage.
    progress : bool, optional
        Progress bars over the images: on (True), off (False) or on a terminal only (None).

    Returns
    -------
    Outcome
        "level": levelled maps (files), previews and the table ``rms`` (Sq, nm); "features":
        the table ``features``; "embed": the tables ``embedding``, ``features`` and
        ``correlations`` with their figures. ``metrics["images"]`` counts the images.
    """
    stage = config["run"]["stage"]
    if stage not in STAGES:
        raise InputError(f"run.stage must be one of {', '.join(STAGES)}, got {stage!r}")
    with showing(progress), workflow_engine(config["run"], len(inputs), LARGE_IMAGES) as engine:
        if stage == "level":
            outcome = _level_stage(inputs, config, engine)
        elif stage == "features":
            table = _level_and_features(inputs, config, engine)
            outcome = Outcome(tables={"features": table}, info={"images": len(inputs)},
                              folders=("", ""))
        else:
            outcome = _embed_stage(inputs, config, engine)
    outcome.metrics["images"] = len(inputs)
    return outcome


def _level_stage(items, cfg: dict, engine: Engine) -> Outcome:
    """Levelled .npz files, a preview PNG per image and rms (raw vs levelled Sq, nm; whether
    the two-pass film model levelled it, ``film_model``)."""
    from tmdlearn.afm.figures import preview_figure
    from tmdlearn.afm.twopass import is_rough
    from tmdlearn.io import write_height_map

    outcome = Outcome(info={"images": len(items)}, folders=("", ""))
    rows = []
    for (name, raw), flat in zip(items, _level_all(items, cfg, engine), strict=True):
        stem = Path(name).with_suffix("").as_posix().replace("/", "__")
        outcome.files[f"levelled/{stem}.npz"] = partial(write_height_map, hm=flat)
        outcome.figures[f"previews/{stem}"] = partial(preview_figure, raw, flat)
        rows.append({"image": name, "pixels": "x".join(map(str, raw.shape)),
                     "pixel_size_nm": raw.pixel_size_nm,
                     "raw_sq_nm": float(np.nanstd(raw.height_nm)),
                     "levelled_sq_nm": float(np.nanstd(flat.height_nm)),
                     "film_model": cfg["level"]["method"] == "two-pass"
                     and not is_rough(raw.height_nm)})
    outcome.tables["rms"] = pd.DataFrame(rows)
    return outcome


def _embed_stage(items, cfg: dict, engine: Engine) -> Outcome:
    """Embed with a pretrained CNN, reduce with UMAP and PCA, correlate the axes with the
    physical features."""
    from tmdlearn.afm.embed import axis_correlations, embed, reduce
    from tmdlearn.afm.figures import correlation_heatmap, thumbnail_map

    e = cfg["embed"]
    if len(items) < 4:
        raise InputError(f"embedding analysis needs at least 4 images, got {len(items)}")
    names = [n for n, _ in items]
    levelled = _level_all(items, cfg, engine)
    features = _features(levelled, names, cfg, engine)
    cache = e["cache"] if isinstance(e["cache"], str | Path) else None
    vectors = embed(levelled, e["backbone"], e["batch_size"], e["device"], cache,
                    e["weights"], e["size"], e["clip_nm"], engine)
    methods = [e["methods"]] if isinstance(e["methods"], str) else list(e["methods"])
    coords = {m: reduce(vectors, m, 2, e["n_neighbors"], e["seed"]) for m in methods}
    embedding = pd.DataFrame({"image": names})
    outcome = Outcome(info={"images": len(items), "feature_dim": int(vectors.shape[1])},
                      folders=("", ""))
    tables = []
    for method, xy in coords.items():
        axes = [f"{method}_1", f"{method}_2"]
        embedding[axes[0]], embedding[axes[1]] = xy[:, 0], xy[:, 1]
        corr = axis_correlations(xy, features.drop(columns="image"), axes, e["n_boot"],
                                 seed=e["seed"])
        tables.append(corr)
        label = "UMAP" if method == "umap" else "PC"
        outcome.figures[f"thumbnails_{method}"] = thumbnail_map(
            xy, [m.height_nm for m in levelled], e["clip_nm"],
            axis_names=(f"{label} 1", f"{label} 2"))
        outcome.figures[f"correlations_{method}"] = correlation_heatmap(corr)
    outcome.tables.update(embedding=embedding, features=features,
                          correlations=pd.concat(tables, ignore_index=True))
    return outcome


def collect(inputs: list[Path], skipped: list[InputError] | None = None,
            pixel_size_nm: float | None = None) -> list[tuple[str, HeightMap]]:
    """(name, height map) for every AFM image the inputs name, in order.

    Parameters
    ----------
    inputs : list of Path
        AFM files, folders (every AFM file inside, recursively; names relative to the folder),
        manifests (a folder with ``manifest.csv``, or the CSV; names from its ``file``
        column) or image-stack stores (``tmdlearn convert``; names from the store).
    skipped : list, optional
        With a list, a file of a folder that cannot be read is left out and its InputError
        appended (a corrupt file does not stop a folder); without, it is raised. A file named
        itself is always raised.
    pixel_size_nm : float, optional
        Pixel size (nm/px) for files that store none, overriding the files' (not a
        manifest's or a stack store's images).

    Returns
    -------
    list of (str, HeightMap)
        The images of a stack store are :class:`~tmdlearn.engine.imagestack.StackImage`: read
        where they are used (by the worker), sent to it as (store, index).
    """
    from tmdlearn.engine.imagestack import afm_files, open_image_stack
    from tmdlearn.engine.stores import is_zarr_store
    from tmdlearn.io import open_dataset, read

    items: list[tuple[str, HeightMap]] = []
    for path in inputs:
        if path.is_dir() and (path / "manifest.csv").is_file() or path.suffix.lower() == ".csv":
            dataset = open_dataset(path).filter(modality="afm")
            for row, image in track(dataset, "reading", total=len(dataset)):
                items.append((str(row["file"]), image))
            continue
        if is_zarr_store(path):
            stack = open_image_stack(path)
            items.extend((name, stack.image(i)) for i, name in enumerate(stack.names))
            continue
        if path.is_dir():
            files = afm_files(path)
            if not files:
                raise InputError("no AFM files in this folder", path)
            names = [str(f.relative_to(path)) for f in files]
        elif path.exists():
            files, names = [path], [path.name]
        else:
            raise InputError("no such file or folder", path)
        for name, file in track(list(zip(names, files, strict=True)), "reading"):
            try:
                image = read(file, modality="afm", pixel_size_nm=pixel_size_nm)
                if not isinstance(image, HeightMap):
                    raise InputError("not an AFM height map", file)
            except InputError as err:
                if skipped is None or not path.is_dir():
                    raise
                skipped.append(err)
                continue
            items.append((name, image))
    if not items:
        raise skipped[0] if skipped else InputError("no AFM images in the inputs")
    return items


def _level_all(items, cfg: dict, engine: Engine) -> list[HeightMap]:
    from tmdlearn.afm.batch import map_images
    from tmdlearn.afm.level import level

    return map_images(partial(level, **cfg["level"]), [image for _, image in items],
                      description="levelling", engine=engine)


def level_and_featurise(image: HeightMap, level_options: dict, feature_options: dict) -> dict:
    """One image levelled and featurised in one engine task (only the features come back).

    Parameters
    ----------
    image : HeightMap
        Raw heights (nm).
    level_options : dict
        Keyword arguments of :func:`tmdlearn.afm.level.level` (config ``level``).
    feature_options : dict
        Keyword arguments of :func:`tmdlearn.afm.morphology.morphology_features` (config
        ``features``).

    Returns
    -------
    dict
        The features of the levelled image (lengths in nm and µm).
    """
    from tmdlearn.afm.level import level
    from tmdlearn.afm.morphology import morphology_features

    return morphology_features(level(image, **level_options), **feature_options)


def _level_and_features(items, cfg: dict, engine: Engine) -> pd.DataFrame:
    from tmdlearn.afm.batch import map_images

    rows = map_images(partial(level_and_featurise, level_options=cfg["level"],
                              feature_options=cfg["features"]),
                      [image for _, image in items], description="features", engine=engine)
    return pd.DataFrame(rows, index=pd.Index([n for n, _ in items], name="image")).reset_index()


def _features(levelled, names, cfg, engine: Engine) -> pd.DataFrame:
    from tmdlearn.afm.morphology import features_table

    table = features_table(levelled, names, engine=engine, **cfg["features"])
    return table.reset_index()
