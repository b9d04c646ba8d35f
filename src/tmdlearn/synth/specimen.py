"""The specimen of the HAADF-STEM simulator: a twisted bilayer's projected atomic columns.

A bilayer (graphene, or 2H WS2 or MoS2 with Se substituted on chosen chalcogen sublayers) is
built from its ase unit cell, twisted, rotated, shifted, thinned by vacancies, holes and edges
and shaken by thermal jitter; each column carries its HAADF weight ``sum(Z**n)`` over its atoms.
:mod:`tmdlearn.synth.stem` images it. Lengths in Å.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tmdlearn.constants import LATTICE_ANGSTROM, METALS, VEGARD_ANGSTROM, Z
from tmdlearn.synth.microscope import draw

if TYPE_CHECKING:
    from tmdlearn.synth.stem import StemSimConfig

#: Species (output channels) of one layer, per material.
SPECIES = {"graphene": ("C",), "ws2": ("W", "S2", "SSe", "Se2"), "mos2": ("Mo", "S2", "SSe", "Se2")}
#: The ase formula of each TMD material's unit cell.
FORMULA = {"ws2": "WS2", "mos2": "MoS2"}
#: Se substitution scenarios: which chalcogen sublayers (layer, sublayer) receive Se.
SE_SCENARIOS = ("none", "sublayer", "layer", "both", "random")
N_LAYERS = 2
#: HAADF column weights of WS2(1-x)Se2x calibrated against abTEM multislice with one slice per
#: atomic plane and frozen phonons (``benchmarks/stem_column_contrast.py``, reference numbers in
#: ``tests/data/stem-column-contrast/abtem-reference.json``): the chalcogens' Z exponent n
#: (:func:`column_weights`) and W's offset (n_W = n - offset). At 80 kV, 30 mrad an annular
#: detector of 70-200 mrad gives S2 : SSe : Se2 = 0.176 : 0.439 : 0.667 of a W column
#: (n = 1.83, offset 0.23); over 60-80 kV probes and inner angles of 50-90 mrad, n = 1.69-1.95
#: and offset 0.19-0.40 (S2/W 0.15-0.29, Se2/W 0.58-0.99). The ranges' corners span all of
#: those ratios and their midpoint gives the 70-200 mrad ones within 5 %. The earlier
#: calibration (one slice per layer: a layer's two chalcogen atoms in one phase grating,
#: scattering to high angles coherently) made chalcogen columns 24-61 % too bright against W.
WS2_Z_EXPONENT = (1.65, 1.91)
WS2_METAL_Z_OFFSET = (0.08, 0.38)
#: Relative dimming of a WS2 bilayer's exit-side layer (StemSimConfig.exit_layer_dimming): in
#: the same abTEM reference its W columns are 0.924-0.960 of the entrance layer's over detectors
#: of 50-90 to 200 mrad, with the same width and within-layer ratios (the first layer spends
#: and spreads the probe a little); the range spans those with room for other doses of beam
#: spreading, down to none.
WS2_EXIT_LAYER_DIMMING = (0.0, 0.1)



def _unit_cell(material: str) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """In-plane cell vectors (2, 2) Å, column positions (k, 2) Å and the atoms of each column."""
    from ase.build import graphene, mx2

    a = LATTICE_ANGSTROM[material]
    atoms = (graphene(a=a) if material == "graphene"
             else mx2(FORMULA[material], "2H", a=a, thickness=3.14))
    cell = np.asarray(atoms.cell)[:2, :2]
    xy = np.round(atoms.positions[:, :2], 6)
    columns, members = [], []
    for pos, symbol in zip(xy, atoms.get_chemical_symbols(), strict=True):
        for k, other in enumerate(columns):
            if np.allclose(other, pos):
                members[k].append(symbol)
                break
        else:
            columns.append(pos)
            members.append([symbol])
    return cell, np.asarray(columns), members


_CELLS: dict[str, tuple] = {}


def _cell(material: str) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    if material not in _CELLS:
        _CELLS[material] = _unit_cell(material)
    return _CELLS[material]


def _layer_columns(material: str, radius_angstrom: float, rng: np.random.Generator,
                   angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Columns of one rotated, randomly shifted layer within a disk: xy (N, 2) Å, basis index."""
    cell, basis, _ = _cell(material)
    a = np.linalg.norm(cell[0])
    n = int(np.ceil(radius_angstrom / (a * np.sqrt(3) / 2))) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    origins = i.reshape(-1, 1) * cell[0] + j.reshape(-1, 1) * cell[1]
    shift = rng.uniform(0, 1, 2) @ cell
    xy = (origins[:, None, :] + basis[None, :, :] + shift).reshape(-1, 2)
    kind = np.tile(np.arange(len(basis)), len(origins))
    theta = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    xy = xy @ rot.T
    keep = np.hypot(xy[:, 0], xy[:, 1]) <= radius_angstrom
    return xy[keep], kind[keep]


def _se_probabilities(scenario: str, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Probability of Se on each (layer, chalcogen sublayer), shape (2, 2)."""
    p = np.zeros((N_LAYERS, 2))
    if scenario == "random":
        scenario = str(rng.choice(SE_SCENARIOS[:4]))
    if scenario == "sublayer":
        p[rng.integers(N_LAYERS), rng.integers(2)] = fraction
    elif scenario == "layer":
        p[rng.integers(N_LAYERS), :] = fraction
    elif scenario == "both":
        p[:, :] = fraction
    return p


@dataclass
class Columns:
    """Projected columns of the specimen: position (Å from the image centre), layer, species
    index, Se atoms and HAADF weight; ``params`` what was drawn for them."""

    x: np.ndarray
    y: np.ndarray
    layer: np.ndarray
    kind: np.ndarray
    n_se: np.ndarray
    weight: np.ndarray
    params: dict[str, Any]


def build_specimen(cfg: StemSimConfig, rng: np.random.Generator, pix: float, radius: float,
                   twist_deg: float | None) -> Columns:
    """The twisted bilayer's columns within a disk around the image centre.

    Parameters
    ----------
    cfg : StemSimConfig
        The simulator's parameters (ranges drawn here: twist, rotation, Z exponents, thermal
        jitter, Se substitution, vacancies, holes, edges, the exit layer's dimming).
    rng : Generator
        The image's random stream.
    pix : float
        Pixel size, Å (sets the hole and edge positions in the field).
    radius : float
        Radius of the disk, Å.
    twist_deg : float or None
        The twist angle, degrees (None: drawn).

    Returns
    -------
    Columns
        Positions (Å from the centre), layer, species index, Se count and HAADF weight of
        every column, and the values drawn.
    """
    material = cfg.material
    twist = draw(rng, cfg.twist_deg) if twist_deg is None else float(twist_deg)
    rotation = draw(rng, cfg.rotation_deg)
    exponent = draw(rng, cfg.z_exponent)
    metal_exponent = exponent
    if cfg.metal_z_exponent is not None:
        metal_exponent = draw(rng, cfg.metal_z_exponent)
    elif cfg.metal_z_offset is not None:
        metal_exponent = exponent - draw(rng, cfg.metal_z_offset)
    metal = SPECIES[material][0]
    metal_weight = float(column_weights(np.zeros(1, int), exponent, metal_exponent, metal)[0])
    thermal = draw(rng, cfg.thermal_sigma_angstrom)
    se_p = _se_probabilities(cfg.se_scenario, draw(rng, cfg.se_fraction), rng)
    # Vegard: each layer's mean Se fraction sets its lattice constant (graphene: no Se)
    a0 = LATTICE_ANGSTROM[material]
    se_mean = se_p.mean(axis=1) if material != "graphene" else np.zeros(N_LAYERS)
    lattice = a0 + se_mean * (VEGARD_ANGSTROM.get(metal, (a0, a0))[1] - a0)
    layers = cfg.layers
    if layers == 2 and cfg.monolayer_probability > 0 and rng.random() < cfg.monolayer_probability:
        layers = 1
    # the exit-side layer sees a probe the first has spent and spread a little
    dimming = draw(rng, cfg.exit_layer_dimming)
    parts = []
    for layer in range(layers):
        xy, basis = _layer_sites(cfg, rng, pix, radius, rotation + layer * twist,
                                 lattice[layer] / a0, thermal)
        kind, count_se, weight = _column_contents(material, basis, se_p[layer], exponent,
                                                  metal_weight, rng)
        parts.append((xy[:, 0], xy[:, 1], np.full(len(xy), layer), kind, count_se,
                      weight * (1 - dimming) ** layer))
    empty, none = np.zeros(0), np.zeros(0, dtype=int)
    columns = [np.concatenate(c) for c in zip(*(parts or [(empty, empty, none, none, none,
                                                           empty)]), strict=True)]
    params = {"pixel_size_angstrom": pix, "twist_deg": twist, "rotation_deg": rotation,
              "z_exponent": exponent, "thermal_sigma_angstrom": thermal, "material": material,
              "reference_weight": Z["C"] ** exponent if material == "graphene" else metal_weight,
              "layers": layers, "exit_layer_dimming": dimming}
    if material != "graphene":
        params["se_probability"] = se_p.tolist()
        params["lattice_constant_angstrom"] = lattice.tolist()
    return Columns(*columns, params=params)


def _layer_sites(cfg: StemSimConfig, rng: np.random.Generator, pix: float, radius: float,
                 angle_deg: float, stretch: float, thermal: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Columns of one layer, xy (N, 2) Å and basis index: rotated by ``angle_deg``, scaled by
    ``stretch`` (its lattice constant / the material's), shaken by ``thermal`` Å and thinned
    by vacancies, a hole and an edge (drawn)."""
    n = cfg.size_px
    xy, basis = _layer_columns(cfg.material, radius, rng, angle_deg)
    xy = xy * stretch
    xy = xy + rng.normal(0, thermal, xy.shape) if thermal > 0 else xy
    keep = rng.random(len(xy)) >= draw(rng, cfg.vacancy_fraction)
    if rng.random() < cfg.hole_probability:
        centre = rng.uniform(-n / 2, n / 2, 2) * pix
        keep &= np.hypot(*(xy - centre).T) > draw(rng, cfg.hole_radius_angstrom)
    if rng.random() < cfg.edge_probability:
        normal = rng.normal(size=2)
        normal /= np.linalg.norm(normal)
        keep &= xy @ normal < rng.uniform(-0.4, 0.4) * n * pix
    return xy[keep], basis[keep]


def _column_contents(material: str, basis: np.ndarray, se_probability: np.ndarray,
                     exponent: float, metal_weight: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Species index, Se atoms and HAADF weight (Zⁿ summed over the atoms) of each column of
    one layer (``basis``: index into the unit cell's columns); each chalcogen site is Se with
    its sublayer's ``se_probability`` (2,)."""
    if material == "graphene":
        kind = np.zeros(len(basis), dtype=int)
        count_se = np.zeros(len(basis), dtype=int)
        weight = np.full(len(basis), Z["C"] ** exponent)
        return kind, count_se, weight
    _, _, members = _cell(material)
    metal = np.array([members[b][0] in METALS for b in range(len(members))])[basis]
    se = rng.random((len(basis), 2)) < se_probability[None, :]
    count_se = np.where(metal, 0, se.sum(axis=1))
    kind = np.where(metal, 0, 1 + count_se)
    weight = np.where(metal, metal_weight, column_weights(kind, exponent, exponent,
                                                          SPECIES[material][0]))
    return kind, count_se, weight


def column_weights(kind: np.ndarray, exponent: float, metal_exponent: float,
                   metal: str = "W") -> np.ndarray:
    """HAADF weights of WS2(1-x)Se2x or MoS2(1-x)Se2x columns (:data:`SPECIES` index: 0 the
    metal, 1 S2, 2 SSe, 3 Se2).

    A chalcogen column weighs ``Σ Zⁿ`` over its two atoms; a metal column
    ``Z_S^n (Z_M / Z_S)^n_M`` (``metal_exponent`` n_M: ``Z_M^n`` when n_M = n).

    Parameters
    ----------
    kind : array of int
        Column kinds.
    exponent : float
        The chalcogens' Z exponent n.
    metal_exponent : float
        The metal's exponent n_M against S.
    metal : str
        "W" or "Mo".

    Returns
    -------
    array
        The weights, shaped as ``kind``.
    """
    n_se = np.clip(np.asarray(kind) - 1, 0, 2)
    chalcogen = n_se * Z["Se"] ** exponent + (2 - n_se) * Z["S"] ** exponent
    return np.where(np.asarray(kind) == 0,
                    Z["S"] ** exponent * (Z[metal] / Z["S"]) ** metal_exponent, chalcogen)
