"""Preprocessing against planted answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tmdlearn.errors import InputError
from tmdlearn.spectra import (
    anchor_baseline,
    background_mask,
    baseline,
    crop,
    despike_difference,
    despike_whitaker_hayes,
    normalise,
    resample,
)

X = np.linspace(300, 500, 400)


def clean(n=5, seed=0):
    rng = np.random.default_rng(seed)
    peak = 100 / (1 + ((X - 405) / 3) ** 2)
    return peak[None, :] + 20 + rng.normal(0, 0.5, (n, X.size))


@pytest.mark.parametrize("despike", [despike_difference, despike_whitaker_hayes])
def test_despiking_removes_planted_spikes_only(despike):
    y = clean()
    spiked = y.copy()
    spiked[0, 50] += 500
    spiked[3, 300] += 800
    out = despike(spiked)
    assert abs(out[0, 50] - y[0, 50]) < 3 and abs(out[3, 300] - y[3, 300]) < 3
    # the real peak (sharp, 100 counts) and clean spectra stay untouched
    np.testing.assert_array_equal(out[[1, 2, 4]], y[[1, 2, 4]])
    assert out[0].max() == pytest.approx(y[0].max())


def test_anchor_baseline_recovers_piecewise_line():
    anchors = [310, 380, 440, 490]
    levels = np.array([10.0, 30.0, 25.0, 5.0])
    truth = np.interp(X, anchors, levels)
    peak = 100 / (1 + ((X - 410) / 1.5) ** 2)
    found = anchor_baseline((truth + peak)[None, :], X, anchors, half_width=1.0)
    inside = (X >= 310) & (X <= 490)
    np.testing.assert_allclose(found[0, inside], truth[inside], atol=0.5)


def test_pybaselines_baseline_removes_smooth_background():
    bg = 0.002 * (X - 300) ** 2 + 10
    y = clean(2) + bg
    found = baseline(y, X, "imodpoly", poly_order=2)
    assert np.max(np.abs(found - (bg + 20))) < 2  # the background varies by 80
    with pytest.raises(InputError):
        baseline(y, X, "nonsense")


def test_normalise_crop_resample():
    y = clean(3)
    minmax = normalise(y, "minmax")
    assert np.allclose(minmax.min(1), 0) and np.allclose(minmax.max(1), 1)
    assert np.allclose(normalise(y, "max").max(1), 1)
    from scipy.integrate import trapezoid

    assert np.allclose(trapezoid(normalise(y, "area", X), X, axis=1), 1)
    assert np.isnan(normalise(np.ones((1, 5)), "minmax")).all()
    cropped, axis = crop(y, X, 360, 480)
    assert axis.min() >= 360 and axis.max() <= 480 and cropped.shape[1] == axis.size
    grid = np.linspace(360, 480, 202)  # the MoS2 study's 202-point window
    line = 3 * X + 1
    np.testing.assert_allclose(resample(line, X, grid)[0], 3 * grid + 1)
    assert np.isnan(resample(line, X, [250.0, 400.0])[0, 0])
    with pytest.raises(InputError):
        crop(y, X, 600, 700)


def test_background_mask_finds_planted_flake():
    rng = np.random.default_rng(1)
    cube = rng.normal(10, 1, (20, 24, 30))
    cube[6:14, 8:18] += 5
    mask = background_mask(cube, k=4, corner=3)
    expected = np.zeros((20, 24), dtype=bool)
    expected[6:14, 8:18] = True
    np.testing.assert_array_equal(mask, expected)


def test_despike_is_one_vocabulary_for_spectra_and_maps():
    from tmdlearn.errors import InputError
    from tmdlearn.spectra.preprocess import DESPIKE, despike, despike_difference, despike_map

    rng = np.random.default_rng(0)
    cube = rng.normal(100.0, 1.0, (6, 7, 80))
    cube[2, 3, 40] += 500.0                                 # a cosmic ray in one pixel
    assert DESPIKE == ("none", "difference", "whitaker-hayes", "map")
    np.testing.assert_array_equal(despike(cube, "map"), despike_map(cube))
    flat = despike(cube, "difference", 5.0)
    assert flat.shape == cube.shape and flat[2, 3, 40] < 110.0
    np.testing.assert_array_equal(flat.reshape(-1, 80),
                                  despike_difference(cube.reshape(-1, 80), 5.0))
    assert despike(cube, "none") is cube
    with pytest.raises(InputError, match="map needs a map"):
        despike(cube[0], "map")
    with pytest.raises(InputError, match="none, difference, whitaker-hayes, map"):
        despike(cube, "median")


@pytest.mark.parametrize(("unit", "model_unit", "hint"), [
    ("eV", "cm-1", "PL spectra? fit them with a PL model"),
    ("cm-1", "eV", "Raman spectra? fit them with a Raman model"),
    ("nm", "cm-1", "set read.excitation_nm"),
])
def test_a_spectrum_on_another_axis_than_the_model_says_what_to_do(unit, model_unit, hint):
    from tmdlearn.data.containers import Spectra
    from tmdlearn.spectra.prepare import in_model_unit

    axis = np.linspace(1.5, 2.0, 50) if unit == "eV" else np.linspace(500, 700, 50)
    spectra = Spectra(np.ones((1, 50)), axis, unit)
    with pytest.raises(InputError) as info:
        in_model_unit(spectra, model_unit, Path("s.txt"))
    assert hint in str(info.value)
