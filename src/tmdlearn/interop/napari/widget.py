"""napari widgets (npe2 commands ``tmdlearn.stem_predict``, ``tmdlearn.fit_map``): magicgui
builds them from these signatures; they run on the chosen layer and add the result layers.

This module imports napari; the work itself is in :mod:`tmdlearn.interop.napari.run`. A
layer of the wrong kind or any other InputError shows as one napari error notification and
adds nothing. No ``from __future__ import annotations``: magicgui reads the annotations as
objects.
"""

from collections.abc import Callable
from typing import Literal

from napari.layers import Image
from napari.types import LayerDataTuple
from napari.utils.notifications import show_error

from tmdlearn.errors import InputError
from tmdlearn.interop.napari.run import fit_layers, map_of_layer, predict_layers, stem_image


def stem_predict(image: Image, pixel_size: float = 0.0,
                 material: Literal["graphene", "ws2", "wse2", "ws2-wse2", "mos2", "mose2",
                                   "mos2-mose2"] = "graphene", lattice: bool = True,
                 views: Literal[1, 2, 4] = 1, lattice_prior: float = 0.0,
                 monolayer: bool = False) -> list[LayerDataTuple]:
    """Find atoms layer by layer in a HAADF image (as ``tmdlearn stem predict``).

    Adds the masks and atoms of every crystal layer; the self-check verdict is in their metadata.

    Parameters
    ----------
    image : Image
        The HAADF image layer.
    pixel_size : float
        Pixel size in Å; 0 takes it from the layer's scale and units (set by tmdlearn's reader).
    material : str
        graphene, or the TMD film (the shipped WS2 model; Mo films' species by brightness).
    lattice : bool
        Move atoms to the layer whose lattice they fit.
    views : int
        Mirror images averaged.
    lattice_prior : float
        Pull the positions that fraction (0-1) of the way to their layer's fitted lattice.
    monolayer : bool
        The specimen is one layer: every column found in one layer, self-checked as one.

    Returns
    -------
    list of LayerDataTuple or None
        None (nothing added) after an error notification.
    """
    def work():
        unit = str(image.units[-1]) if getattr(image, "units", None) else "pixel"
        picked = stem_image(type(image).__name__, image.data, image.name, image.scale[-1],
                            unit, pixel_size)
        return predict_layers(picked, image.name, material, lattice, views, lattice_prior,
                              monolayer=monolayer)
    return _shown(work)


def fit_map(image: Image, model: str = "mos2-raman") -> list[LayerDataTuple]:
    """Fit a peak model to every pixel of a spectral map opened with tmdlearn's reader.

    Adds one image per parameter and the verdicts as labels.

    Parameters
    ----------
    image : Image
        The spectral map layer.
    model : str
        A preset (mos2-raman, mos2-pl, mose2-raman, mose2-pl, wse2-raman, wse2-pl) or a
        YAML path.

    Returns
    -------
    list of LayerDataTuple or None
        None (nothing added) after an error notification.
    """
    return _shown(lambda: fit_layers(map_of_layer(type(image).__name__, image.data,
                                                  image.metadata, image.name),
                                     image.name, model))


def _shown(work: Callable[[], list]) -> list | None:
    """``work()``, or None (nothing added) after showing its InputError as one notification."""
    try:
        return work()
    except InputError as err:
        show_error(str(err))
        return None
