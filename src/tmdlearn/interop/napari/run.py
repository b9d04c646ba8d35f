"""What the napari widgets run, without napari: the checks of the chosen layer, ``stem
predict`` and a map fit on its data, returning layer data
(:mod:`tmdlearn.interop.napari.layers`). A layer of the wrong kind or shape raises an
InputError that names it and what is wrong, before any work (nothing is added)."""

from __future__ import annotations

import numpy as np

from tmdlearn.data.containers import SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.interop.napari.layers import (
    LayerData,
    atom_layers,
    fit_maps_layers,
    mask_layers,
    spectral_map,
)

#: Length units a napari layer may carry (pint names), in Å.
ANGSTROM_PER = {"angstrom": 1.0, "nanometer": 10.0, "picometer": 0.01, "micrometer": 1e4}


def pixel_size_angstrom(scale: float, unit: str, given: float = 0.0) -> float:
    """The pixel size of a layer in Å.

    Parameters
    ----------
    scale : float
        The layer's scale, in ``unit``.
    unit : str
        The layer's unit (a pint length name).
    given : float
        Pixel size set by the user (Å); used when positive.

    Returns
    -------
    float
        Pixel size, in Å.

    Raises
    ------
    InputError
        When neither ``given`` nor the layer's unit says it.
    """
    if given > 0:
        return float(given)
    if unit in ANGSTROM_PER:
        return float(scale) * ANGSTROM_PER[unit]
    raise InputError(f"the layer's axes are in {unit!r}, not a length: set the pixel size "
                     "(Å) in the widget, or open the image with tmdlearn's reader")


def stem_image(kind: str, data, name: str, scale: float, unit: str,
               given: float = 0.0) -> StemImage:
    """The :class:`StemImage` of a napari layer for ``stem predict``.

    Parameters
    ----------
    kind : str
        The layer's class name (must be ``Image``).
    data : (ny, nx) array
        One 2-D grey image.
    name : str
        Layer name, for the error.
    scale : float
        The layer's scale, in ``unit``.
    unit : str
        The layer's unit (a pint length name).
    given : float
        Pixel size set by the user (Å), as :func:`pixel_size_angstrom`.

    Returns
    -------
    StemImage

    Raises
    ------
    InputError
        Naming the layer when it is not one 2-D image.
    """
    _image_layer(kind, name, "Find atoms (stem predict)")
    shape = np.shape(data)
    if len(shape) != 2:
        raise InputError(f"Find atoms needs one 2-D grey HAADF image; layer {name!r} has shape "
                         f"{shape} (a stack or colour image): make a layer of one frame")
    return StemImage(np.asarray(data), pixel_size_angstrom(scale, unit, given))


def map_of_layer(kind: str, data, metadata: dict, name: str) -> SpectralMap:
    """The :class:`SpectralMap` of a napari layer for a map fit.

    Parameters
    ----------
    kind : str
        The layer's class name (must be ``Image``).
    data : (L, ny, nx) array
        A spectral map opened with tmdlearn's reader (:func:`spectral_map`).
    metadata : dict
        The layer's metadata.
    name : str
        Layer name, for the error.

    Returns
    -------
    SpectralMap

    Raises
    ------
    InputError
        Naming the layer otherwise.
    """
    _image_layer(kind, name, "Fit a spectral map")
    info = metadata.get("tmdlearn", {})
    shape = np.shape(data)
    if info.get("container") != "SpectralMap" or len(shape) != 3 or shape[0] != len(
            info.get("axis", ())):
        held = f"a {info['container']}" if info.get("container") else "an image"
        raise InputError(f"Fit a spectral map needs a spectral map opened with tmdlearn's "
                         f"reader; layer {name!r} is {held} of shape {shape}: open the map "
                         "file (LabSpec, WDF, SPC, NeXus, ...) with tmdlearn")
    return spectral_map(data, metadata)


def _image_layer(kind: str, name: str, widget: str) -> None:
    if kind != "Image":
        raise InputError(f"{widget} runs on an image layer; layer {name!r} is a {kind} layer")


def predict_layers(image: StemImage, name: str, material: str = "graphene",
                   lattice: bool = True, views: int = 1, lattice_prior: float = 0.0,
                   device: str = "auto", monolayer: bool = False) -> list[LayerData]:
    """``stem predict`` with the shipped ``material`` model on ``image``.

    Parameters
    ----------
    image : StemImage
        HAADF image (counts), pixel size in Å.
    name : str
        Prefix of the layer names.
    material : str
        "graphene" or a TMD film of :data:`tmdlearn.stem.films.FILMS` (the WS2 model; a Mo
        film's species read from the column brightness).
    lattice : bool
        Move atoms to the layer whose lattice they fit.
    views : int
        Mirror images averaged (1, 2 or 4).
    lattice_prior : float
        Pull the positions that fraction (0-1) of the way to their layer's fitted lattice.
    device : str
        Torch device, "auto" picks CUDA when available.
    monolayer : bool
        The specimen is one layer (``stem predict --monolayer``).

    Returns
    -------
    list of layer data
        The masks (labels) and atoms (points) of every crystal layer, the self-check verdict in
        their metadata.
    """
    from tmdlearn.stem.films import film_of, film_species, model_material
    from tmdlearn.stem.inference import identify_atoms
    from tmdlearn.stem.modelstore import load_model
    from tmdlearn.stem.quality import assess

    net, meta = load_model(None, model_material(material), device)
    atoms, masks = identify_atoms(image, net, meta, "logit0", lattice, views, lattice_prior,
                                  1024, monolayer=monolayer)
    atoms, _, doubts = film_species(image.intensity, atoms, image.pixel_size_angstrom,
                                    film_of(material))
    quality = assess(image.intensity, atoms, image.pixel_size_angstrom,
                     str(meta.get("material", "graphene")),
                     1 if monolayer else int(meta["layers"]), doubts).to_dict()
    pixel = image.pixel_size_angstrom
    return (mask_layers(masks, list(meta["species"]), pixel, quality, name)
            + atom_layers(atoms, pixel, quality, name))


def fit_layers(smap: SpectralMap, name: str, model: str = "mos2-raman") -> list[LayerData]:
    """Fit ``model`` to every pixel of ``smap``.

    Parameters
    ----------
    smap : SpectralMap
        The map.
    name : str
        Prefix of the layer names.
    model : str
        A preset name or a YAML path.

    Returns
    -------
    list of layer data
        One image per parameter and the verdicts as labels (:func:`fit_maps_layers`).
    """
    from tmdlearn.spectra import fit_map
    from tmdlearn.spectra.fitmaps import fit_maps

    fit, mask = fit_map(smap, model, progress=False)
    return fit_maps_layers(fit_maps(fit, mask, smap), name)
