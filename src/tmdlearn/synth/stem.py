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

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from tmdlearn.config import dataclass_from_mapping
from tmdlearn.errors import InputError
from tmdlearn.synth.microscope import (
    MicroscopeConfig,
    detect,
    draw,
    draw_microscope,
    draw_scan,
    electron_wavelength_angstrom,
    probe_intensity,
    probe_offset,
    probe_otf,
    sample_grid,
)

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


@dataclass
class StemSimConfig:
    """Parameters of the simulator; a pair ``(lo, hi)`` is drawn uniformly for every image.

    Lengths in Å, angles in degrees, probe convergence semi-angle in mrad, energy in keV,
    ``dose`` is the mean electron count per pixel on an atom peak (log-uniform).

    ``metal_z_exponent`` (None: ``z_exponent``) weighs a W column against S:
    ``Z_S^n (Z_W / Z_S)^n_W`` (heavy atoms scatter less than the Zⁿ of light ones; abTEM
    multislice gives n ≈ 1.5-1.7 among the chalcogens but n_W ≈ 1.25-1.35, docs/stem.md).
    ``metal_z_offset`` instead ties the two: ``n_W = n - offset`` (one detector sets both, so
    they move together; abTEM: offset 0.30-0.34, Se2/W = 0.89-0.98).

    ``layers`` crystal layers are drawn (2: a twisted bilayer; 1: a monolayer; 0: no crystal);
    with ``monolayer_probability`` a bilayer image is a monolayer instead (its second layer's
    labels empty: the network learns not to invent a layer).
    ``microscope`` None forms the image with the ideal microscope (Airy probe, Poisson noise:
    ``convergence_mrad``, ``energy_kev``, ``dose``); a mapping (``{}`` for the defaults) with a
    real one (:class:`tmdlearn.synth.microscope.MicroscopeConfig`), which also records the
    image at ``native_ratio`` × the pixel size and resamples it (log-uniform) and adds
    amorphous-carbon patches (``amorphous_*``: covered fraction, thickness in Å, patch scale in
    Å, log-uniform).
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
    vacancy_fraction: tuple[float, float] = (0.0, 0.02)
    hole_probability: float = 0.3
    hole_radius_angstrom: tuple[float, float] = (2.0, 6.0)
    edge_probability: float = 0.2
    se_scenario: str = "random"
    se_fraction: tuple[float, float] = (0.0, 1.0)
    label_radius_angstrom: float = 0.35
    layers: int = 2
    monolayer_probability: float = 0.0
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
        if self.size_px < 16 or not self.pixel_size_angstrom > 0:
            raise InputError("size_px must be >= 16 and pixel_size_angstrom positive")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> StemSimConfig:
        """Build from a config mapping; unknown keys are an InputError."""
        return dataclass_from_mapping(cls, values, "simulation")

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


@dataclass
class _Columns:
    """Projected columns of the specimen: position (Å from the image centre), layer, species
    index, Se atoms and HAADF weight; ``params`` what was drawn for them."""

    x: np.ndarray
    y: np.ndarray
    layer: np.ndarray
    kind: np.ndarray
    n_se: np.ndarray
    weight: np.ndarray
    params: dict[str, Any]


def _specimen(cfg: StemSimConfig, rng: np.random.Generator, pix: float, radius: float,
              twist_deg: float | None) -> _Columns:
    """The twisted bilayer's columns within ``radius`` Å of the centre (see module doc)."""
    material, n = cfg.material, cfg.size_px
    twist = draw(rng, cfg.twist_deg) if twist_deg is None else float(twist_deg)
    rotation = draw(rng, cfg.rotation_deg)
    exponent = draw(rng, cfg.z_exponent)
    metal_weight = Z["W"] ** exponent
    if cfg.metal_z_exponent is not None:
        metal_weight = Z["S"] ** exponent * (Z["W"] / Z["S"]) ** draw(rng, cfg.metal_z_exponent)
    elif cfg.metal_z_offset is not None:
        offset = draw(rng, cfg.metal_z_offset)
        metal_weight = Z["S"] ** exponent * (Z["W"] / Z["S"]) ** (exponent - offset)
    thermal = draw(rng, cfg.thermal_sigma_angstrom)
    _, _, members = _cell(material)
    se_p = _se_probabilities(cfg.se_scenario, draw(rng, cfg.se_fraction), rng)
    # Vegard: each layer's mean Se fraction sets its lattice constant (graphene: no Se)
    a0 = LATTICE_ANGSTROM[material]
    se_mean = se_p.mean(axis=1) if material == "ws2" else np.zeros(N_LAYERS)
    lattice = a0 + se_mean * (A_WSE2_ANGSTROM - a0)
    layers = cfg.layers
    if layers == 2 and cfg.monolayer_probability > 0 and rng.random() < cfg.monolayer_probability:
        layers = 1
    parts = []
    for layer in range(layers):
        xy, basis = _layer_columns(material, radius, rng, rotation + layer * twist)
        xy = xy * (lattice[layer] / a0)
        xy = xy + rng.normal(0, thermal, xy.shape) if thermal > 0 else xy
        keep = rng.random(len(xy)) >= draw(rng, cfg.vacancy_fraction)
        if rng.random() < cfg.hole_probability:
            centre = rng.uniform(-n / 2, n / 2, 2) * pix
            keep &= np.hypot(*(xy - centre).T) > draw(rng, cfg.hole_radius_angstrom)
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
            weight = np.where(metal, metal_weight,
                              count_se * Z["Se"] ** exponent + (2 - count_se) * Z["S"] ** exponent)
        parts.append((xy[:, 0], xy[:, 1], np.full(len(xy), layer), kind, count_se, weight))
    empty, none = np.zeros(0), np.zeros(0, dtype=int)
    columns = [np.concatenate(c) for c in zip(*(parts or [(empty, empty, none, none, none,
                                                           empty)]), strict=True)]
    params = {"pixel_size_angstrom": pix, "twist_deg": twist, "rotation_deg": rotation,
              "z_exponent": exponent, "thermal_sigma_angstrom": thermal, "material": material,
              "reference_weight": Z["C"] ** exponent if material == "graphene" else metal_weight,
              "layers": layers}
    if material != "graphene":
        params["se_probability"] = se_p.tolist()
        params["lattice_constant_angstrom"] = lattice.tolist()
    return _Columns(*columns, params=params)


def _reference_peak(transfer: np.ndarray, size: int, weight: float) -> float:
    """Peak value of one isolated reference column (C or W) of HAADF ``weight`` through
    ``transfer`` (rfft2)."""
    full_sum = 2 * transfer.sum().real - transfer[:, 0].sum().real  # rfft stores half the plane
    return max(weight * full_sum / size**2, 1e-12)


def _smooth_field(rng: np.random.Generator, size: int, q: np.ndarray, scale_angstrom: float
                  ) -> np.ndarray:
    """A Gaussian random field on a size × size grid (spatial frequencies ``q``, 1/Å), smooth
    over ``scale_angstrom``."""
    smooth = np.exp(-2 * (np.pi * scale_angstrom * q) ** 2)
    return np.fft.irfft2(np.fft.rfft2(rng.normal(size=(size, size))) * smooth, s=(size, size))


def _with_background(clean: np.ndarray, field_: np.ndarray, cfg: StemSimConfig,
                     rng: np.random.Generator) -> np.ndarray:
    """The clean image (negative ringing clipped) plus a drawn flat ``background`` and the
    random ``field_`` scaled to 0..1 times a drawn ``contamination``."""
    field_ = (field_ - field_.min()) / max(np.ptp(field_), 1e-12)
    return np.clip(clean, 0, None) + draw(rng, cfg.background) + \
        draw(rng, cfg.contamination) * field_


def _render_ideal(cfg: StemSimConfig, rng: np.random.Generator, cols: _Columns, pix: float,
                  pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (counts) through the aberration-free Airy probe, and the columns' pixel
    coordinates: the original, idealised microscope (``microscope: None``)."""
    n = cfg.size_px
    half = (n - 1) / 2
    x, y = cols.x / pix + half, cols.y / pix + half
    size = n + 2 * pad
    potential = _splat((size, size), x + pad, y + pad, cols.weight)
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pix), np.fft.rfftfreq(size, pix),
                              indexing="ij"))
    convergence = draw(rng, cfg.convergence_mrad)
    cutoff = 2 * convergence * 1e-3 / electron_wavelength_angstrom(cfg.energy_kev)
    sigma = draw(rng, cfg.atom_sigma_angstrom)
    transfer = _airy_otf(q, cutoff) * np.exp(-2 * (np.pi * sigma * q) ** 2)
    clean = np.fft.irfft2(np.fft.rfft2(potential) * transfer, s=(size, size))
    peak = _reference_peak(transfer, size, cols.params["reference_weight"])
    clean = clean[pad:pad + n, pad:pad + n] / peak
    field_ = _smooth_field(rng, size, q, cfg.contamination_scale_angstrom)[pad:pad + n,
                                                                           pad:pad + n]
    signal = _with_background(clean, field_, cfg, rng)
    dose = draw(rng, cfg.dose, log=True)
    cols.params.update(dose=dose, probe_cutoff_inv_angstrom=cutoff, atom_sigma_angstrom=sigma)
    return rng.poisson(signal * dose).astype(np.float32), x, y


def _amorphous(cfg: StemSimConfig, rng: np.random.Generator, radius: float, exponent: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Amorphous-carbon contamination atoms (x, y Å; weights) within ``radius`` Å: patches of
    a random field smooth over 3-50 Å covering a drawn fraction, a drawn thickness of carbon
    at 0.1 atoms/Å³ (2 g/cm³) in them, random positions (granular at the atom scale); and
    the values drawn."""
    coverage = draw(rng, cfg.amorphous_coverage)
    if coverage <= 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), {"amorphous_coverage": 0.0}
    thickness = draw(rng, cfg.amorphous_thickness_angstrom)
    scale = draw(rng, cfg.amorphous_scale_angstrom, log=True)
    step = scale / 4
    m = int(np.ceil(2 * radius / step)) + 1
    field_ = ndimage.gaussian_filter(rng.normal(size=(m, m)), 4, mode="wrap")
    field_ = (field_ - field_.mean()) / max(field_.std(), 1e-12)
    cut = np.quantile(field_, 1 - coverage)
    area = (2 * radius) ** 2
    count = rng.poisson(0.1 * thickness * area)
    xy = rng.uniform(-radius, radius, (count, 2))
    at = ndimage.map_coordinates(field_, ((xy[:, 1] + radius) / step, (xy[:, 0] + radius) / step),
                                 order=1, mode="nearest")
    keep = rng.random(count) < np.clip((at - cut) / 0.5 + 0.5, 0, 1)
    drawn = {"amorphous_coverage": coverage, "amorphous_thickness_angstrom": thickness,
             "amorphous_scale_angstrom": scale}
    xy = xy[keep]
    return xy[:, 0], xy[:, 1], np.full(len(xy), Z["C"] ** exponent), drawn


def _render_real(cfg: StemSimConfig, rng: np.random.Generator, cols: _Columns, pix: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (counts) as a real microscope records it (:mod:`tmdlearn.synth.microscope`), and
    the columns' pixel coordinates on the model grid of ``pix`` Å.

    The image is recorded at a native pixel size (``native_ratio`` × ``pix``), through the
    aberrated probe and scan distortion, counted by the detector, and resampled to the
    ``size_px`` grid as :func:`tmdlearn.stem.inference.identify_atoms` resamples."""
    from skimage.transform import resize

    micro = draw_microscope(MicroscopeConfig.from_dict(cfg.microscope), rng)
    n = cfg.size_px
    ratio = draw(rng, cfg.native_ratio, log=True)
    n_native = max(16, int(round(n / ratio)))
    p_native = pix * n / n_native
    scan = draw_scan(n_native, p_native, micro, rng)
    sx, sy = scan.positions()
    reach = float(max(np.abs(sx).max(), np.abs(sy).max())) + 6.0
    exponent = cols.params["z_exponent"]
    ax, ay, aw, amorphous = _amorphous(cfg, rng, reach, exponent)
    size = 2 * int(np.ceil(reach / p_native)) + 1
    c = (size - 1) / 2
    potential = _splat((size, size), np.concatenate([cols.x, ax]) / p_native + c,
                       np.concatenate([cols.y, ay]) / p_native + c,
                       np.concatenate([cols.weight, aw]))
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, p_native), np.fft.rfftfreq(size, p_native),
                              indexing="ij"))
    sigma = draw(rng, cfg.atom_sigma_angstrom)
    probe = probe_intensity(size, p_native, micro)
    transfer = probe_otf(probe, p_native, micro) * np.exp(-2 * (np.pi * sigma * q) ** 2)
    clean = np.fft.irfft2(np.fft.rfft2(potential) * transfer, s=(size, size))
    clean /= _reference_peak(transfer, size, cols.params["reference_weight"])
    signal = _with_background(clean, _smooth_field(rng, size, q, cfg.contamination_scale_angstrom),
                              cfg, rng)
    image = detect(sample_grid(signal, p_native, sx, sy), micro, rng)
    if n_native != n:
        image = resize(image, (n, n), order=1, anti_aliasing=n < n_native,
                       preserve_range=True).astype(np.float32)
    # an atom at X is brightest where the probe's maximum meets it: at beam position X - offset
    dx, dy = probe_offset(probe, p_native)
    xn, yn = scan.pixels(cols.x - dx, cols.y - dy)
    cols.params.update(micro, native_pixel_angstrom=p_native, atom_sigma_angstrom=sigma,
                       **amorphous)
    return image, (xn + 0.5) * n / n_native - 0.5, (yn + 0.5) * n / n_native - 0.5


def simulate_image(config: StemSimConfig | None = None,
                   seed: int | np.random.Generator | None = 0,
                   twist_deg: float | None = None) -> StemSample:
    """Simulate one twisted-bilayer HAADF-STEM image with labels and truth (see module doc).

    ``twist_deg`` fixes the twist angle (degrees) instead of drawing it from the config. With
    ``config.microscope`` set (a mapping, ``{}`` for the default ranges) the image is formed by
    a realistic microscope (:mod:`tmdlearn.synth.microscope`), otherwise by the ideal one.
    """
    cfg = config or StemSimConfig()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n, species = cfg.size_px, cfg.species
    pix = cfg.pixel_size_angstrom * (1 + rng.uniform(-1, 1) * cfg.magnification_jitter)
    if cfg.microscope is None:
        pad = int(np.ceil(2.5 / pix))
        cols = _specimen(cfg, rng, pix, (n / 2 + pad) * pix * np.sqrt(2) + 1.0, twist_deg)
        image, x, y = _render_ideal(cfg, rng, cols, pix, pad)
    else:
        reach = n / 2 * pix * np.sqrt(2) * (1 + 2 * 0.1) + 8.0
        cols = _specimen(cfg, rng, pix, reach, twist_deg)
        image, x, y = _render_real(cfg, rng, cols, pix)
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
    """The generator of image ``index`` of ``split``: independent streams, same seed same image."""
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


def simulate_batch(config: StemSimConfig, seed: int, split: str, start: int,
                   count: int) -> tuple[np.ndarray, np.ndarray, list[StemSample]]:
    """Images (count, ny, nx) float32 and labels (count, layers*species, ny, nx) uint8."""
    samples = [simulate_image(config, split_seed(seed, split, start + k)) for k in range(count)]
    images = np.stack([s.image for s in samples])
    labels = np.stack([s.labels.reshape(-1, *s.image.shape) for s in samples]).astype(np.uint8)
    return images, labels, samples
