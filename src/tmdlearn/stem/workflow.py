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

from tmdlearn.config import is_number
from tmdlearn.engine.choice import RUN_HELP, run_section
from tmdlearn.errors import InputError, MissingPixelSize
from tmdlearn.io.atomic import atomic_path, write_json
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing
from tmdlearn.stem.films import check_material, film_of, film_species, model_material

DEFAULTS = {
    # image: a HAADF file; pixel_size_angstrom: overrides the file's (Å); frames: HELP below
    "data": {"image": None, "pixel_size_angstrom": None, "frames": "first"},
    # path: a model folder (null: the shipped one for material, graphene if null); material:
    # with a path, the material the model must be for; device: auto, cpu or cuda;
    # trust_mismatch: load a model whose files differ from the sha256 in its card (a warning)
    "model": {"path": None, "material": None, "device": "auto", "trust_mismatch": False},
    # threshold: logit0, otsu or a probability; lattice: move atoms to the layer whose
    # honeycomb they sit on; views: 1, 2 or 4 mirror views; tile: model px per tile (0:
    # none); lattice_prior, refine, monolayer: HELP below
    "find": {"threshold": "logit0", "lattice": True, "views": 1, "lattice_prior": 0.0,
             "tile": 1024, "refine": False, "monolayer": False},
    # where the images of a folder are predicted, one task each (docs/scale.md)
    "run": run_section(),
}
#: ``run.scheduler: auto`` starts a local cluster of processes from this many images on.
LARGE_FOLDER = 16
#: What ``metrics.json`` says of a series of frames (the atoms of an averaged one lie on its
#: grid cropped by ``frames_cropped_px`` on every side of the first frame's).
FRAME_KEYS = ("frames", "frames_averaged", "frames_cropped_px")
#: Materials with a shipped model (``model.material``).
MATERIALS = ("graphene", "ws2")

#: Meaning of config keys, shared by the command-line help and the docs' config table
#: (:func:`tmdlearn.config.fill_config_tables`).
HELP = {
    "data.frames": "of a series of frames in one file (DM, Velox, TIA, Nion, multi-page "
                   "TIFF): first, or mean "
                   "(every frame registered to the first and averaged: more signal at low "
                   "dose) (`--frames`; docs/stem.md, Frame series)",
    "find.lattice_prior": "pull each atom this fraction (0-1) of the way to its layer's fitted "
                          "honeycomb site and repaint the masks there; rigid lattices only: it "
                          "flattens real strain alike (`--lattice-prior`; docs/stem.md, "
                          "Rigid-lattice prior)",
    "find.refine": "refine each atom's position by a joint 2-D Gaussian fit to the image "
                   "(moves of at most 0.3 Å; before the lattice prior) (`--refine/--no-refine`; "
                   "docs/stem.md, Position refinement)",
    "find.monolayer": "the specimen is one layer (e.g. a TMD monolayer): every column found "
                      "goes to layer 0, once, and the self-check judges one layer "
                      "(`--monolayer/--no-monolayer`)",
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
    material = model_material(m["material"])
    path = m["path"] or shipped_model_path(material or "graphene")
    net, meta = load_model(path, material, m["device"], trust_mismatch=m["trust_mismatch"])
    return {"net": net, "meta": meta, "model": model_folder(path)}


def check_options(config: dict) -> None:
    """InputError for a material without a shipped model, or a threshold, pixel size, lattice
    prior, refine flag or tile out of range (the config keys and their command-line options
    named).

    Parameters
    ----------
    config : dict
        The config (:data:`DEFAULTS` layout); a numeric ``find.threshold`` given as text is
        replaced by its float.
    """
    from tmdlearn.io.frames import check_frames
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
    material = config["model"]["material"]
    if isinstance(material, str):  # WS2 or ws2
        config["model"]["material"] = material.lower()
    check_material(material)
    check_lattice_prior(find["lattice_prior"])
    check_frames(config["data"].get("frames", "first"))
    for key in ("refine", "monolayer"):
        if not isinstance(find[key], bool):
            raise InputError(f"find.{key} (--{key}/--no-{key}) must be true or false, got "
                             f"{find[key]!r}")
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
        A file's own pixel size more than 2 % from the config's is kept in
        ``metadata["file_pixel_size_angstrom"]``.

    Raises
    ------
    InputError
        For a file that is not a HAADF image (an AFM map or spectra, say).
    """
    from tmdlearn.data.containers import StemImage
    from tmdlearn.io import read
    from tmdlearn.stem.fourier import lattice_hint

    try:
        image = read(Path(path), modality="stem", frames=config["data"].get("frames", "first"),
                     pixel_size_angstrom=config["data"]["pixel_size_angstrom"])
    except MissingPixelSize as err:  # say what the image's own lattice suggests
        hint = lattice_hint(read(Path(path), modality="stem", pixel_size_angstrom=1.0).intensity)
        raise MissingPixelSize(err.problem + (f"; {hint}" if hint else ""), err.path) from None
    if not isinstance(image, StemImage):
        kind = {"HeightMap": "an AFM height map", "Spectra": "spectra",
                "SpectralMap": "a spectral map"}.get(type(image).__name__, type(image).__name__)
        raise InputError(f"not a STEM image: it holds {kind}", path)
    stored = image.metadata.get("file_pixel_size_angstrom")  # a calibrated file overridden
    if stored and abs(stored / image.pixel_size_angstrom - 1) <= 0.02:
        del image.metadata["file_pixel_size_angstrom"]  # the same: nothing to say
    return image


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
        Metrics: the image's summary row (file, pixel size (Å), atoms per layer, the twist
        between the found layers and between the image's Fourier lattices (degrees, None
        where there are not two), trust, score, main reason); files ``atoms.csv`` (positions
        in px), ``masks.npz`` and ``quality.json``; figures ``overlay`` and ``render``; the
        model folder (``inputs["model"]``, when given) as the loaded model; ``details``:
        atoms, masks and the :class:`~tmdlearn.stem.quality.Quality`.
    """
    from tmdlearn.stem.atoms import other_layer_angstrom
    from tmdlearn.stem.figures import overlay_figure, render_figure
    from tmdlearn.stem.inference import identify_atoms
    from tmdlearn.stem.quality import assess

    stem_image, net, meta, find = inputs["image"], inputs["net"], inputs["meta"], config["find"]
    name = Path(stem_image.source).name if stem_image.source else "image"
    with showing(progress):
        atoms, masks = identify_atoms(stem_image, net, meta, find["threshold"],
                                      find["lattice"], find["views"], find["lattice_prior"],
                                      find["tile"], find["refine"], find["monolayer"])
    atoms, notes, doubts = film_species(stem_image.intensity, atoms,
                                        stem_image.pixel_size_angstrom,
                                        film_of(config["model"]["material"]))
    layers = 1 if find["monolayer"] else int(meta["layers"])
    if layers > 1:
        atoms = atoms.assign(other_layer_angstrom=other_layer_angstrom(
            atoms, stem_image.pixel_size_angstrom).round(3))
    quality = assess(stem_image.intensity, atoms, stem_image.pixel_size_angstrom,
                     str(meta.get("material", "graphene")), layers, doubts)
    counts = atoms.groupby("layer").size()
    row = {"file": name, "pixel_size_angstrom": stem_image.pixel_size_angstrom,
           "atoms": len(atoms),
           **{f"atoms_layer{k}": int(counts.get(k, 0)) for k in range(layers)},
           **{key: round(quality.figures[key], 2) if np.isfinite(quality.figures[key]) else None
              for key in ("twist_deg", "fft_twist_deg")},
           "trust": quality.trust, "score": round(quality.score, 4),
           "main_reason": quality.main_reason}
    if notes:
        row["species_note"] = "; ".join(notes)
    if "file_pixel_size_angstrom" in stem_image.metadata:  # the file's own, overridden
        row["file_pixel_size_angstrom"] = stem_image.metadata["file_pixel_size_angstrom"]
    if stem_image.metadata.get("frames", 1) > 1:  # a series: which frames, on which grid
        row.update({key: stem_image.metadata[key] for key in FRAME_KEYS
                    if key in stem_image.metadata})
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


def predict_record(atoms_csv: str | Path) -> dict:
    """What the ``stem predict`` run that wrote ``atoms_csv`` recorded beside it:
    ``pixel_size_angstrom`` (its ``metrics.json``), ``material`` (the model's, or the TMD film
    the run named, its ``run.json``) and ``trust`` (the self-check's verdict and main reason, its
    ``quality.json``), each left out when no such file says it.

    Parameters
    ----------
    atoms_csv : str or Path
        An ``atoms.csv`` of ``stem predict``.

    Returns
    -------
    dict
        The keys found, and ``source`` (the folder they came from).

    Raises
    ------
    InputError
        For a metrics.json, run.json or quality.json beside it that is not JSON.
    """
    import json

    folder = Path(atoms_csv).parent
    found: dict = {}
    for name in ("metrics.json", "run.json", "quality.json"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise InputError(f"not readable as JSON ({err.__class__.__name__})", path) from None
        pixel = record.get("pixel_size_angstrom") if isinstance(record, dict) else None
        if name == "metrics.json" and is_number(pixel) and pixel > 0:
            found["pixel_size_angstrom"] = float(pixel)
        models = record.get("models") if isinstance(record, dict) else None
        if name == "run.json" and isinstance(models, list):
            materials = {m.get("material") for m in models if isinstance(m, dict)}
            if len(materials) == 1 and materials <= set(MATERIALS):
                found["material"] = materials.pop()
            film = ((record.get("config") or {}).get("model") or {}).get("material")
            if film_of(film) is not None and model_material(film) == found.get("material"):
                found["material"] = str(film).lower()  # the film the run named: mos2, ...
        if name == "quality.json" and isinstance(record, dict) and record.get("trust"):
            found["trust"] = (str(record["trust"]), str((record.get("reasons") or [""])[0]))
    if found:
        found["source"] = str(folder)
    return found


def material_of(species) -> str:
    """The model material whose column species (:data:`tmdlearn.synth.specimen.SPECIES`; a Mo
    film's count as ws2's) name most of ``species``; graphene when none does.

    Parameters
    ----------
    species : array-like of str
        The atoms' species names.

    Returns
    -------
    str
        "graphene" or "ws2".
    """
    from tmdlearn.synth.specimen import SPECIES

    names = np.asarray(species, dtype=str)
    known = {"graphene": SPECIES["graphene"], "ws2": SPECIES["ws2"] + SPECIES["mos2"]}
    counts = {m: int(np.isin(names, known[m]).sum()) for m in MATERIALS}
    return max(MATERIALS, key=lambda m: (counts[m], m == "graphene"))


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
    if not atoms_csv.is_file():
        raise InputError("no such file" if not atoms_csv.exists() else "not a file", atoms_csv)
    binary = InputError("binary content, not an atoms table (give the atoms.csv of stem "
                        "predict, or its folder)", atoms_csv)
    with open(atoms_csv, "rb") as handle:
        if b"\0" in handle.read(4096):
            raise binary
    try:
        atoms = pd.read_csv(atoms_csv)
    except UnicodeDecodeError:
        raise binary from None
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


#: Bond means further than this (relative) from the material's bond are warned about.
BOND_WARNING = 0.2
#: The Se fractions from the column species and from Vegard's law disagree beyond this in a
#: layer: said (a 2 % pixel-size error moves Vegard's by 0.5 for MoS2-MoSe2).
SPECIES_VS_VEGARD = 0.5


def analysis_warnings(outcome: Outcome, material: str, trust: tuple[str, str] | None = None,
                      pixel_size_angstrom: float | None = None) -> list[str]:
    """Sentences for what makes an analysis of :func:`analyse` doubtful: a prediction whose
    self-check was not ok (``trust``: verdict and main reason), a layer's bond mean more than
    ``BOND_WARNING`` off the material's bond (a wrong pixel size or material, or no crystal),
    a layer too small to measure, a Vegard Se fraction outside 0-1 (not a WS2(1-x)Se2x
    lattice) or more than ``SPECIES_VS_VEGARD`` from the one the column species give.

    Parameters
    ----------
    outcome : Outcome
        Of :func:`analyse`.
    material : str
        "graphene" or "ws2".
    trust : tuple of str, optional
        The prediction's self-check verdict and main reason (:func:`predict_record`).
    pixel_size_angstrom : float, optional
        The analysis' pixel size (Å/px): a Vegard warning then says which pixel size would give
        the lattice constant the column species say.

    Returns
    -------
    list of str
    """
    from tmdlearn.stem.layer_checks import bond_angstrom

    def rescaled(row) -> str:
        """' (0.134 Å/px would give the 3.163 Å the species say)', or ''."""
        if not pixel_size_angstrom or not np.isfinite(row.species_se_fraction):
            return ""
        said = row.vegard_a_s2_angstrom + row.species_se_fraction * (
            row.vegard_a_se2_angstrom - row.vegard_a_s2_angstrom)
        pixel = pixel_size_angstrom * said / row.lattice_constant_angstrom
        return f" ({pixel:.3g} Å/px would give the {said:.3f} Å the species say)"

    lines = []
    if trust is not None and trust[0] != "ok":
        lines.append(f"the prediction's self-check says {trust[0]}"
                     + (f" ({trust[1]})" if trust[1] else ""))
    bond = bond_angstrom(model_material(material))
    for row in outcome.tables["bonds"].itertuples():
        if row.layer == "all":
            continue
        if not np.isfinite(row.mean_angstrom):
            lines.append(f"layer {row.layer}: too few atoms to measure (a monolayer? "
                         "--monolayer)")
        elif abs(row.mean_angstrom / bond - 1) > BOND_WARNING:
            lines.append(f"layer {row.layer}: bond mean {row.mean_angstrom:.2f} Å, expected "
                         f"{bond:.2f} Å for {material}: check the pixel size and material")
    lattice = outcome.tables["lattice"]
    for row in lattice.itertuples() if "vegard_se_fraction" in lattice else ():
        if np.isfinite(row.vegard_se_fraction) and not -0.1 <= row.vegard_se_fraction <= 1.1:
            lines.append(f"layer {row.layer}: Vegard Se fraction {row.vegard_se_fraction:.2f} "
                         "outside 0-1: the pixel size off" + rescaled(row) + ", or not an "
                         "MS2(1-x)Se2x lattice of the metal's end members (--a-ws2, --a-wse2)")
        elif abs(row.vegard_se_fraction - row.species_se_fraction) > SPECIES_VS_VEGARD:
            lines.append(f"layer {row.layer}: the column species say Se fraction "
                         f"{row.species_se_fraction:.2f}, the lattice constant "
                         f"{row.lattice_constant_angstrom:.3f} Å says "
                         f"{row.vegard_se_fraction:.2f}: the film named wrong (stem predict "
                         "--material), or the pixel size off" + rescaled(row))
    return lines


def analyse(atoms, shape: tuple[int, int], pixel_size_angstrom: float,
            material: str = "graphene", n_boot: int = 1000, seed: int = 0,
            a_ws2: float | None = None, a_wse2: float | None = None,
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
        "graphene", "ws2" or a TMD film of :data:`tmdlearn.stem.films.FILMS`.
    n_boot : int
        Bootstrap resamples of the Se-site KDE comparison (WS2 with two layers and Se sites).
    seed : int
        Seed of that bootstrap.
    a_ws2, a_wse2 : float, optional
        Lattice constants (Å) of the sulphide and selenide for the Vegard Se fraction (TMDs
        only); default those of the atoms' metal (WS2 / WSe2, MoS2 / MoSe2).
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
    check_material(material)
    material = model_material(material)
    if bond_max is not None and not bond_max > 0:
        raise InputError(f"--bond-max must be positive, got {bond_max}")
    result = analyse_atoms(atoms, pixel_size_angstrom, material, shape, n_boot, seed, a_ws2,
                           a_wse2, bond_max, undistort)
    bonds = result["bond_statistics"]
    outcome = Outcome(tables={"lattice": result["lattice"], "bonds": bonds}, folders=("", ""))
    twist = result.get("twist_deg", float("nan"))
    summary = {"scan_distortion": result.get("scan_distortion"),
               "twist_deg": round(twist, 3) if np.isfinite(twist) else None,
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
