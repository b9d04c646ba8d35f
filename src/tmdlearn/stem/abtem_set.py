"""Clean abTEM multislice images recorded as a real microscope records them.

The sets ``benchmarks/stem_abtem.py`` writes (``{material}-{index:03d}.npz``: the clean image on
a grid at the model's pixel size, the probe and scan drawn for it, the true columns) are read
by :func:`load_set`; :func:`record` puts one through tmdlearn's microscope artefact chain
(:mod:`tmdlearn.synth.microscope`, as ``_render_real`` in :mod:`tmdlearn.synth.stem` does): a
native pixel size (``native_ratio`` × the model's), the scan of the image's drawn microscope
(:func:`~tmdlearn.synth.microscope.draw_scan` of a 512-line frame, of which the image is the
first columns of the middle lines), a background and contamination (the simulator's default
ranges), and the detector at a dose (mean electrons on a reference column: C for graphene, the
metal, W or Mo, for a TMD); the truth is mapped to the image through the scan.
``benchmarks/stem_real.py`` scores the models on the held-out set this way.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data.containers import StemImage
from tmdlearn.synth.haadf import smooth_field, with_background
from tmdlearn.synth.microscope import detect, draw, draw_scan, sample_grid
from tmdlearn.synth.stem import StemSimConfig

#: Final images are FINAL_PX model pixels wide (the clean grid is larger: distorted scans stay
#: inside it), matching stem_abtem.py.
FINAL_PX = 96
#: Lines (and pixels per line) of the whole frame a recorded image is cut from: the image is
#: its first n columns of its middle n lines (fly-back included), so the scan's slow drift
#: has the correlation length of a real frame (FRAME_PX / 6 lines), not of a small image.
FRAME_PX = 512
#: The root seed of the held-out sets (``benchmarks/data/abtem-heldout``): never trained on.
HELDOUT_SEED = 18


def load_set(folder: Path) -> list[dict]:
    """The abTEM images in ``folder`` (``*.npz`` of ``benchmarks/stem_abtem.py``), in name
    order.

    Parameters
    ----------
    folder : Path
        A set's folder.

    Returns
    -------
    list of dict
        Each file's arrays, with its ``name`` (file stem) and ``material``.
    """
    items = []
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as npz:
            item = {k: npz[k] for k in npz.files}
        item["name"] = path.stem
        item["material"] = json.loads(str(item["structure"]))["material"]
        items.append(item)
    return items


def _reference(item: dict, clean: np.ndarray) -> float:
    """Clean intensity at a reference column (median over the C or metal columns' centres)."""
    pix = float(item["pixel_angstrom"])
    rows, cols = np.round(item["y_angstrom"] / pix), np.round(item["x_angstrom"] / pix)
    n = clean.shape[0]
    ok = (item["species"] == 0) & (rows >= 0) & (rows < n) & (cols >= 0) & (cols < n)
    return float(np.median(clean[rows[ok].astype(int), cols[ok].astype(int)]))


#: ``--ideal``: a perfect scan and detector (Poisson counting only) at the model's pixel size,
#: no background or contamination: what is left is the specimen and probe physics.
IDEAL = {"scale_x": 0.0, "scale_y": 0.0, "shear": 0.0, "jitter_angstrom": 0.0,
         "drift_angstrom": 0.0, "flyback_px": 0.0, "line_gain": 0.0, "gamma": 1.0,
         "readout_sigma": 0.0, "pulse_shape": 1e6}


#: The truth positions of the held-out columns: where the few frozen-phonon configurations of
#: each image put them (``stem_abtem.phonon_mean_xy``), not the lattice sites.
TRUTH = "_phonon_angstrom"


def record(item: dict, dose: float, rng: np.random.Generator, ideal: bool = False,
           native_ratio: tuple[float, float] | None = None,
           column_gamma: float | tuple[float, float] = 1.0
           ) -> tuple[StemImage, pd.DataFrame, dict]:
    """A clean abTEM image recorded at ``dose`` (module doc).

    Parameters
    ----------
    item : dict
        One image of :func:`load_set`.
    dose : float
        Mean electrons on a reference column (C, W).
    rng : Generator
        Draws the native pixel, scan noise, background, contamination and counts.
    ideal : bool
        Record it with a perfect microscope instead (:data:`IDEAL`) at the model's pixel.
    native_ratio : (float, float), optional
        Range of the native pixel over the model's (default the simulator's); ``(1, 1)``
        records at the model's pixel size.
    column_gamma : float or (lo, hi)
        Power of the columns' own contrast (the simulator's ``column_gamma``; 1: as abTEM
        gives it).

    Returns
    -------
    image : StemImage
        At its native pixel size.
    truth : DataFrame
        x_px, y_px, layer, species, n_se of the columns on the image's grid.
    drawn : dict
        The image's name, native pixel (Å), dose, scan positions, probe (C10, C12; Å) and
        column gamma.
    """
    chain = ({"native_ratio": (1.0, 1.0), "background": 0.0, "contamination": 0.0} if ideal
             else {"native_ratio": native_ratio} if native_ratio else {})
    sim = StemSimConfig(material=item["material"], column_gamma=column_gamma, **chain)
    micro = json.loads(str(item["microscope"])) | {"dose": float(dose)} | (IDEAL if ideal
                                                                           else {})
    clean = item["image"].astype(float)
    pix, size = float(item["pixel_angstrom"]), clean.shape[0]
    ratio = draw(rng, sim.native_ratio, log=True)
    n_native = max(16, int(round(FINAL_PX / ratio)))
    p_native = pix * FINAL_PX / n_native
    frame = draw_scan(FRAME_PX, p_native, micro, rng)
    r0 = (FRAME_PX - n_native) // 2
    window = (slice(r0, r0 + n_native), slice(0, n_native))
    sx, sy = (v[window] for v in frame.positions())
    ox, oy = sx.mean(), sy.mean()
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pix), np.fft.rfftfreq(size, pix),
                              indexing="ij"))
    drawn = {"name": item["name"], "native_pixel_angstrom": p_native, "dose": float(dose)}
    signal = with_background(clean / _reference(item, clean),
                             smooth_field(rng, size, q, sim.contamination_scale_angstrom), sim,
                             rng, drawn)
    image = detect(sample_grid(signal, pix, sx - ox, sy - oy), micro, rng)
    centre = (size - 1) / 2 * pix
    x, y = frame.pixels(item[f"x{TRUTH}"] - centre + ox, item[f"y{TRUTH}"] - centre + oy)
    y = y - r0
    inside = (x >= -0.5) & (x < n_native - 0.5) & (y >= -0.5) & (y < n_native - 0.5)
    truth = pd.DataFrame({"x_px": x[inside], "y_px": y[inside],
                          "layer": item["layer"][inside].astype(int),
                          "species": item["species"][inside].astype(int),
                          "n_se": item["n_se"][inside].astype(int)})
    drawn |= {"scan_x": sx - ox, "scan_y": sy - oy,
              "probe": {k: round(float(micro[k]), 1) for k in ("C10", "C12")}}
    return StemImage(image, p_native, metadata=drawn), truth, drawn


def training_batch(items: list[dict], sim: StemSimConfig, rng: np.random.Generator,
                   count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` abTEM images recorded at the model's pixel size with their label disks, for
    training beside the simulator (``stem train`` config ``abtem``).

    Each is a random item of ``items`` recorded (:func:`record`) at a dose drawn log-uniformly
    over the simulator's microscope dose range, with its ``column_gamma``, its label disks drawn as
    :func:`tmdlearn.synth.stem.simulate_image` draws them (radius
    ``sim.label_radius_angstrom``; channel = layer × species + species).

    Parameters
    ----------
    items : list of dict
        Images of :func:`load_set`, of ``sim``'s material and pixel size.
    sim : StemSimConfig
        The training simulator's config.
    rng : Generator
        Draws the items and their recordings.
    count : int
        Images in the batch.

    Returns
    -------
    images : (count, FINAL_PX, FINAL_PX) float32 array
        Detector counts.
    labels : (count, layers * species, FINAL_PX, FINAL_PX) uint8 array
        Label disks.
    """
    from tmdlearn.raster import disk_masks
    from tmdlearn.synth.microscope import MicroscopeConfig
    from tmdlearn.synth.stem import N_LAYERS

    doses = MicroscopeConfig.from_dict(sim.microscope or {}).dose
    species = len(sim.species)
    images, labels = [], []
    for _ in range(count):
        item = items[int(rng.integers(len(items)))]
        image, truth, _ = record(item, draw(rng, doses, log=True), rng, native_ratio=(1.0, 1.0),
                                 column_gamma=sim.column_gamma)
        images.append(image.intensity.astype(np.float32))
        labels.append(disk_masks(image.shape, truth.x_px.to_numpy(), truth.y_px.to_numpy(),
                                 (truth.layer * species + truth.species).to_numpy(),
                                 N_LAYERS * species,
                                 sim.label_radius_angstrom / image.pixel_size_angstrom))
    return np.stack(images), np.stack(labels).astype(np.uint8)
