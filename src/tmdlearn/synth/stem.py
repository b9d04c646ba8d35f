"""Simulated HAADF-STEM images of twisted bilayers with per-layer, per-species atom labels.

A bilayer (graphene, or 2H WS2 with Se substituted on chosen chalcogen sublayers) is built from
its ase unit cell, twisted, rotated, shifted, thinned by vacancies, holes and edges and shaken by
thermal jitter. The image is the projected potential, each atomic column weighted by
``sum(Z**n)`` over its atoms (HAADF "Z-contrast", n about 1.6-2), blurred by the atom size and
the aberration-free (Airy) probe, plus low-frequency contamination and Poisson noise. Everything
is vectorised: columns are splatted bilinearly onto the pixel grid and blurred with one FFT.

Coordinates: pixel (row i, column j) has its centre at ``x_px = j``, ``y_px = i``; positions in
the truth table are in these pixel units on the image's own grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.errors import InputError

#: Atomic numbers used in the Z-contrast weights.
Z = {"C": 6, "S": 16, "Se": 34, "W": 74}
#: Lattice constants in Å: graphene (2.46 Å, C–C 1.42 Å), WS2 3.153 Å (Vegard end members).
LATTICE_ANGSTROM = {"graphene": 2.46, "ws2": 3.153}
#: WSe2 lattice constant, Å: a WS2(1-x)Se2x layer has a = (1 - x) a_WS2 + x a_WSe2 (Vegard).
A_WSE2_ANGSTROM = 3.282
#: Species (output channels) of one layer, per material.
SPECIES = {"graphene": ("C",), "ws2": ("W", "S2", "SSe", "Se2")}
#: Se substitution scenarios: which chalcogen sublayers (layer, sublayer) receive Se.
SE_SCENARIOS = ("none", "sublayer", "layer", "both", "random")
N_LAYERS = 2


def _electron_wavelength_angstrom(energy_kev: float) -> float:
    """Relativistic electron wavelength in Å at ``energy_kev``."""
    volts = energy_kev * 1e3
    return 12.2643 / np.sqrt(volts * (1 + 0.97845e-6 * volts))


@dataclass
class StemSimConfig:
    """Parameters of the simulator; a pair ``(lo, hi)`` is drawn uniformly for every image.

    Lengths in Å, angles in degrees, probe convergence semi-angle in mrad, energy in keV,
    ``dose`` is the mean electron count per pixel on an atom peak (log-uniform).
    """

    material: str = "graphene"
    size_px: int = 256
    pixel_size_angstrom: float = 0.1
    magnification_jitter: float = 0.05
    twist_deg: tuple[float, float] = (0.0, 30.0)
    rotation_deg: tuple[float, float] = (0.0, 360.0)
    z_exponent: tuple[float, float] = (1.6, 2.0)
    thermal_sigma_angstrom: tuple[float, float] = (0.0, 0.06)
    atom_sigma_angstrom: tuple[float, float] = (0.2, 0.4)
    convergence_mrad: tuple[float, float] = (25.0, 35.0)
    energy_kev: float = 80.0
    dose: tuple[float, float] = (30.0, 3000.0)
    background: tuple[float, float] = (0.0, 0.2)
    contamination: tuple[float, float] = (0.0, 0.5)
    contamination_scale_angstrom: float = 6.0
    vacancy_fraction: tuple[float, float] = (0.0, 0.02)
    hole_probability: float = 0.3
    hole_radius_angstrom: tuple[float, float] = (2.0, 6.0)
    edge_probability: float = 0.2
    se_scenario: str = "random"
    se_fraction: tuple[float, float] = (0.0, 1.0)
    label_radius_angstrom: float = 0.35

    def __post_init__(self):
        if self.material not in SPECIES:
            raise InputError(f"material must be one of {sorted(SPECIES)}, got {self.material!r}")
        if self.se_scenario not in SE_SCENARIOS:
            raise InputError(f"se_scenario must be one of {SE_SCENARIOS}, got {self.se_scenario!r}")
        if self.size_px < 16 or not self.pixel_size_angstrom > 0:
            raise InputError("size_px must be >= 16 and pixel_size_angstrom positive")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> StemSimConfig:
        """Build from a config mapping; unknown keys are an InputError."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown simulation keys {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = tuple(value)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def species(self) -> tuple[str, ...]:
        return SPECIES[self.material]


@dataclass
class StemSample:
    """One simulated image with its labels and ground truth.

    ``image`` (ny, nx) float32 detector counts; ``labels`` (layers, species, ny, nx) bool disks;
    ``atoms`` one row per atomic column inside the image: x_px, y_px, layer, species (index into
    ``species``), n_se (Se atoms in the column); ``params`` the values drawn for this image.
    """

    image: np.ndarray
    labels: np.ndarray
    atoms: pd.DataFrame
    pixel_size_angstrom: float
    species: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


def _draw(rng: np.random.Generator, value, log: bool = False) -> float:
    if np.isscalar(value):
        return float(value)
    lo, hi = float(value[0]), float(value[1])
    if log:
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return float(rng.uniform(lo, hi))


def _unit_cell(material: str) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """In-plane cell vectors (2, 2) Å, column positions (k, 2) Å and the atoms of each column."""
    from ase.build import graphene, mx2

    a = LATTICE_ANGSTROM[material]
    atoms = graphene(a=a) if material == "graphene" else mx2("WS2", "2H", a=a, thickness=3.14)
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


def _airy_otf(q: np.ndarray, cutoff: float) -> np.ndarray:
    """Optical transfer function of an aberration-free circular probe (Airy intensity PSF)."""
    s = np.clip(q / cutoff, 0.0, 1.0)
    return (2 / np.pi) * (np.arccos(s) - s * np.sqrt(1 - s**2))


def _splat(shape: tuple[int, int], x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Bilinear deposit of weights ``w`` at sub-pixel (x, y) (centroid-preserving)."""
    ny, nx = shape
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    out = np.zeros(ny * nx)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
            out += np.bincount(yi[ok] * nx + xi[ok], weights=(w * wx * wy)[ok], minlength=ny * nx)
    return out.reshape(ny, nx)


def disk_masks(shape: tuple[int, int], x_px: np.ndarray, y_px: np.ndarray, channel: np.ndarray,
               n_channels: int, radius_px: float) -> np.ndarray:
    """Boolean (n_channels, ny, nx): disks of ``radius_px`` centred exactly at (x_px, y_px)."""
    ny, nx = shape
    out = np.zeros((n_channels, ny, nx), dtype=bool)
    r = int(np.ceil(radius_px)) + 1
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    xi = np.round(x_px).astype(int)[:, None] + dx.ravel()[None, :]
    yi = np.round(y_px).astype(int)[:, None] + dy.ravel()[None, :]
    inside = (xi - x_px[:, None]) ** 2 + (yi - y_px[:, None]) ** 2 <= radius_px**2
    inside &= (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
    ch = np.broadcast_to(np.asarray(channel)[:, None], xi.shape)
    out[ch[inside], yi[inside], xi[inside]] = True
    return out


def simulate_image(config: StemSimConfig | None = None,
                   seed: int | np.random.Generator | None = 0,
                   twist_deg: float | None = None) -> StemSample:
    """Simulate one twisted-bilayer HAADF-STEM image with labels and truth (see module doc).

    ``twist_deg`` fixes the twist angle (degrees) instead of drawing it from the config.
    """
    cfg = config or StemSimConfig()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    material, species = cfg.material, cfg.species
    n = cfg.size_px
    pix = cfg.pixel_size_angstrom * (1 + rng.uniform(-1, 1) * cfg.magnification_jitter)
    twist = _draw(rng, cfg.twist_deg) if twist_deg is None else float(twist_deg)
    rotation = _draw(rng, cfg.rotation_deg)
    exponent = _draw(rng, cfg.z_exponent)
    thermal = _draw(rng, cfg.thermal_sigma_angstrom)
    pad = int(np.ceil(2.5 / pix))
    half = (n - 1) / 2
    radius = (n / 2 + pad) * pix * np.sqrt(2) + 1.0
    _, _, members = _cell(material)
    se_p = _se_probabilities(cfg.se_scenario, _draw(rng, cfg.se_fraction), rng)

    # Vegard: each layer's mean Se fraction sets its lattice constant (graphene: no Se)
    a0 = LATTICE_ANGSTROM[material]
    se_mean = se_p.mean(axis=1) if material == "ws2" else np.zeros(N_LAYERS)
    lattice = a0 + se_mean * (A_WSE2_ANGSTROM - a0)
    xs, ys, layers, kinds, weights, n_se = [], [], [], [], [], []
    for layer in range(N_LAYERS):
        xy, basis = _layer_columns(material, radius, rng, rotation + layer * twist)
        xy = xy * (lattice[layer] / a0)
        xy = xy + rng.normal(0, thermal, xy.shape) if thermal > 0 else xy
        keep = rng.random(len(xy)) >= _draw(rng, cfg.vacancy_fraction)
        if rng.random() < cfg.hole_probability:
            centre = rng.uniform(-n / 2, n / 2, 2) * pix
            keep &= np.hypot(*(xy - centre).T) > _draw(rng, cfg.hole_radius_angstrom)
        if rng.random() < cfg.edge_probability:
            normal = rng.normal(size=2)
            normal /= np.linalg.norm(normal)
            keep &= xy @ normal < rng.uniform(-0.4, 0.4) * n * pix
        xy, basis = xy[keep], basis[keep]
        if material == "graphene":
            kind = np.zeros(len(xy), dtype=int)
            count_se = np.zeros(len(xy), dtype=int)
            weight = np.full(len(xy), Z["C"] ** exponent)
        else:
            metal = np.array(["W" in members[b] for b in range(len(members))])[basis]
            se = rng.random((len(xy), 2)) < se_p[layer][None, :]
            count_se = np.where(metal, 0, se.sum(axis=1))
            kind = np.where(metal, 0, 1 + count_se)
            weight = np.where(metal, Z["W"] ** exponent,
                              count_se * Z["Se"] ** exponent + (2 - count_se) * Z["S"] ** exponent)
        xs.append(xy[:, 0] / pix + half)
        ys.append(xy[:, 1] / pix + half)
        layers.append(np.full(len(xy), layer))
        kinds.append(kind)
        weights.append(weight)
        n_se.append(count_se)
    x, y = np.concatenate(xs), np.concatenate(ys)
    layer, kind = np.concatenate(layers), np.concatenate(kinds)
    weight, count_se = np.concatenate(weights), np.concatenate(n_se)

    # image formation on a padded grid: splat, blur by atom size and Airy probe, crop
    size = n + 2 * pad
    potential = _splat((size, size), x + pad, y + pad, weight)
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pix), np.fft.rfftfreq(size, pix),
                              indexing="ij"))
    cutoff = 2 * _draw(rng, cfg.convergence_mrad) * 1e-3 / _electron_wavelength_angstrom(
        cfg.energy_kev)
    sigma = _draw(rng, cfg.atom_sigma_angstrom)
    transfer = _airy_otf(q, cutoff) * np.exp(-2 * (np.pi * sigma * q) ** 2)
    clean = np.fft.irfft2(np.fft.rfft2(potential) * transfer, s=(size, size))
    full_sum = 2 * transfer.sum() - transfer[:, 0].sum()  # rfft stores half the plane
    scale = Z["C" if material == "graphene" else "W"] ** exponent * full_sum / size**2
    clean = clean[pad:pad + n, pad:pad + n] / max(scale, 1e-12)
    smooth = np.exp(-2 * (np.pi * cfg.contamination_scale_angstrom * q) ** 2)
    field_ = np.fft.irfft2(np.fft.rfft2(rng.normal(size=(size, size))) * smooth, s=(size, size))
    field_ = field_[pad:pad + n, pad:pad + n]
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-12)
    signal = np.clip(clean, 0, None) + _draw(rng, cfg.background) + \
        _draw(rng, cfg.contamination) * field_
    dose = _draw(rng, cfg.dose, log=True)
    image = rng.poisson(signal * dose).astype(np.float32)

    inside = (x >= -0.5) & (x < n - 0.5) & (y >= -0.5) & (y < n - 0.5)
    channel = layer * len(species) + kind
    radius_px = cfg.label_radius_angstrom / pix
    near = (x > -radius_px - 1) & (x < n + radius_px) & (y > -radius_px - 1) & (y < n + radius_px)
    labels = disk_masks((n, n), x[near], y[near], channel[near], N_LAYERS * len(species),
                        radius_px).reshape(N_LAYERS, len(species), n, n)
    atoms = pd.DataFrame({"x_px": x[inside], "y_px": y[inside], "layer": layer[inside],
                          "species": kind[inside], "n_se": count_se[inside]})
    params = {"pixel_size_angstrom": pix, "twist_deg": twist, "rotation_deg": rotation,
              "z_exponent": exponent, "thermal_sigma_angstrom": thermal, "dose": dose,
              "probe_cutoff_inv_angstrom": cutoff, "atom_sigma_angstrom": sigma,
              "material": material}
    if material != "graphene":
        params["se_probability"] = se_p.tolist()
        params["lattice_constant_angstrom"] = lattice.tolist()
    return StemSample(image, labels, atoms, pix, species, params)


SPLITS = ("train", "val", "test")


def split_seed(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split``: independent streams, same seed same image."""
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


def simulate_batch(config: StemSimConfig, seed: int, split: str, start: int,
                   count: int) -> tuple[np.ndarray, np.ndarray, list[StemSample]]:
    """Images (count, ny, nx) float32 and labels (count, layers*species, ny, nx) uint8."""
    samples = [simulate_image(config, split_seed(seed, split, start + k)) for k in range(count)]
    images = np.stack([s.image for s in samples])
    labels = np.stack([s.labels.reshape(-1, *s.image.shape) for s in samples]).astype(np.uint8)
    return images, labels, samples
