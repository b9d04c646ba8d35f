"""WSe2 flake hyperspectral maps: Raman (eight modes in 183-410 cm⁻¹) and PL (one Gaussian)
under resonant (2.33 eV, 532 nm) and non-resonant (1.96 eV, 633 nm) excitation.

Monolayer triangles and six-pointed stars on SiO2/Si carry two defect fields: Se vacancies
(first-order modes suppressed, PL quenched) and O substitution (Raman suppressed, PL raised).
A smooth "exciton quality" field ``q`` drives both the A1' intensity under resonance and the PL,
so the PL rises with the A1' intensity in pristine regions at 2.33 eV; the other modes, and every
mode off resonance, follow a Raman-efficiency field ``r`` (off resonance with a weak trace of
``q``). Sources in docs/synthetic-data.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tmdlearn.data import SpectralMap
from tmdlearn.io import write_labspec
from tmdlearn.io.atomic import atomic_path
from tmdlearn.progress import track
from tmdlearn.synth.dataset import check_count, write_tables
from tmdlearn.synth.domains import smooth_noise

#: Raman shift axis, cm⁻¹ (the study's two fitting windows 183-300 and 314-410 and the gap).
RAMAN_AXIS_CM1 = np.arange(183.0, 410.01, 0.9)
#: PL photon-energy axis, eV.
PL_AXIS_EV = np.linspace(1.45, 1.85, 200)
#: Monolayer WSe2 modes: name -> (center cm⁻¹, FWHM cm⁻¹, height at 2.33 eV, at 1.96 eV).
MODES = {
    "M219": (219.0, 7.0, 0.05, 0.06),
    "M240": (240.0, 7.0, 0.08, 0.10),
    "E'": (248.0, 3.0, 0.45, 0.30),
    "A1'": (250.5, 3.5, 1.00, 0.55),
    "2LA(M)": (259.5, 6.0, 0.45, 0.80),
    "M360": (360.0, 8.0, 0.07, 0.05),
    "M374": (374.0, 7.0, 0.12, 0.10),
    "M395": (395.0, 8.0, 0.06, 0.05),
}
FIRST_ORDER = ("E'", "A1'")
#: Silicon 2TA second-order band under the SiO2 (cm⁻¹), between the two windows.
SI_2TA = (302.0, 9.0)
#: WSe2 monolayer A exciton, eV (Tonndorf et al. 2013), and FWHM, eV.
PL_A_EV, PL_FWHM_EV = 1.65, 0.05
EXCITATIONS_EV = (2.33, 1.96)
#: The laser lines behind them, nm (frequency-doubled Nd:YAG, He-Ne).
LASER_NM = {2.33: 532.0, 1.96: 632.8}
REGIONS = ("background", "pristine", "vacancy", "oxygen")


@dataclass
class FlakeMaps:
    """One flake under one excitation: Raman and PL maps with per-pixel truth.

    Attributes
    ----------
    raman, pl : SpectralMap
        Raman map (cm⁻¹) and PL map (eV), counts.
    regions : (ny, nx) int array
        0 background, 1 pristine, 2 Se vacancy, 3 O substitution.
    heights : dict of (ny, nx) arrays
        True peak height (counts) by mode name.
    a1_center_cm1 : (ny, nx) array
        True A1' centre, cm⁻¹.
    pl_height, pl_center_ev, pl_fwhm_ev : (ny, nx) arrays
        True PL height (counts), centre and FWHM (eV).
    """

    raman: SpectralMap
    pl: SpectralMap
    regions: np.ndarray
    heights: dict[str, np.ndarray]
    a1_center_cm1: np.ndarray
    pl_height: np.ndarray
    pl_center_ev: np.ndarray
    pl_fwhm_ev: np.ndarray


def flake_mask(pixels: int, shape: str, rng: np.random.Generator) -> np.ndarray:
    """A monolayer flake filling about half of the field.

    Parameters
    ----------
    pixels : int
        Pixels per side.
    shape : str
        "triangle" or six-pointed "star".
    rng : Generator
        Draws the orientation and the edge roughness.

    Returns
    -------
    (pixels, pixels) bool array
        True on the flake.
    """
    y, x = np.mgrid[0:pixels, 0:pixels] - (pixels - 1) / 2.0
    theta = rng.uniform(0, 2 * np.pi / 3)
    proj = [x * np.cos(a) + y * np.sin(a) for a in theta + np.arange(3) * 2 * np.pi / 3]
    tri = np.maximum(np.maximum(proj[0], proj[1]), proj[2])
    if shape == "star":
        tri = np.minimum(tri, -np.minimum(np.minimum(proj[0], proj[1]), proj[2]))
    elif shape != "triangle":
        raise ValueError(f"shape must be 'triangle' or 'star', got {shape!r}")
    size = pixels * rng.uniform(0.2, 0.26)
    return tri + smooth_noise((pixels, pixels), 1.5, rng) * 0.6 < size


def defect_regions(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Region labels: Se-vacancy patches (favouring the edges) and O-substituted patches.

    Parameters
    ----------
    mask : (ny, nx) bool array
        The flake (:func:`flake_mask`).
    rng : Generator
        Draws the patches.

    Returns
    -------
    (ny, nx) int array
        0 background, 1 pristine, 2 Se vacancy, 3 O substitution (:data:`REGIONS`).
    """
    from scipy import ndimage

    n = mask.shape[0]
    depth = ndimage.distance_transform_edt(mask) / max(n / 10.0, 1.0)
    vacancy = smooth_noise(mask.shape, n / 16, rng) - 0.6 * np.exp(-depth) > 1.0
    oxygen = smooth_noise(mask.shape, n / 14, rng) > 1.2
    regions = np.where(mask, 1, 0)
    regions[mask & vacancy] = 2
    regions[mask & oxygen] = 3
    return regions


def _lorentz(axis, center, fwhm):
    return 1.0 / (1.0 + ((axis - center[..., None]) / (fwhm / 2.0)) ** 2)


def flake_maps(pixels: int = 64, shape: str = "triangle", excitation_ev: float = 2.33,
               seed=None, step_um: float = 0.5, fields: dict | None = None) -> FlakeMaps:
    """Raman and PL maps of one flake under ``excitation_ev`` (2.33 resonant, 1.96 not).

    Parameters
    ----------
    pixels : int
        Pixels per side.
    shape : str
        "triangle" or "star".
    excitation_ev : float
        Laser photon energy, eV: 2.33 (532 nm) or 1.96 (632.8 nm).
    seed : int or Generator, optional
        Seed or generator of the per-pixel scatter, strain, background and noise (and of
        the fields when ``fields`` is None).
    step_um : float
        Map step, µm.
    fields : dict, optional
        mask, regions, q, r (:func:`flake_fields`), so that both excitations share the same
        flake; if None they are drawn from ``seed``.

    Returns
    -------
    FlakeMaps
        Raman map in cm⁻¹, PL map in eV, and the per-pixel truth.
    """
    if excitation_ev not in EXCITATIONS_EV:
        raise ValueError(f"excitation_ev must be one of {EXCITATIONS_EV}")
    rng = np.random.default_rng(seed)
    if fields is None:
        fields = flake_fields(pixels, shape, rng)
    mask, regions = fields["mask"], fields["regions"]
    q, r = fields["q"], fields["r"]
    resonant = excitation_ev == 2.33
    column = 2 if resonant else 3
    # At 2.33 eV only A1' is resonantly enhanced through the A exciton (Carvalho et al., PRB
    # 91, 205413 (2015)), so its intensity follows q; every other mode, and every mode off
    # resonance, follows the Raman-efficiency field r (off resonance with a weak trace of q).
    vac, oxy = regions == 2, regions == 3
    heights = {}
    scale = 600.0 if resonant else 350.0
    for name, params in MODES.items():
        raman_factor = (q if name == "A1'" else r) if resonant else r * q**0.15
        h = scale * params[column] * raman_factor * np.exp(rng.normal(0, 0.07, mask.shape))
        if name in FIRST_ORDER:
            h = np.where(vac, 0.35 * h, h)
        elif name == "2LA(M)":
            h = np.where(vac, 1.3 * h, h)
        h = np.where(oxy, 0.5 * h, h)
        heights[name] = np.where(mask, h, 0.0)
    strain = smooth_noise(mask.shape, pixels / 12, rng) * 0.3
    # O substitution p-dopes and stiffens A1' and broadens every mode (model choice): without a
    # Raman signature of its own an O site would look like a dim pristine pixel.
    a1_center = MODES["A1'"][0] - strain + np.where(vac, 0.8, 0.0) + np.where(oxy, 2.5, 0.0)
    axis = RAMAN_AXIS_CM1
    raman = np.zeros(mask.shape + axis.shape)
    for name, (center, fwhm, *_rest) in MODES.items():
        centers = a1_center if name == "A1'" else np.full(mask.shape, center)
        width = fwhm * np.where(vac, 1.4, np.where(oxy, 1.25, 1.0))[..., None]
        raman += heights[name][..., None] * _lorentz(axis, centers, width)
    raman += 25.0 * _lorentz(axis, np.full(mask.shape, SI_2TA[0]), SI_2TA[1])
    slope = rng.uniform(0.02, 0.08)
    raman += 40.0 + slope * (axis - axis[0]) + (mask * rng.uniform(10, 30))[..., None]
    # PL follows q in pristine regions; in defect regions defect-bound states dominate and it
    # responds only weakly (exponent 0.1, a model choice).
    exponent = np.where(vac | oxy, 0.1, 1.2)
    pl_height = 3000.0 * q**exponent * np.exp(rng.normal(0, 0.07, mask.shape))
    pl_height = np.where(vac, 0.3 * pl_height, np.where(oxy, 1.8 * pl_height, pl_height))
    pl_height = np.where(mask, pl_height, 0.0)
    pl_center = PL_A_EV - 0.03 * strain + np.where(oxy, 0.01, 0.0)
    pl_fwhm = PL_FWHM_EV * np.where(vac, 1.3, 1.0) * np.ones(mask.shape)
    pl = pl_height[..., None] * np.exp(
        -4 * np.log(2) * ((PL_AXIS_EV - pl_center[..., None]) / pl_fwhm[..., None]) ** 2)
    pl += 20.0
    raman, pl = _measure(raman, rng), _measure(pl, rng)
    excitation_nm = LASER_NM[excitation_ev]
    meta = {"synthetic": True, "excitation_ev": excitation_ev}
    raman_map = SpectralMap(raman, axis, "cm-1", step_um, excitation_nm, metadata=meta)
    pl_map = SpectralMap(pl, PL_AXIS_EV, "eV", step_um, excitation_nm, metadata=meta)
    return FlakeMaps(raman_map, pl_map, regions, heights, a1_center, pl_height, pl_center,
                     pl_fwhm)


def flake_fields(pixels: int, shape: str, seed=None) -> dict[str, np.ndarray]:
    """The flake's shared fields: mask, regions, exciton quality q, Raman efficiency r.

    Parameters
    ----------
    pixels : int
        Pixels per side of the map.
    shape : str
        "triangle" or "star".
    seed : int or Generator, optional
        Seed or generator of the outline, regions and q, r fields.

    Returns
    -------
    dict of (pixels, pixels) arrays
        "mask", "regions", "q", "r".
    """
    rng = np.random.default_rng(seed)
    mask = flake_mask(pixels, shape, rng)
    return {
        "mask": mask,
        "regions": defect_regions(mask, rng),
        "q": np.exp(0.35 * smooth_noise(mask.shape, pixels / 10, rng)),
        "r": np.exp(0.3 * smooth_noise(mask.shape, pixels / 10, rng)),
    }


def _measure(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shot and read noise, and cosmic-ray spikes in about 1 % of the pixels."""
    counts = rng.poisson(np.clip(clean, 0, None)).astype(float)
    counts += rng.normal(0.0, 3.0, clean.shape)
    ny, nx, n = clean.shape
    hits = rng.random((ny, nx)) < 0.01
    for iy, ix in zip(*np.nonzero(hits), strict=True):
        k = rng.integers(0, n)
        counts[iy, ix, k:k + 2] += rng.uniform(500.0, 5000.0)
    return counts


def write_wse2_maps(out: str | Path, flakes: int = 6, pixels: int = 96, seed: int = 0,
                    step_um: float = 0.5) -> Path:
    """Write the WSe2 flake maps to ``out``.

    Writes flakes x {2.33, 1.96 eV} Raman and PL maps (LabSpec 6 text), ``truth/*.npz``
    (regions and true peak parameters per pixel), manifest.csv and truth.csv.

    Parameters
    ----------
    out : str or Path
        The dataset folder.
    flakes : int
        Number of flakes (triangles and stars alternate).
    pixels : int
        Map pixels per side.
    seed : int
        Seed; flake ``i`` draws from ``(seed, i)``.
    step_um : float
        Map step, µm.

    Returns
    -------
    Path
        ``out``.
    """
    flakes = check_count("flakes", flakes)
    pixels = check_count("pixels", pixels, 16)
    out = Path(out)
    manifest, truth = [], []
    for index in track(range(flakes), "WSe2 maps", total=flakes):
        rng = np.random.default_rng([seed, index])
        shape = ("triangle", "star")[index % 2]
        fields = flake_fields(pixels, shape, rng)
        sample_id = f"W{index + 1:02d}"
        for ev in EXCITATIONS_EV:
            maps = flake_maps(pixels, shape, ev, rng, step_um, fields)
            tag = f"{sample_id}_{ev:.2f}eV"
            truth_name = f"truth/{tag}.npz"
            with atomic_path(out / truth_name) as tmp:
                np.savez_compressed(
                    tmp, regions=maps.regions.astype(np.int8),
                    region_names=np.array(REGIONS), a1_center_cm1=maps.a1_center_cm1,
                    pl_height=maps.pl_height, pl_center_ev=maps.pl_center_ev,
                    pl_fwhm_ev=maps.pl_fwhm_ev,
                    **{f"height_{k}": v for k, v in maps.heights.items()})
            grating = 1800 if ev == 2.33 else 1200
            base = {"sample_id": sample_id, "material": "WSe2", "location": f"flake-{shape}",
                    "scan_size_um": pixels * step_um, "laser_power_mw": 0.5,
                    "excitation_nm": LASER_NM[ev], "excitation_ev": ev}
            pristine = maps.regions == 1
            summary = {
                "shape": shape, "truth_file": truth_name,
                **{f"fraction_{r}": float((maps.regions == i).mean())
                   for i, r in enumerate(REGIONS)},
                "pristine_pl_a1_corr": float(np.corrcoef(
                    maps.heights["A1'"][pristine], maps.pl_height[pristine])[0, 1]),
            }
            for modality, data, grat in (("raman_map", maps.raman, grating),
                                         ("pl_map", maps.pl, 300)):
                name = f"{modality.split('_')[0]}/{tag}.txt"
                write_labspec(out / name, data, {"Title": f"{sample_id} {ev} eV"})
                manifest.append({**base, "modality": modality, "file": name, "grating": grat})
                truth.append({"file": name, **base, "modality": modality, **summary})
    return write_tables(out, manifest, truth)
