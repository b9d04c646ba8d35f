"""Simulated HAADF-STEM images of twisted bilayers with per-layer, per-species atom labels.

A bilayer (graphene, or 2H WS2 with Se substituted on chosen chalcogen sublayers) is built from
its ase unit cell, twisted, rotated, shifted, thinned by vacancies, holes and edges and shaken by
thermal jitter (:mod:`tmdlearn.synth.specimen`). The image is the projected potential, each
atomic column weighted by ``sum(Z**n)`` over its atoms (HAADF "Z-contrast", n about 1.6-2),
blurred by the atom size and the probe, plus low-frequency contamination and noise, formed by
the ideal or a realistic microscope (:mod:`tmdlearn.synth.haadf`). Everything is vectorised:
columns are splatted bilinearly onto the pixel grid and blurred with one FFT.

Coordinates: pixel (row i, column j) has its centre at ``x_px = j``, ``y_px = i``; positions in
the truth table are in these pixel units on the image's own grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.config import dataclass_from_mapping
from tmdlearn.constants import A_WSE2_ANGSTROM, LATTICE_ANGSTROM, Z  # noqa: F401 (old path)
from tmdlearn.errors import InputError
from tmdlearn.raster import disk_masks
from tmdlearn.synth.haadf import render_ideal, render_real
from tmdlearn.synth.microscope import MicroscopeConfig
from tmdlearn.synth.specimen import N_LAYERS, SE_SCENARIOS, SPECIES, build_specimen


@dataclass
class StemSimConfig:
    """Parameters of the simulator; a pair ``(lo, hi)`` is drawn uniformly for every image.

    Lengths in Å, angles in degrees. Image intensities before counting are relative to the peak
    of one isolated reference column (C for graphene, W for WS2).

    Attributes
    ----------
    material : str
        "graphene", "ws2" (W, S2, SSe, Se2 columns) or "mos2" (Mo, S2, SSe, Se2 columns).
    size_px : int
        Image side, px (at least 16).
    pixel_size_angstrom : float
        Pixel size, Å.
    magnification_jitter : float
        Largest relative change of the pixel size (uniform).
    twist_deg, rotation_deg : (lo, hi)
        Twist between the layers and rotation of the bilayer, degrees.
    z_exponent : (lo, hi)
        HAADF Z-contrast exponent n (column weight ``sum(Z**n)``).
    metal_z_exponent : (lo, hi), optional
        Exponent n_W of a W column, weighed as ``Z_S^n (Z_W / Z_S)^n_W`` (heavy atoms scatter
        less than the Zⁿ of light ones); None: ``z_exponent``.
    metal_z_offset : (lo, hi), optional
        Instead ties the two: ``n_W = n - offset`` (one detector sets both, so they move
        together). abTEM multislice with one slice per atomic plane gives n = 1.65-1.88 and
        offset 0.18-0.30 for detectors of 50-90 to 200 mrad
        (:data:`tmdlearn.synth.specimen.WS2_Z_EXPONENT`, docs/stem.md). Not with
        ``metal_z_exponent``.
    thermal_sigma_angstrom : (lo, hi)
        Standard deviation of each column's thermal displacement along x and y, Å.
    atom_sigma_angstrom : (lo, hi)
        Gaussian size of an atom (σ), Å.
    convergence_mrad : (lo, hi)
        Probe convergence semi-angle, mrad (ideal microscope).
    energy_kev : float
        Beam energy, keV (ideal microscope).
    dose : (lo, hi)
        Mean electron count per pixel on a reference column's peak (ideal microscope;
        log-uniform).
    background, contamination : (lo, hi)
        Flat background and amplitude of a smooth contamination field, relative to the
        reference peak.
    contamination_scale_angstrom : float
        Correlation length of the contamination, Å.
    column_gamma : float or (lo, hi)
        Power the columns' clean signal is raised to (1 = a reference column's peak), before
        background, contamination and detector: below 1 it compresses the columns' contrast
        (chalcogen against metal, columns against the hollow sites between them) as real Mo
        films show it (a power of 0.55 for the MoSe2 40 kV image, 1.18 for the MoS2 DM3;
        docs/stem.md). 1 leaves the Z contrast as drawn.
    vacancy_fraction : (lo, hi)
        Fraction of the columns removed.
    hole_probability : float
        Chance of a hole in each layer.
    hole_radius_angstrom : (lo, hi)
        Radius of the hole, Å.
    edge_probability : float
        Chance that a straight edge ends each layer.
    se_scenario : str
        Which chalcogen sublayers receive Se (:data:`~tmdlearn.synth.specimen.SE_SCENARIOS`).
    se_fraction : (lo, hi)
        Se fraction of those sublayers.
    label_radius_angstrom : float
        Radius of the label disks, Å.
    layers : int
        Crystal layers drawn (2: a twisted bilayer; 1: a monolayer; 0: no crystal).
    monolayer_probability : float
        Chance that a bilayer image is a monolayer instead (its second layer's labels empty:
        the network learns not to invent a layer).
    exit_layer_dimming : float or (lo, hi)
        Relative dimming of the second (exit-side) layer's columns by the first: abTEM
        multislice of WS2 bilayers gives 0.04-0.08 at 70-200 mrad (docs/stem.md); 0 renders
        both layers alike.
    microscope : dict, optional
        None forms the image with the ideal microscope (Airy probe, Poisson noise); a mapping
        (``{}`` for the defaults) with a real one
        (:class:`tmdlearn.synth.microscope.MicroscopeConfig`), which also records the image at
        ``native_ratio`` × the pixel size and resamples it, and adds amorphous carbon.
    native_ratio : (lo, hi)
        Native pixel size over ``pixel_size_angstrom`` (real microscope; log-uniform).
    amorphous_coverage : (lo, hi)
        Fraction covered by amorphous-carbon patches (real microscope).
    amorphous_thickness_angstrom : (lo, hi)
        Their carbon thickness, Å.
    amorphous_scale_angstrom : (lo, hi)
        Their patch scale, Å (log-uniform).
    """

    material: str = "graphene"
    size_px: int = 256
    pixel_size_angstrom: float = 0.1
    magnification_jitter: float = 0.05
    twist_deg: tuple[float, float] = (0.0, 30.0)
    rotation_deg: tuple[float, float] = (0.0, 360.0)
    z_exponent: tuple[float, float] = (1.6, 2.0)
    metal_z_exponent: tuple[float, float] | None = None
    metal_z_offset: tuple[float, float] | None = None
    thermal_sigma_angstrom: tuple[float, float] = (0.0, 0.06)
    atom_sigma_angstrom: tuple[float, float] = (0.2, 0.4)
    convergence_mrad: tuple[float, float] = (25.0, 35.0)
    energy_kev: float = 80.0
    dose: tuple[float, float] = (30.0, 3000.0)
    background: tuple[float, float] = (0.0, 0.2)
    contamination: tuple[float, float] = (0.0, 0.5)
    contamination_scale_angstrom: float = 6.0
    column_gamma: float | tuple[float, float] = 1.0
    vacancy_fraction: tuple[float, float] = (0.0, 0.02)
    hole_probability: float = 0.3
    hole_radius_angstrom: tuple[float, float] = (2.0, 6.0)
    edge_probability: float = 0.2
    se_scenario: str = "random"
    se_fraction: tuple[float, float] = (0.0, 1.0)
    label_radius_angstrom: float = 0.35
    layers: int = 2
    monolayer_probability: float = 0.0
    exit_layer_dimming: float | tuple[float, float] = 0.0
    microscope: dict[str, Any] | None = None
    native_ratio: tuple[float, float] = (0.7, 1.4)
    amorphous_coverage: tuple[float, float] = (0.0, 0.4)
    amorphous_thickness_angstrom: tuple[float, float] = (1.0, 8.0)
    amorphous_scale_angstrom: tuple[float, float] = (3.0, 50.0)

    def __post_init__(self):
        if self.material not in SPECIES:
            raise InputError(f"material must be one of {sorted(SPECIES)}, got {self.material!r}")
        if self.se_scenario not in SE_SCENARIOS:
            raise InputError(f"se_scenario must be one of {SE_SCENARIOS}, got {self.se_scenario!r}")
        if self.metal_z_exponent is not None and self.metal_z_offset is not None:
            raise InputError("give metal_z_exponent or metal_z_offset, not both")
        if self.layers not in (0, 1, 2):
            raise InputError(f"layers must be 0, 1 or 2, got {self.layers}")
        if not np.all(np.asarray(self.column_gamma, float) > 0):
            raise InputError(f"column_gamma must be positive, got {self.column_gamma!r}")
        if self.size_px < 16 or not self.pixel_size_angstrom > 0:
            raise InputError("size_px must be >= 16 and pixel_size_angstrom positive")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> StemSimConfig:
        """Build from a config mapping; unknown keys, here and in ``microscope``, and ranges
        that are not numbers are an InputError.

        Parameters
        ----------
        values : dict, optional
            Fields by name (lists become pairs).

        Returns
        -------
        StemSimConfig
        """
        cfg = dataclass_from_mapping(cls, values, "data.")
        if cfg.microscope is not None:  # checked now, not when the first image is drawn
            MicroscopeConfig.from_dict(cfg.microscope, "data.microscope.")
        return cfg

    def as_dict(self) -> dict[str, Any]:
        """The fields as a YAML-ready dict (pairs as lists).

        Returns
        -------
        dict
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def species(self) -> tuple[str, ...]:
        """Species names of ``material``, in label order."""
        return SPECIES[self.material]


@dataclass
class StemSample:
    """One simulated image with its labels and ground truth.

    Attributes
    ----------
    image : (ny, nx) float32 array
        Detector counts.
    labels : (layers, species, ny, nx) bool array
        Label disks.
    atoms : DataFrame
        One row per atomic column inside the image: x_px, y_px (px), layer, species (index into
        ``species``), n_se (Se atoms in the column).
    pixel_size_angstrom : float
        Pixel size, Å (the drawn magnification included).
    species : tuple of str
        Species names.
    params : dict
        The values drawn for this image.
    """

    image: np.ndarray
    labels: np.ndarray
    atoms: pd.DataFrame
    pixel_size_angstrom: float
    species: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


def simulate_image(config: StemSimConfig | None = None,
                   seed: int | np.random.Generator | None = 0,
                   twist_deg: float | None = None) -> StemSample:
    """Simulate one twisted-bilayer HAADF-STEM image with labels and truth (see module doc).

    Parameters
    ----------
    config : StemSimConfig, optional
        The simulator's parameters (default: :class:`StemSimConfig`). With
        ``config.microscope`` set (a mapping, ``{}`` for the default ranges) the image is
        formed by a realistic microscope (:mod:`tmdlearn.synth.microscope`), otherwise by the
        ideal one.
    seed : int or Generator, optional
        Random seed or generator (:func:`split_seed` for a data set's images).
    twist_deg : float, optional
        The twist angle, degrees, instead of drawing it from the config.

    Returns
    -------
    StemSample
        The image (detector counts), per-layer, per-species label disks, the atoms' table
        (pixels) and the values drawn.
    """
    cfg = config or StemSimConfig()
    rng = np.random.default_rng(seed)
    n, species = cfg.size_px, cfg.species
    pix = cfg.pixel_size_angstrom * (1 + rng.uniform(-1, 1) * cfg.magnification_jitter)
    if cfg.microscope is None:
        pad = int(np.ceil(2.5 / pix))
        cols = build_specimen(cfg, rng, pix, (n / 2 + pad) * pix * np.sqrt(2) + 1.0, twist_deg)
        image, x, y = render_ideal(cfg, rng, cols, pix, pad)
    else:
        reach = n / 2 * pix * np.sqrt(2) * (1 + 2 * 0.1) + 8.0
        cols = build_specimen(cfg, rng, pix, reach, twist_deg)
        image, x, y = render_real(cfg, rng, cols, pix)
    inside = (x >= -0.5) & (x < n - 0.5) & (y >= -0.5) & (y < n - 0.5)
    channel = cols.layer * len(species) + cols.kind
    radius_px = cfg.label_radius_angstrom / pix
    near = (x > -radius_px - 1) & (x < n + radius_px) & (y > -radius_px - 1) & (y < n + radius_px)
    labels = disk_masks((n, n), x[near], y[near], channel[near], N_LAYERS * len(species),
                        radius_px).reshape(N_LAYERS, len(species), n, n)
    atoms = pd.DataFrame({"x_px": x[inside], "y_px": y[inside], "layer": cols.layer[inside],
                          "species": cols.kind[inside], "n_se": cols.n_se[inside]})
    return StemSample(image, labels, atoms, pix, species, cols.params)


SPLITS = ("train", "val", "test")


def split_seed(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split``: independent streams, same seed same image.

    Parameters
    ----------
    seed : int
        The data set's seed.
    split : str
        "train", "val" or "test".
    index : int
        Image index within the split.

    Returns
    -------
    Generator
    """
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


def simulate_batch(config: StemSimConfig, seed: int, split: str, start: int,
                   count: int) -> tuple[np.ndarray, np.ndarray, list[StemSample]]:
    """Simulate images ``start`` .. ``start + count - 1`` of ``split``.

    Parameters
    ----------
    config : StemSimConfig
        The simulator's parameters.
    seed : int
        The data set's seed (:func:`split_seed`).
    split : str
        "train", "val" or "test".
    start, count : int
        First image index and number of images.

    Returns
    -------
    images : (count, ny, nx) float32 array
        Detector counts.
    labels : (count, layers * species, ny, nx) uint8 array
        Label disks.
    samples : list of StemSample
    """
    samples = [simulate_image(config, split_seed(seed, split, start + k)) for k in range(count)]
    images = np.stack([s.image for s in samples])
    labels = np.stack([s.labels.reshape(-1, *s.image.shape) for s in samples]).astype(np.uint8)
    return images, labels, samples
