"""Five-material AFM set (MoS2, WS2, WSe2, MoSe2, Mo-WSe2): material-specific growth habits
whose distributions overlap, several crops per sample, class counts in the ratio
476:182:137:129:102 of the study's 1026 crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError
from tmdlearn.io import write_height_map
from tmdlearn.progress import track
from tmdlearn.synth.dataset import check_count, write_tables
from tmdlearn.synth.domains import grow_film
from tmdlearn.synth.film import (
    FilmState,
    heights_from_layers,
    scanner_artifacts,
    substrate_terraces,
)

#: Crops per class in the study (1026 crops of 626 samples).
CLASS_COUNTS = {"MoS2": 476, "WS2": 182, "WSe2": 137, "MoSe2": 129, "Mo-WSe2": 102}


@dataclass(frozen=True)
class Habit:
    """Growth habit of a material: mean hexagonality (0 triangle .. 1 hexagon), nucleation
    density range (µm⁻²), bilayer fraction range, edge roughness (nm), monolayer step (nm)."""

    hexagonality: float
    nucleation_um2: tuple[float, float]
    bilayer: tuple[float, float]
    edge_roughness_nm: float
    monolayer_nm: float


HABITS = {
    "MoS2": Habit(0.20, (3.0, 30.0), (0.0, 0.06), 2.0, 0.70),
    "WS2": Habit(0.05, (1.0, 8.0), (0.0, 0.04), 1.5, 0.75),
    "WSe2": Habit(0.55, (6.0, 40.0), (0.10, 0.30), 3.0, 0.75),
    "MoSe2": Habit(0.85, (20.0, 120.0), (0.0, 0.10), 4.0, 0.72),
    "Mo-WSe2": Habit(0.50, (40.0, 200.0), (0.05, 0.15), 10.0, 0.75),
}


def material_state(material: str, seed=None) -> FilmState:
    """A sample's film state drawn from ``material``'s habit.

    Parameters
    ----------
    material : str
        One of :data:`HABITS`.
    seed : int or Generator, optional
        Random seed or generator.

    Returns
    -------
    FilmState

    Raises
    ------
    InputError
        For an unknown material.
    """
    if material not in HABITS:
        raise InputError(f"unknown material {material!r}: use {list(HABITS)}")
    rng = np.random.default_rng(seed)
    habit = HABITS[material]
    lo, hi = np.log(habit.nucleation_um2[0]), np.log(habit.nucleation_um2[1])
    nucleation = float(np.exp(rng.uniform(lo, hi)))
    coverage = float(rng.uniform(0.2, 0.85))
    return FilmState(
        coverage=coverage,
        nucleation_density_um2=nucleation,
        domain_size_nm=float(1000 * np.sqrt(coverage / nucleation)),
        hexagonality=float(np.clip(rng.normal(habit.hexagonality, 0.12), 0, 1)),
        orientation_spread_deg=float(rng.uniform(3.0, 20.0)),
        bilayer_fraction=float(rng.uniform(*habit.bilayer)),
        defect_density_cm2=0.0,
        strain_pct=0.0,
        doping_1e13_cm2=0.0,
        terrace_width_nm=float(np.exp(rng.uniform(np.log(60.0), np.log(250.0)))),
        particle_density_um2=0.0,
        edge_roughness_nm=float(habit.edge_roughness_nm * rng.uniform(0.6, 1.5)),
    )


def material_crop(material: str, state: FilmState, pixels: int = 128,
                  scan_size_um: float = 2.0, seed=None) -> tuple[HeightMap, dict]:
    """One AFM crop of a sample of ``material`` in ``state``, and its truth.

    Parameters
    ----------
    material : str
        One of :data:`HABITS`.
    state : FilmState
        The sample's film state (:func:`material_state`).
    pixels : int
        Pixels per side.
    scan_size_um : float
        Square scan size, µm.
    seed : int or Generator, optional
        Random seed or generator.

    Returns
    -------
    height : HeightMap
        Heights, nm.
    truth : dict
        Realised film truth and the film state (``state_*``).
    """
    rng = np.random.default_rng(seed)
    shape = (pixels, pixels)
    pixel_nm = scan_size_um * 1000.0 / pixels
    morph = grow_film(state, shape, pixel_nm, rng)
    height = (heights_from_layers(morph, HABITS[material].monolayer_nm)
              + substrate_terraces(shape, pixel_nm, state.terrace_width_nm, rng)
              + scanner_artifacts(shape, scan_size_um, rng) + rng.normal(0, 0.05, shape))
    meta = {"synthetic": True, "material": material}
    truth = {**morph.truth, **{f"state_{k}": v for k, v in state.to_dict().items()}}
    return HeightMap(height.astype(np.float32), pixel_nm, "height", None, meta), truth


def class_counts(scale: float = 1.0) -> dict[str, int]:
    """Crops per class at ``scale`` times the study's counts (at least 2 per class).

    Parameters
    ----------
    scale : float
        Factor on :data:`CLASS_COUNTS`.

    Returns
    -------
    dict
        Count by material.
    """
    return {m: max(2, int(round(n * scale))) for m, n in CLASS_COUNTS.items()}


def write_tmd_materials(out: str | Path, scale: float = 1.0, pixels: int = 128,
                        seed: int = 0) -> Path:
    """Write ``afm/<material>/<sample>_<crop>.npz`` crops, manifest.csv and truth.csv.

    Each sample gives 1-3 crops (1.8 on average; the study had 1026 crops of 626 samples,
    about 1.6) until the class has its count.

    Parameters
    ----------
    out : str or Path
        The dataset folder.
    scale : float
        Factor on the study's class counts, in (0, 10].
    pixels : int
        Pixels per side of the 2 µm crops.
    seed : int
        Seed; class ``k`` draws from ``(seed, k)``.

    Returns
    -------
    Path
        ``out``.
    """
    if not 0 < scale <= 10:
        raise InputError(f"scale must be in (0, 10], got {scale}")
    pixels = check_count("pixels", pixels, 16)
    out = Path(out)
    manifest, truth = [], []
    counts = class_counts(scale)
    total = sum(counts.values())
    bar = iter(track(range(total), "TMD materials", total=total))
    for class_index, (material, count) in enumerate(counts.items()):
        rng = np.random.default_rng([seed, class_index])
        written, sample = 0, 0
        while written < count:
            sample += 1
            state = material_state(material, rng)
            sample_id = f"{material}-{sample:04d}"
            for crop in range(min(int(rng.choice([1, 1, 2, 2, 3])), count - written)):
                height, crop_truth = material_crop(material, state, pixels, 2.0, rng)
                name = f"afm/{material}/{sample_id}_{crop + 1}.npz"
                write_height_map(out / name, height)
                row = {"sample_id": sample_id, "material": material, "location": f"crop{crop + 1}",
                       "modality": "afm", "file": name, "scan_size_um": 2.0}
                manifest.append(row)
                truth.append({**row, **crop_truth})
                written += 1
                next(bar, None)
    return write_tables(out, manifest, truth)
