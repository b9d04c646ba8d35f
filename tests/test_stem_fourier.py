"""Lattices from the power spectrum against the planted twist, spacing and orientation."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.stem.fourier import angle_between, fft_lattices, fft_twist_deg, lattice_spacing_px
from tmdlearn.stem.lattice import fit_lattice
from tmdlearn.synth.stem import StemSimConfig, simulate_image

CLEAN = {"size_px": 256, "dose": 300.0, "magnification_jitter": 0.0, "hole_probability": 0.0,
         "edge_probability": 0.0}


@pytest.mark.parametrize("material, pixel, a, twist", [
    ("graphene", 0.1, 2.46, 12.0), ("graphene", 0.1, 2.46, 27.0), ("ws2", 0.15, 3.153, 18.0)])
def test_two_lattices_with_the_planted_twist_and_spacing(material, pixel, a, twist):
    cfg = StemSimConfig(material=material, pixel_size_angstrom=pixel, se_scenario="none",
                        **CLEAN)
    sample = simulate_image(cfg, 4, twist_deg=twist)
    found = fft_lattices(sample.image, pixel, a)
    assert len(found) == 2
    assert fft_twist_deg(found) == pytest.approx(twist, abs=1.0)
    for lattice in found:
        assert lattice.spacing_angstrom == pytest.approx(a * np.sqrt(3) / 2, rel=0.02)
    # the spots' orientations are the layers' bond orientations (mod 60°)
    for layer in (0, 1):
        xy = sample.atoms[sample.atoms.layer == layer][["x_px", "y_px"]].to_numpy()
        bond = np.degrees(fit_lattice(xy).angle_rad) % 60
        assert min(angle_between(bond, f.angle_deg) for f in found) < 1.0


def test_no_lattice_in_noise_or_amorphous_carbon():
    noise = np.random.default_rng(0).poisson(50, (256, 256))
    assert fft_lattices(noise, 0.1, 2.46) == []
    amorphous = simulate_image(StemSimConfig(size_px=256, layers=0, microscope={},
                                             amorphous_coverage=(1.0, 1.0)), 2)
    assert fft_lattices(amorphous.image, 0.1, 2.46) == []
    assert np.isnan(fft_twist_deg([]))


@pytest.mark.parametrize("material, a", [("graphene", 2.46), ("ws2", 3.153)])
def test_the_lattice_spacing_without_a_pixel_size_is_the_first_order_planes(material, a):
    """Simulated real-microscope bilayers at 0.09-0.11 Å/px: the strongest lattice found
    without the pixel size has the first-order plane spacing a √3 / 2 in pixels (the WS2
    layers' Vegard constants reach 3.28 Å)."""
    for seed in range(4):
        sample = simulate_image(StemSimConfig(material=material, size_px=256,
                                              se_scenario="none"), seed)
        lattice = lattice_spacing_px(sample.image)
        assert lattice is not None and lattice.spots >= 4
        assert lattice.spacing_angstrom * sample.pixel_size_angstrom == pytest.approx(
            a * np.sqrt(3) / 2, rel=0.02)
    assert lattice_spacing_px(np.random.default_rng(0).poisson(50, (256, 256))) is None


@pytest.mark.parametrize("name, pixel", [("dataset_mose2_40KeV_converted.npz", 0.1368),
                                         ("MoSe2_80K_samll_region.tif", 0.078)])
def test_the_lattice_spacing_of_real_tmd_monolayers(shared_data, name, pixel):
    """Real MoSe2 (a = 3.29 Å) at 40 and 80 kV, whose files store no pixel size (the folder's
    README gives it from the lattice): the first-order planes, 2.85 Å apart, within 5 %."""
    from tmdlearn.io import read

    image = read(shared_data / "stem-real-tmd" / name, modality="stem",
                 pixel_size_angstrom=1.0).intensity
    lattice = lattice_spacing_px(image)
    assert lattice is not None and lattice.spots == 6
    assert lattice.spacing_angstrom * pixel == pytest.approx(3.29 * np.sqrt(3) / 2, rel=0.05)
