"""The simulator's real microscope against known answers: optics, scan geometry, detector."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from tmdlearn.errors import InputError
from tmdlearn.synth.haadf import airy_otf, amorphous_carbon
from tmdlearn.synth.microscope import (
    MicroscopeConfig,
    chi,
    detect,
    draw_microscope,
    draw_scan,
    electron_wavelength_angstrom,
    probe_intensity,
    probe_otf,
)
from tmdlearn.synth.stem import StemSimConfig, simulate_image

#: A microscope with every artefact off: perfect probe, no scan distortion, linear detector.
PERFECT = {"defocus_angstrom": 0.0, "astigmatism_angstrom": 0.0, "coma_angstrom": 0.0,
           "threefold_angstrom": 0.0, "spherical_angstrom": 0.0, "source_fwhm_angstrom": 0.0,
           "dose": 1e6, "scan_scale": 0.0, "scan_shear": 0.0, "jitter_angstrom": 0.0,
           "drift_angstrom": 0.0, "flyback_px": 0.0, "line_gain": 0.0, "gamma": 1.0,
           "readout_sigma": 0.0, "dark_offset": 0.0, "energy_kev": 80.0,
           "convergence_mrad": 30.0, "fill": 0.5}


def _perfect(**changes) -> dict[str, float]:
    return draw_microscope(MicroscopeConfig.from_dict({**PERFECT, **changes}),
                           np.random.default_rng(0))


def test_wavelength_at_80_and_60_kv():
    # textbook relativistic values: 0.04176 Å at 80 kV, 0.04866 Å at 60 kV
    assert electron_wavelength_angstrom(80) == pytest.approx(0.04176, abs=2e-5)
    assert electron_wavelength_angstrom(60) == pytest.approx(0.04866, abs=2e-5)


def test_perfect_probe_is_the_airy_probe():
    p = _perfect()
    size, pixel = 256, 0.1
    otf = probe_otf(probe_intensity(size, pixel, p), pixel, p).real
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size, pixel), np.fft.rfftfreq(size, pixel),
                              indexing="ij"))
    cutoff = 2 * 30e-3 / electron_wavelength_angstrom(80)
    assert np.abs(otf - airy_otf(q, cutoff)).max() < 0.03


def test_chi_defocus_and_spherical_terms():
    p = _perfect(defocus_angstrom=50.0, spherical_angstrom=1e4)
    wavelength = electron_wavelength_angstrom(80)
    k = np.array([0.3, 0.7])
    alpha = wavelength * k
    expected = np.pi / wavelength * 50.0 * alpha**2 + np.pi / (2 * wavelength) * 1e4 * alpha**4
    assert np.allclose(chi(k, np.zeros(2), p), expected)


def test_aberrations_blur_the_probe():
    sharp = probe_otf(probe_intensity(256, 0.1, _perfect()), 0.1, _perfect()).real
    bad = _perfect(defocus_angstrom=40.0, coma_angstrom=600.0)
    blurred = probe_otf(probe_intensity(256, 0.1, bad), 0.1, bad)
    # less transfer at mid frequencies (here 0.5-1 1/Å: atomic spacings 1-2 Å)
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(256, 0.1), np.fft.rfftfreq(256, 0.1),
                              indexing="ij"))
    band = (q > 0.5) & (q < 1.0)
    assert np.abs(blurred[band]).mean() < 0.8 * sharp[band].mean()


def test_scan_pixels_invert_positions():
    cfg = MicroscopeConfig(jitter_angstrom=0.0, drift_angstrom=(0.3, 0.3), flyback_px=(3, 3),
                           flyback_decay_px=(8, 8), scan_scale=0.05, scan_shear=0.04)
    rng = np.random.default_rng(1)
    scan = draw_scan(128, 0.1, draw_microscope(cfg, rng), rng)
    x, y = scan.positions()
    j, i = scan.pixels(x.ravel(), y.ravel())
    jj, ii = np.meshgrid(np.arange(128), np.arange(128))
    assert np.abs(j - jj.ravel()).max() < 1e-3 and np.abs(i - ii.ravel()).max() < 1e-3


def test_detector_counting_statistics():
    # Poisson electrons with Gamma pulse heights: variance / mean = 1 + 1 / shape (in electrons)
    p = _perfect(dose=50.0, pulse_shape=4.0, fill=0.2, dark_offset=1000.0)
    counts = detect(np.ones((400, 400)), p, np.random.default_rng(2)) - 1000.0
    electrons = counts / counts.mean() * 50.0
    assert electrons.var() / electrons.mean() == pytest.approx(1.25, rel=0.05)
    assert counts.max() < 65535


def test_detector_saturation_clips_the_brightest_pixels():
    p = _perfect(dose=100.0, saturate=0.05)
    signal = np.random.default_rng(3).uniform(0, 1, (200, 200))
    counts = detect(signal, p, np.random.default_rng(4))
    assert (counts == counts.max()).mean() == pytest.approx(0.05, abs=0.01)


def _centroid_errors(sample, window: float = 3.0) -> np.ndarray:
    """Distance (px) from each isolated, interior true atom to the intensity centroid around it."""
    image, xy = sample.image.astype(float), sample.atoms[["x_px", "y_px"]].to_numpy()
    image = image - np.percentile(image, 20)
    dist, _ = cKDTree(xy).query(xy, k=2)
    n = image.shape[0]
    ok = (dist[:, 1] > 9) & (xy.min(axis=1) > 8) & (xy.max(axis=1) < n - 9)
    yy, xx = np.mgrid[:n, :n]
    errors = []
    for x, y in xy[ok]:
        w = np.clip(image, 0, None) * ((xx - x) ** 2 + (yy - y) ** 2 <= window**2)
        errors.append(np.hypot((w * xx).sum() / w.sum() - x, (w * yy).sum() / w.sum() - y))
    return np.asarray(errors)


@pytest.mark.parametrize("native_ratio, odd", [((1.0, 1.0), 0.0), ((0.7, 0.7), 0.0),
                                               ((1.4, 1.4), 0.0), ((1.0, 1.0), 500.0)])
def test_truth_follows_scan_distortion_resampling_and_probe(native_ratio, odd):
    # odd aberrations (coma, threefold) move the probe's maximum off the nominal beam position
    micro = {**PERFECT, "scan_scale": 0.05, "scan_shear": 0.04, "drift_angstrom": 0.3,
             "flyback_px": 3.0, "flyback_decay_px": 10.0, "coma_angstrom": odd,
             "threefold_angstrom": odd}
    cfg = StemSimConfig(material="ws2", pixel_size_angstrom=0.15, size_px=128, layers=1,
                        microscope=micro, native_ratio=native_ratio, hole_probability=0.0,
                        edge_probability=0.0, vacancy_fraction=0.0, contamination=0.0,
                        background=0.0, amorphous_coverage=(0.0, 0.0),
                        atom_sigma_angstrom=(0.1, 0.1), thermal_sigma_angstrom=0.0)
    errors = np.concatenate([_centroid_errors(simulate_image(cfg, seed)) for seed in range(3)])
    assert len(errors) > 40
    assert np.median(errors) < 0.25


def test_layers_present():
    mono = simulate_image(StemSimConfig(size_px=96, layers=1, microscope={}), 0)
    assert set(mono.atoms.layer) == {0} and not mono.labels[1].any()
    empty = simulate_image(StemSimConfig(size_px=96, layers=0, microscope={},
                                         amorphous_coverage=(1.0, 1.0)), 0)
    assert len(empty.atoms) == 0 and not empty.labels.any() and empty.image.std() > 0


@pytest.mark.parametrize("coverage", [0.3, 1.0])
def test_amorphous_carbon_density(coverage):
    # 0.1 atoms/Å³ (2 g/cm³) × thickness over the covered fraction of the area
    cfg = StemSimConfig(amorphous_coverage=(coverage, coverage),
                        amorphous_thickness_angstrom=(5.0, 5.0))
    counts = [len(amorphous_carbon(cfg, np.random.default_rng(seed), 30.0, 2.0)[0])
              for seed in range(20)]
    expected = 0.1 * 5.0 * 60.0**2 * coverage
    assert np.mean(counts) == pytest.approx(expected, rel=0.12)


def test_monolayer_probability():
    cfg = StemSimConfig(size_px=64, monolayer_probability=0.3)
    layers = [simulate_image(cfg, seed).params["layers"] for seed in range(200)]
    assert np.mean(np.asarray(layers) == 1) == pytest.approx(0.3, abs=0.08)


@pytest.mark.parametrize("n, n_metal, tied", [(1.6, 1.6, False), (1.6, 1.3, False),
                                              (1.6, 1.3, True)])
def test_metal_weight_against_the_chalcogens(n, n_metal, tied):
    # a W column weighs Z_S^n (Z_W / Z_S)^n_W against an S2 column's 2 Z_S^n; tied: n_W = n - offset
    metal = ({"metal_z_offset": (n - n_metal, n - n_metal)} if tied
             else {"metal_z_exponent": (n_metal, n_metal)})
    cfg = StemSimConfig(material="ws2", pixel_size_angstrom=0.1, size_px=160, layers=1,
                        se_scenario="none", z_exponent=(n, n), **metal,
                        dose=1e7, background=0.0, contamination=0.0, hole_probability=0.0,
                        edge_probability=0.0, vacancy_fraction=0.0, thermal_sigma_angstrom=0.0,
                        atom_sigma_angstrom=(0.05, 0.05), convergence_mrad=(35.0, 35.0))
    sample = simulate_image(cfg, 0)
    atoms = sample.atoms[(sample.atoms.x_px > 8) & (sample.atoms.x_px < 151)
                         & (sample.atoms.y_px > 8) & (sample.atoms.y_px < 151)]
    peak = sample.image[np.round(atoms.y_px).astype(int), np.round(atoms.x_px).astype(int)]
    ratio = peak[atoms.species.to_numpy() == 0].mean() / peak[atoms.species.to_numpy() == 1].mean()
    assert ratio == pytest.approx((74 / 16) ** n_metal / 2, rel=0.12)


def test_metal_exponent_and_offset_exclude_each_other():
    with pytest.raises(InputError, match="not both"):
        StemSimConfig(material="ws2", metal_z_exponent=(1.3, 1.3), metal_z_offset=(0.3, 0.3))


def test_scan_wander_belongs_to_the_frame_not_the_crop():
    # the rms line-to-line change of the wander of a 96-line crop is that of a 512-line frame
    cfg = MicroscopeConfig(drift_angstrom=(0.3, 0.3))
    steps = {}
    for n in (96, 512):
        diffs = []
        for seed in range(40):
            rng = np.random.default_rng(seed)
            scan = draw_scan(n, 0.1, draw_microscope(cfg, rng), rng)
            diffs.append(np.diff(scan.wander_x))
        steps[n] = np.sqrt(np.mean(np.concatenate(diffs) ** 2))
    assert steps[96] == pytest.approx(steps[512], rel=0.25)
