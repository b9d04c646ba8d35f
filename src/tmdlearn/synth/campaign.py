"""The MOCVD MoS2 growth campaign: per sample a growth recipe, per location (center, edge) a
film state, and the measurements of it (AFM 1 µm and 5 µm, Raman at several laser powers, PL),
written as instrument-style files with a manifest and the ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.io import write_height_map, write_labspec
from tmdlearn.progress import track
from tmdlearn.synth.dataset import check_count, write_tables
from tmdlearn.synth.film import LOCATIONS, film_state, render_afm, sample_growth
from tmdlearn.synth.optics import (
    RAMAN_EXCITATION_NM,
    local_spot,
    pl_spectrum,
    raman_spectrum,
    spot_environment,
)

LASER_POWERS_MW = (0.5, 1.0, 2.0)
#: Seed-sequence tag of the spot-environment draws ((seed, sample, location, tag)).
ENVIRONMENT_STREAM = 7


def write_mos2_campaign(out: str | Path, samples: int = 40, seed: int = 0, pixels: int = 512,
                        powers: tuple[float, ...] = LASER_POWERS_MW,
                        overview_every: int = 1) -> Path:
    """Write the campaign to ``out``: ``afm/*.npz``, ``raman/*.txt``, ``pl/*.txt`` (LabSpec 6
    text), ``manifest.csv`` and ``truth.csv``.

    Parameters
    ----------
    out : str or Path
        The dataset folder.
    samples : int
        Number of growth runs (wafers); each has a center and an edge location.
    seed : int
        The campaign's seed; sample ``i`` draws from ``(seed, i)`` and the environment of its
        spots from ``(seed, i, location, 7)``, so adding samples keeps the earlier ones unchanged.
    pixels : int
        AFM pixels per side of the 1 µm scans (the 5 µm overview scans use the same).
    powers : tuple of float
        Raman laser powers (mW), one spectrum each per location.
    overview_every : int
        A 5 µm AFM overview scan at the center of every n-th sample.

    Returns
    -------
    Path
        ``out``.
    """
    samples = check_count("samples", samples)
    pixels = check_count("pixels", pixels, 16)
    out = Path(out)
    manifest: list[dict] = []
    truth: list[dict] = []
    for index in track(range(samples), "MoS2 campaign", total=samples):
        rng = np.random.default_rng([seed, index])
        growth = sample_growth(rng)
        sample_id = f"S{index + 1:03d}"
        common = {"sample_id": sample_id, "material": "MoS2",
                  "growth_temperature_c": round(growth.temperature_c, 1),
                  "growth_mo_flux": round(growth.mo_flux, 4),
                  "growth_s_mo_ratio": round(growth.s_mo_ratio, 1),
                  "growth_time_min": round(growth.time_min, 1)}
        for place, location in enumerate(LOCATIONS):
            state = film_state(growth, location, rng)
            base = {**common, "location": location}
            state_cols = {f"state_{k}": v for k, v in state.to_dict().items()}
            scans = [1.0] + ([5.0] if location == "center" and index % overview_every == 0
                             else [])
            for scan in scans:
                height, afm_truth = render_afm(state, scan, pixels, rng)
                name = f"afm/{sample_id}_{location}_{scan:g}um.npz"
                write_height_map(out / name, height)
                manifest.append({**base, "modality": "afm", "file": name,
                                 "scan_size_um": scan})
                truth.append({"file": name, **base, "modality": "afm", **afm_truth})
            # The spot's environment has its own stream: the film and AFM draws stay as before.
            spot = local_spot(state, rng) | spot_environment(
                np.random.default_rng([seed, index, place, ENVIRONMENT_STREAM]))
            for power in powers:
                spectrum, peaks = raman_spectrum(state, power, rng, spot=spot)
                name = f"raman/{sample_id}_{location}_{power:g}mW.txt"
                write_labspec(out / name, spectrum, {"Title": f"{sample_id} {location}",
                                                     "Grating": "1800 gr/mm"})
                manifest.append({**base, "modality": "raman", "file": name,
                                 "laser_power_mw": power, "excitation_nm": RAMAN_EXCITATION_NM,
                                 "grating": 1800})
                truth.append({"file": name, **base, "modality": "raman", **state_cols, **peaks})
            spectrum, peaks = pl_spectrum(state, 0.5, rng, spot=spot)
            name = f"pl/{sample_id}_{location}.txt"
            write_labspec(out / name, spectrum, {"Title": f"{sample_id} {location}",
                                                 "Grating": "300 gr/mm"})
            manifest.append({**base, "modality": "pl", "file": name, "laser_power_mw": 0.5,
                             "excitation_nm": RAMAN_EXCITATION_NM, "grating": 300})
            truth.append({"file": name, **base, "modality": "pl", **state_cols, **peaks})
    return write_tables(out, manifest, truth)
