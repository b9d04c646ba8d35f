"""Independent HAADF-STEM images of twisted bilayers by abTEM multislice, and the calibration of
tmdlearn's simulator against them.

abTEM (GPL-3) is used here only, in a separate environment; nothing in ``src/`` imports it. Its
outputs are data. Each image: a twisted bilayer built with ase (graphene a = 2.46 Å, interlayer
3.35 Å; 2H WS2(1-x)Se2x with Se drawn on each chalcogen site with probability x per layer and
the Vegard lattice constant a = 3.153 + 0.129 x Å, W–W interlayer 6.2 Å; ``--material mos2``:
2H MoS2(1-x)Se2x, a = 3.160 + 0.128 x Å, S-S 3.17 Å, Mo-Mo interlayer 6.15 Å; ``--layers 1``
monolayers), a random twist
(0-30°), rotation and shift, cut into an orthogonal periodic box a few Å larger than the
scanned field (the wrap seams stay outside it); frozen phonons (``--configs`` configurations,
rms displacement per direction 0.05-0.075 Å by element); a probe with the energy, convergence
and aberrations (C10, C12, C21, C23, C30 and azimuths) drawn by
:func:`tmdlearn.synth.microscope.draw_microscope` (``MicroscopeConfig`` defaults); an annular
detector of 70-200 mrad. The field is scanned at or below the probe's Nyquist step, Fourier-
interpolated (mirror-extended, no edge ringing) to the model's pixel (graphene 0.1 Å, WS2
0.15 Å), cropped, and blurred by the drawn source size. Each layer is one slice of the
multislice (the layer's atoms in one phase grating, then propagation to the next layer): the
probe's depth of field lambda / alpha^2 (34-85 Å over the drawn probes) is far larger than a
layer (<= 3.1 Å).

Writes one ``{material}-{index:03d}.npz`` per image (float16 ``image`` (ny, nx), ``pixel_angstrom``,
``origin_angstrom``; columns ``x_angstrom``, ``y_angstrom`` (image frame: pixel (i, j) is at
x = j * pixel, y = i * pixel), ``layer``, ``species`` (tmdlearn's index), ``n_se``; the drawn
``microscope`` and ``structure`` as JSON strings) to ``--out``, and a ``log.txt``.

    nice -n 10 env OMP_NUM_THREADS=1 PYTHONPATH=src /work/venv-abtem/bin/python \\
        benchmarks/stem_abtem.py --material graphene --n 20 --out /work/abtem-heldout
    ... benchmarks/stem_abtem.py --time --material ws2           # cost of one image
    ... benchmarks/stem_abtem.py --material mos2 --layers 1 --seed 19 --configs 2 \
        --slicing plane --out DIR          # Mo-film monolayers for training beside
    ... benchmarks/stem_abtem.py --calibrate --out /work/abtem-calibration  # prints JSON
    ... benchmarks/stem_abtem.py --phonon-bonds 4 16 32   # perfect positions' bond statistic

``--calibrate`` simulates its own images (other seeds: never the held-out ones), renders the same
columns with tmdlearn's simulator through the same probe (:func:`tmdlearn.synth.microscope.
probe_otf` times the atom-size Gaussian, as ``_render_real`` does) and fits the Z exponent n,
the atom size sigma (Å), a scale and an offset to the abTEM image; it also reports the column
peak ratios (W : S2 : SSe : Se2, and the C column) and their Z exponents, and the correlation.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage, optimize, signal

from tmdlearn.constants import LATTICE_ANGSTROM, METALS, VEGARD_ANGSTROM, Z
from tmdlearn.raster import splat
from tmdlearn.synth.microscope import (
    MicroscopeConfig,
    draw_microscope,
    electron_wavelength_angstrom,
    probe_intensity,
    probe_otf,
)
from tmdlearn.synth.specimen import column_weights
from tmdlearn.synth.stem import SPECIES

#: Model pixel (Å) and clean image side (px) per material: larger than the 96 px that
#: benchmarks/stem_real.py records, so that distorted scans stay inside it.
PIXEL = {"graphene": 0.1, "ws2": 0.15, "mos2": 0.15}
CLEAN_PX = {"graphene": 120, "ws2": 114, "mos2": 114}
#: Distance between the layers' mid-planes (Å) and the layers' own thickness (S-S, Å): 2H WS2
#: and MoS2 (c/2 6.16-6.2 Å, S-S 3.14-3.17 Å).
INTERLAYER = {"graphene": 3.35, "ws2": 6.2, "mos2": 6.15}
THICKNESS = {"ws2": 3.14, "mos2": 3.17}
#: The metal of a TMD material (its first species).
METAL = {material: SPECIES[material][0] for material in ("ws2", "mos2")}
#: rms thermal displacement per direction (Å) by element (room temperature).
SIGMAS = {"C": 0.075, "S": 0.065, "Se": 0.06, "W": 0.05, "Mo": 0.05}
#: Scanned margin beyond the clean image (Fourier interpolation) and box margin beyond the scan.
SCAN_MARGIN, BOX_MARGIN = 0.8, 2.0
#: ``--slicing plane``: every atomic plane starts its own slice, this far (Å) above it (frozen
#: phonons move atoms along z too).
PLANE_LEAD = 0.3
DETECTOR_MRAD = (70.0, 200.0)


def _cell(material: str, a: float):
    """ase unit cell of one layer: in-plane cell (2, 2) Å, atom xy (k, 2), z (k,), symbols."""
    from ase.build import graphene, mx2

    atoms = graphene(a=a) if material == "graphene" else mx2(
        f"{METAL[material]}S2", "2H", a=a, thickness=THICKNESS[material])
    z = atoms.positions[:, 2] - atoms.positions[:, 2].mean()
    return (np.asarray(atoms.cell)[:2, :2], atoms.positions[:, :2], z,
            atoms.get_chemical_symbols())


def layer(material: str, a: float, angle_deg: float, box: float, z0: float, se_fraction: float,
          rng: np.random.Generator):
    """Atoms (xyz (N, 3) Å, symbols) and columns (xy (M, 2), species index, n_se) of one layer
    rotated by ``angle_deg`` about the box centre, randomly shifted, inside [0, box)²."""
    cell, xy, z, symbols = _cell(material, a)
    n = int(np.ceil(box * 0.8 / (a * np.sqrt(3) / 2))) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    origins = i.reshape(-1, 1) * cell[0] + j.reshape(-1, 1) * cell[1] + rng.uniform(0, 1, 2) @ cell
    theta = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pos = ((origins[:, None, :] + xy[None]) @ rot.T).reshape(-1, 2) + box / 2
    sym = np.tile(symbols, len(origins))
    zz = np.tile(z, len(origins)) + z0
    inside = ((pos >= 0) & (pos < box)).all(axis=1)
    se = (sym == "S") & (rng.random(len(sym)) < se_fraction)
    sym = np.where(se, "Se", sym)
    pos, sym, zz, se = pos[inside], sym[inside], zz[inside], se[inside]
    # columns: atoms at the same xy (the two chalcogens of a 2H layer)
    key = np.round(pos, 4)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_se = np.bincount(inverse, weights=se, minlength=len(uniq)).astype(int)
    metal = np.bincount(inverse, weights=np.isin(sym, METALS), minlength=len(uniq)) > 0
    kind = np.where(metal, 0, 1 + n_se) if material in METAL else np.zeros(len(uniq), int)
    return np.column_stack([pos, zz]), sym, uniq, kind, n_se


def structure(material: str, rng: np.random.Generator, box: float, layers: int = 2,
              se: tuple[float, ...] | None = None):
    """A twisted (mono/bi)layer in a periodic box: ase Atoms, columns dict, drawn values."""
    from ase import Atoms

    twist, rotation = rng.uniform(0, 30), rng.uniform(0, 360)
    se = tuple(se) if se is not None else (
        (0.0, 0.0) if material == "graphene" else tuple(rng.choice([0, 0.25, 0.5, 0.75, 1], 2)
                                                         if rng.random() < 0.5 else
                                                         rng.uniform(0, 1, 2)))
    step = INTERLAYER[material]
    xyz, sym, cols = [], [], []
    lo, hi = VEGARD_ANGSTROM[METAL[material]] if material in METAL else (
        LATTICE_ANGSTROM[material],) * 2
    for k in range(layers):
        a = lo + se[k] * (hi - lo)  # Vegard between the sulphide and the selenide
        p, s, cxy, kind, n_se = layer(material, a, rotation + k * twist, box,
                                      step / 2 + k * step, se[k], rng)
        xyz.append(p)
        sym.append(s)
        cols.append((cxy, np.full(len(cxy), k), kind, n_se))
    atoms = Atoms(symbols=list(np.concatenate(sym)), positions=np.concatenate(xyz),
                  cell=[box, box, layers * step], pbc=True)
    c = [np.concatenate(v) for v in zip(*cols, strict=True)]
    columns = {"xy": c[0], "layer": c[1], "species": c[2], "n_se": c[3]}
    drawn = {"material": material, "layers": layers, "twist_deg": float(twist),
             "rotation_deg": float(rotation), "se_fraction": [float(v) for v in se[:layers]],
             "box_angstrom": box, "interlayer_angstrom": step}
    return atoms, columns, drawn


def plane_slices(z: np.ndarray, depth: float) -> tuple[float, ...]:
    """Slice thicknesses (Å) of a box ``depth`` deep in which every atomic plane (the atoms'
    heights ``z``, Å) starts its own slice: each plane's potential is transmitted at its own
    depth and the propagation between planes is exact. One slice per layer instead projects
    a layer's two chalcogen atoms into one phase grating, where they scatter to high angles
    coherently: S2 / W comes out 0.230 instead of 0.175 (80 kV, 30 mrad, 70-200 mrad;
    ``benchmarks/stem_column_contrast.py``)."""
    planes = np.unique(np.round(z, 3)) - PLANE_LEAD
    return tuple(float(v) for v in np.diff(np.concatenate([[0.0], planes, [depth]])))


def _fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (a fast FFT size)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def fourier_resample(image: np.ndarray, size: int) -> np.ndarray:
    """Band-limited resampling of a square scanned image of n samples to ``size`` samples over
    the same length (sample k at k * n / size input samples): the image is mirror-extended (no
    jump at the periodic seam, so no edge ringing) and zero-padded in Fourier space."""
    ext = np.concatenate([image, image[::-1]], axis=0)
    ext = np.concatenate([ext, ext[:, ::-1]], axis=1)
    out = signal.resample(signal.resample(ext, 2 * size, axis=0), 2 * size, axis=1)
    return out[:size, :size]


def haadf(atoms, slice_angstrom: float | tuple[float, ...], micro: dict, configs: int,
          scan_start: float, scan_n: int, scan_step: float, seed: int) -> np.ndarray:
    """abTEM HAADF intensity (scan_n, scan_n) (rows y, columns x), fraction of the beam on the
    detector, at positions scan_start + k * scan_step (Å) along x and y."""
    import abtem

    energy = micro["energy_kev"] * 1e3
    wavelength = electron_wavelength_angstrom(micro["energy_kev"])
    # sampling: the antialiased (2/3) maximum angle reaches the detector's outer angle
    sampling = wavelength / (3 * DETECTOR_MRAD[1] * 1.02e-3)
    gpts = _fft_size(int(np.ceil(atoms.cell[0, 0] / sampling)))
    frozen = abtem.FrozenPhonons(atoms, num_configs=configs, sigmas=SIGMAS, seed=seed)
    potential = abtem.Potential(frozen, gpts=gpts, slice_thickness=slice_angstrom,
                                projection="infinite", parametrization="lobato")
    aberrations = {k: micro[k] for k in ("C10", "C12", "phi12", "C21", "phi21", "C23", "phi23",
                                         "C30")}
    probe = abtem.Probe(energy=energy, semiangle_cutoff=micro["convergence_mrad"],
                        aberrations=aberrations)
    end = scan_start + scan_n * scan_step
    scan = abtem.GridScan(start=(scan_start, scan_start), end=(end, end), gpts=scan_n,
                          endpoint=False)
    detector = abtem.AnnularDetector(inner=DETECTOR_MRAD[0], outer=DETECTOR_MRAD[1])
    measurement = probe.scan(potential, scan=scan, detectors=detector)
    measurement.compute(scheduler="single-threaded", progress_bar=False)
    return np.asarray(measurement.array, dtype=np.float64).T  # abTEM indexes [x, y]


MATERIALS = ("graphene", "ws2", "mos2")  # the index seeds each image: append only


def _draw(material: str, index: int, seed: int, layers: int = 2,
          se: tuple[float, ...] | None = None, n_clean: int | None = None) -> dict:
    """Everything image ``index`` draws before the multislice: probe, scan grid, structure and
    the frozen phonons' seed (the same stream :func:`simulate` and ``--phonon-truth`` use)."""
    rng = np.random.default_rng([seed, MATERIALS.index(material), index])
    pix = PIXEL[material]
    n_clean = n_clean or CLEAN_PX[material]
    micro = draw_microscope(MicroscopeConfig(), rng)
    nyquist = electron_wavelength_angstrom(micro["energy_kev"]) / (
        4 * micro["convergence_mrad"] * 1e-3)
    fine = n_clean + 2 * int(np.ceil(SCAN_MARGIN / pix))
    scan_n = int(np.ceil(fine * pix / nyquist))
    box = fine * pix + 2 * BOX_MARGIN
    atoms, cols, drawn = structure(material, rng, box, layers, se)
    c = (fine - n_clean) // 2
    return {"micro": micro, "pix": pix, "n_clean": n_clean, "fine": fine, "scan_n": scan_n,
            "scan_step": fine * pix / scan_n, "atoms": atoms, "cols": cols, "drawn": drawn,
            "phonon_seed": int(rng.integers(2**31)), "crop": c,
            "origin": BOX_MARGIN + c * pix}


def _in_field(d: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns of a :func:`_draw` in the image frame (x, y, Å) and which are kept: those
    within 2 Å of the cropped field."""
    x, y = (d["cols"]["xy"][:, k] - d["origin"] for k in (0, 1))
    side = d["n_clean"] * d["pix"]
    return x, y, (x > -2) & (x < side + 2) & (y > -2) & (y < side + 2)


def phonon_mean_xy(atoms, cols: dict, configs: int, seed: int, step: float) -> np.ndarray:
    """Where each column (``cols["xy"]``, box frame, Å) is in an image of ``configs`` frozen
    phonon configurations: its atoms' xy displacements averaged over the configurations, added
    to the column. A microscope averages millions of configurations in a pixel's dwell (the
    column sits at its equilibrium position); a few leave each column off it by about
    sigma / sqrt(configs) per direction (C at 4 configurations: 0.038 Å, which alone makes the
    two-nearest-neighbour bond FWHM 0.101 Å and its mean 1.395 Å, :func:`phonon_bonds`)."""
    import abtem
    from scipy.spatial import cKDTree

    frozen = abtem.FrozenPhonons(atoms, num_configs=configs, sigmas=SIGMAS, seed=seed)
    shift = np.mean([a.positions[:, :2] for a in frozen], axis=0) - atoms.positions[:, :2]
    atom_layer = (atoms.positions[:, 2] // step).astype(int)
    out = np.array(cols["xy"], float)
    for k in np.unique(cols["layer"]):
        mine, theirs = cols["layer"] == k, np.flatnonzero(atom_layer == k)
        members = cKDTree(atoms.positions[theirs, :2]).query_ball_point(cols["xy"][mine], 1e-3)
        out[mine] += np.array([shift[theirs[m]].mean(axis=0) for m in members])
    return out


def simulate(material: str, index: int, seed: int, configs: int, layers: int = 2,
             se: tuple[float, ...] | None = None, n_clean: int | None = None,
             slicing: str = "layer") -> dict:
    """One abTEM image and its truth (the arrays and JSON strings written to the npz);
    ``slicing`` ``layer`` (one slice per layer, as the stored sets) or ``plane``
    (:func:`plane_slices`)."""
    d = _draw(material, index, seed, layers, se, n_clean)
    micro, pix, n_clean, atoms, cols = d["micro"], d["pix"], d["n_clean"], d["atoms"], d["cols"]
    t0 = time.process_time()
    slices = INTERLAYER[material] if slicing == "layer" else \
        plane_slices(atoms.positions[:, 2], float(atoms.cell[2, 2]))
    coarse = haadf(atoms, slices, micro, configs, BOX_MARGIN, d["scan_n"], d["scan_step"],
                   d["phonon_seed"])
    cpu = time.process_time() - t0
    image = fourier_resample(coarse, d["fine"])
    sigma = micro["source_fwhm_angstrom"] / (2 * np.sqrt(2 * np.log(2)))
    image = ndimage.gaussian_filter(image, sigma / pix, mode="reflect")
    c, origin = d["crop"], d["origin"]
    image = image[c:c + n_clean, c:c + n_clean]
    x, y, keep = _in_field(d)
    mean_xy = phonon_mean_xy(atoms, cols, configs, d["phonon_seed"], INTERLAYER[material])
    drawn = d["drawn"] | {"configs": configs, "scan_n": d["scan_n"],
                          "scan_step_angstrom": d["scan_step"],
                          "detector_mrad": list(DETECTOR_MRAD), "thermal_sigma_angstrom": SIGMAS,
                          "slice_angstrom": slices, "cpu_seconds": round(cpu, 1),
                          "seed": [seed, MATERIALS.index(material), index]}
    return {"image": image.astype(np.float32), "pixel_angstrom": pix,
            "origin_angstrom": origin, "x_angstrom": x[keep], "y_angstrom": y[keep],
            "x_phonon_angstrom": mean_xy[keep, 0] - origin,
            "y_phonon_angstrom": mean_xy[keep, 1] - origin,
            "layer": cols["layer"][keep].astype(np.int8),
            "species": cols["species"][keep].astype(np.int8),
            "n_se": cols["n_se"][keep].astype(np.int8),
            "species_names": np.array(SPECIES[material]),
            "microscope": json.dumps(micro), "structure": json.dumps(drawn)}


def add_phonon_truth(path: Path) -> None:
    """Add ``x_phonon_angstrom`` / ``y_phonon_angstrom`` (:func:`phonon_mean_xy`) to a held-out
    image (Se drawn, not given) written before they were stored, redrawing its structure from
    its seed (checked against the stored columns); the image itself is unchanged."""
    with np.load(path) as npz:
        item = {k: npz[k] for k in npz.files}
    structure_ = json.loads(str(item["structure"]))
    seed, material_index, index = structure_["seed"]
    material = MATERIALS[material_index]
    d = _draw(material, index, seed, structure_["layers"], None, item["image"].shape[0])
    x, y, keep = _in_field(d)
    if not (np.allclose(x[keep], item["x_angstrom"]) and np.allclose(y[keep], item["y_angstrom"])):
        raise SystemExit(f"{path}: the redrawn columns are not the stored ones")
    mean_xy = phonon_mean_xy(d["atoms"], d["cols"], structure_["configs"], d["phonon_seed"],
                             INTERLAYER[material])
    save(path, item | {"x_phonon_angstrom": mean_xy[keep, 0] - d["origin"],
                       "y_phonon_angstrom": mean_xy[keep, 1] - d["origin"],
                       "image": item["image"].astype(np.float32)})  # save stores float16


def save(path: Path, item: dict) -> None:
    """Write one image (float16 intensity) as a compressed npz, atomically."""
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **(item | {"image": item["image"].astype(np.float16)}))
    os.replace(tmp, path)


#: Calibration images (index >= 1000: never a held-out one): material, index, layers, Se; they
#: are CALIBRATION_PX wide (smaller than the held-out ones: enough columns, a third of the cost).
CALIBRATION_PX = 80
CALIBRATION = (("graphene", 1000, 1, None), ("graphene", 1001, 2, None),
               ("ws2", 1000, 1, (0.5,)), ("ws2", 1001, 2, (0.3, 0.7)))


def calibration_images(out: Path, seed: int, configs: int) -> list[dict]:
    """The calibration images, simulated into ``out`` where missing."""
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for material, index, layers, se in CALIBRATION:
        path = out / f"{material}-{index:03d}.npz"
        if not path.exists():
            save(path, simulate(material, index, seed, configs, layers, se, CALIBRATION_PX))
        items.append(dict(np.load(path)))
    return items


#: Border (Å) left out of the calibration fits (columns beyond it were not kept).
FIT_BORDER = 1.5


def _column_weights(item: dict, exponent: float) -> np.ndarray:
    """HAADF weight sum(Z**n) of every column, as tmdlearn's simulator weights it."""
    if str(item["species_names"][0]) == "C":
        return np.full(len(item["layer"]), Z["C"] ** exponent)
    return column_weights(item["species"].astype(int), exponent, exponent)


def render(item: dict, weights: np.ndarray, sigma: float, layer_defocus: float = 0.0
           ) -> np.ndarray:
    """tmdlearn's clean image of the item's columns (``weights``) on its grid: splatted and
    blurred by the same probe (:func:`probe_intensity`, :func:`probe_otf`: source size
    included) times the atom-size
    Gaussian ``sigma`` (Å), as ``_render_real`` does. ``layer_defocus`` (Å) adds that much
    defocus (C10 - dz) per layer below the first (the probe focus moving down the stack)."""
    micro = json.loads(str(item["microscope"]))
    pix, n = float(item["pixel_angstrom"]), item["image"].shape[0]
    pad = int(np.ceil(3.0 / pix))
    size = _fft_size(n + 2 * pad)
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pix), np.fft.rfftfreq(size, pix),
                              indexing="ij"))
    out = np.zeros((size, size))
    for k in np.unique(item["layer"]):
        sel = item["layer"] == k
        potential = splat((size, size), item["x_angstrom"][sel] / pix + pad,
                           item["y_angstrom"][sel] / pix + pad, weights[sel])
        p = micro | {"C10": micro["C10"] - k * layer_defocus}
        transfer = probe_otf(probe_intensity(size, pix, p), pix, p) * \
            np.exp(-2 * (np.pi * sigma * q) ** 2)
        out += np.fft.irfft2(np.fft.rfft2(potential) * transfer, s=(size, size))
    return out[pad:pad + n, pad:pad + n]


def _interior(item: dict) -> np.ndarray:
    n = item["image"].shape[0]
    b = int(np.ceil(FIT_BORDER / float(item["pixel_angstrom"])))
    mask = np.zeros((n, n), bool)
    mask[b:n - b, b:n - b] = True
    return mask


def _linear_fit(target: np.ndarray, parts: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Least-squares amplitudes of [1, *parts] for ``target`` and the residual sum of squares."""
    design = np.column_stack([np.ones(target.size)] + [p.ravel() for p in parts])
    coef, *_ = np.linalg.lstsq(design, target.ravel(), rcond=None)
    return coef, float(np.sum((design @ coef - target.ravel()) ** 2))


def fit_image(item: dict, layer_defocus: float = 0.0) -> dict:
    """Z exponent n, atom size sigma (Å), scale and offset of tmdlearn's image that best match
    the abTEM image (least squares over the interior), and the correlation there."""
    target = item["image"].astype(float)[_interior(item)]
    graphene = str(item["species_names"][0]) == "C"

    def rss(params: np.ndarray) -> float:
        n_exp, sigma = (1.7, params[0]) if graphene else params
        model = render(item, _column_weights(item, n_exp), abs(sigma), layer_defocus)
        return _linear_fit(target, [model[_interior(item)]])[1]

    starts = [[0.15], [0.3]] if graphene else [[1.6, 0.15], [2.0, 0.3]]
    best = min((optimize.minimize(rss, x0, method="Nelder-Mead",
                                  options={"xatol": 1e-3, "fatol": 1e-12}) for x0 in starts),
               key=lambda r: r.fun)
    n_exp, sigma = (None, abs(best.x[0])) if graphene else (best.x[0], abs(best.x[1]))
    model = render(item, _column_weights(item, n_exp or 1.7), sigma, layer_defocus)
    r = np.corrcoef(model[_interior(item)], target)[0, 1]
    return {"z_exponent": None if n_exp is None else round(float(n_exp), 3),
            "atom_sigma_angstrom": round(float(sigma), 3), "correlation": round(float(r), 4)}


def column_amplitudes(item: dict, sigma: float) -> dict[str, float]:
    """Integrated intensity of one column of each species (fraction of the beam × Å²): the
    abTEM image fitted as an offset plus one unit-weight template per species (tmdlearn's
    rendering of that species' columns at weight 1)."""
    names = [str(v) for v in item["species_names"]]
    present = [k for k in range(len(names)) if np.any(item["species"] == k)]
    parts = [render(item, (item["species"] == k).astype(float), sigma)[_interior(item)]
             for k in present]
    coef, _ = _linear_fit(item["image"].astype(float)[_interior(item)], parts)
    pix = float(item["pixel_angstrom"])
    return {names[k]: float(c) * pix**2 for k, c in zip(present, coef[1:], strict=True)}


def implied_exponents(amp: dict[str, float]) -> dict[str, float]:
    """Z exponents n implied by column ratios under tmdlearn's weights: W / S2 = 74^n / (2 16^n),
    Se2 / S2 = (34 / 16)^n, SSe / S2 = (1 + (34 / 16)^n) / 2."""
    out = {}
    if "S2" not in amp or amp["S2"] <= 0:
        return out
    if "W" in amp:
        out["W/S2"] = np.log(2 * amp["W"] / amp["S2"]) / np.log(Z["W"] / Z["S"])
    if "Se2" in amp:
        out["Se2/S2"] = np.log(amp["Se2"] / amp["S2"]) / np.log(Z["Se"] / Z["S"])
    if "SSe" in amp and 2 * amp["SSe"] / amp["S2"] > 1:
        out["SSe/S2"] = np.log(2 * amp["SSe"] / amp["S2"] - 1) / np.log(Z["Se"] / Z["S"])
    return {k: round(float(v), 3) for k, v in out.items()}


def calibrate(out: Path, seed: int, configs: int) -> dict:
    """Fits of tmdlearn's simulator to the calibration images (see module doc)."""
    rows = []
    for (material, index, layers, se), item in zip(CALIBRATION,
                                                   calibration_images(out, seed, configs),
                                                   strict=True):
        row = {"material": material, "index": index, "layers": layers, "se": se,
               "microscope": {k: round(v, 3) for k, v in json.loads(str(item["microscope"])
                                                                    ).items()
                              if k in ("energy_kev", "convergence_mrad", "C10", "C30",
                                       "source_fwhm_angstrom")}}
        row["fit"] = fit_image(item)
        amp = column_amplitudes(item, row["fit"]["atom_sigma_angstrom"])
        row["column_intensity"] = {k: float(f"{v:.4g}") for k, v in amp.items()}
        row["implied_z_exponent"] = implied_exponents(amp)
        if layers == 2:
            dz = INTERLAYER[material]
            row["fit_layer_defocus"] = {f"{s:+g}": fit_image(item, s) for s in (dz, -dz)}
        rows.append(row)
    return {"images": rows, "thermal_sigma_angstrom": SIGMAS, "configs": configs,
            "detector_mrad": list(DETECTOR_MRAD)}


def phonon_bonds(configs: int, seed: int, n: int) -> dict:
    """The study's bond statistic (two nearest neighbours of every atom per layer; mean, KDE
    FWHM, Å) of perfect positions in the first ``n`` held-out graphene images made with
    ``configs`` frozen-phonon configurations: their columns' phonon means
    (:func:`phonon_mean_xy`, no multislice), atoms 3 Å or more inside the box edges."""
    from tmdlearn.stem.bonds import neighbour_distances
    from tmdlearn.stem.densities import kde_fwhm

    dist = []
    for index in range(n):
        d = _draw("graphene", index, seed)
        xy = phonon_mean_xy(d["atoms"], d["cols"], configs, d["phonon_seed"],
                            INTERLAYER["graphene"])
        box = float(d["atoms"].cell[0, 0])
        for k in (0, 1):
            mine = xy[d["cols"]["layer"] == k]
            inner = ((mine > BOX_MARGIN + 3) & (mine < box - BOX_MARGIN - 3)).all(axis=1)
            near = neighbour_distances(mine, 1.0, k=2)
            dist.append(near.reshape(-1, 2)[inner].ravel())
    dist = np.concatenate(dist)
    return {"configs": configs, "bond_mean_angstrom": round(float(dist.mean()), 4),
            "bond_fwhm_angstrom": round(kde_fwhm(dist), 4), "distances": len(dist)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--material", choices=MATERIALS, default="graphene")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--configs", type=int, default=4)
    parser.add_argument("--layers", type=int, choices=(1, 2), default=2,
                        help="1: monolayers (the twist is drawn but unused)")
    parser.add_argument("--out", default="/work/abtem-heldout")
    parser.add_argument("--time", action="store_true", help="time one image, write nothing")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--slicing", choices=("layer", "plane"), default="layer",
                        help="one slice per layer (the stored sets) or per atomic plane")
    parser.add_argument("--phonon-truth", nargs="+", type=Path, metavar="NPZ",
                        help="add the phonon-mean column positions to images written without")
    parser.add_argument("--phonon-bonds", nargs="+", type=int, metavar="CONFIGS",
                        help="bond statistic of the graphene images' phonon-mean positions")
    args = parser.parse_args()
    if args.phonon_bonds:
        print(json.dumps([phonon_bonds(c, args.seed, args.n) for c in args.phonon_bonds]))
        return
    if args.phonon_truth:
        for path in args.phonon_truth:
            add_phonon_truth(path)
        return
    if args.calibrate:
        print(json.dumps(calibrate(Path(args.out), args.seed, args.configs), indent=1))
        return
    if args.time:
        t = time.process_time()
        item = simulate(args.material, 10_000, args.seed, args.configs)
        print(json.dumps({"material": args.material, "configs": args.configs,
                          "cpu_seconds": round(time.process_time() - t, 1),
                          "structure": json.loads(item["structure"])}))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for index in range(args.start, args.start + args.n):
        path = out / f"{args.material}-{index:03d}.npz"
        if path.exists():
            continue
        t = time.process_time()
        item = simulate(args.material, index, args.seed, args.configs, args.layers,
                        slicing=args.slicing)
        save(path, item)
        with open(out / "log.txt", "a") as log:
            log.write(f"{path.name} cpu {time.process_time() - t:.1f} s "
                      f"{item['structure']}\n")


if __name__ == "__main__":
    main()
