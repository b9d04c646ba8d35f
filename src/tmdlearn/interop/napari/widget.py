"""napari widgets (npe2 commands ``tmdlearn.stem_predict``, ``tmdlearn.fit_map``): magicgui
builds them from these signatures; they run on the chosen layer and add the result layers.

This module imports napari; the work itself is in :mod:`tmdlearn.interop.napari.run`. No
``from __future__ import annotations``: magicgui reads the annotations as objects.
"""

from typing import Literal

from napari.layers import Image
from napari.types import LayerDataTuple

from tmdlearn.data.containers import StemImage
from tmdlearn.interop.napari.layers import spectral_map
from tmdlearn.interop.napari.run import fit_layers, pixel_size_angstrom, predict_layers


def stem_predict(image: Image, pixel_size: float = 0.0,
                 material: Literal["graphene", "ws2"] = "graphene", lattice: bool = True,
                 views: Literal[1, 2, 4] = 1, lattice_prior: float = 0.0
                 ) -> list[LayerDataTuple]:
    """Find atoms layer by layer in a HAADF image (as ``tmdlearn stem predict``).

    ``pixel_size`` in Å; 0 takes it from the layer's scale and units (set by tmdlearn's
    reader). Adds the masks and atoms of every crystal layer; the self-check verdict is in
    their metadata.
    """
    unit = str(image.units[-1]) if getattr(image, "units", None) else "pixel"
    pixel = pixel_size_angstrom(image.scale[-1], unit, pixel_size)
    return predict_layers(StemImage(image.data, pixel), image.name, material, lattice, views,
                          lattice_prior)


def fit_map(image: Image, model: str = "mos2-raman") -> list[LayerDataTuple]:
    """Fit a peak model (a preset such as mos2-raman, mos2-pl, wse2-raman, wse2-pl, or a
    YAML path) to every pixel of a spectral map opened with tmdlearn's reader; adds one image
    per parameter and the verdicts as labels."""
    return fit_layers(spectral_map(image.data, image.metadata), image.name, model)
