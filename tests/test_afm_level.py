"""Levelling on synthetic height maps with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.afm.level import (
    align_rows,
    clip_height,
    flatten_lines,
    flatten_two_pass,
    level,
    plane_fit,
    remove_scars,
    resize_image,
    substrate_level,
    zero_height,
)
from tmdlearn.data import HeightMap
from tmdlearn.errors import InputError

N = 128
Y, X = np.mgrid[0:N, 0:N].astype(float)


def _film(step=0.65, coverage_cols=64):
    """Substrate at 0 nm with a film stripe of ``step`` nm over the right columns, plus an
    island."""
    h = np.zeros((N, N))
    h[:, N - coverage_cols:] = step
    h[20:40, 10:40] = step
    return h


def test_plane_fit_removes_a_tilted_plane_exactly():
    tilt = 0.3 + 0.01 * X - 0.02 * Y
    np.testing.assert_allclose(plane_fit(tilt), 0.0, atol=1e-10)


def test_masked_plane_fit_ignores_raised_features():
    film = _film()
    out = plane_fit(film + 0.01 * X + 0.005 * Y, mask=film > 0.3)
    np.testing.assert_allclose(out, film, atol=1e-9)  # substrate back at exactly 0
    assert not np.allclose(plane_fit(film + 0.01 * X), film, atol=0.05)  # unmasked is biased


@pytest.mark.parametrize("order", [0, 1, 2])
def test_flatten_lines_removes_per_line_polynomials_of_its_order(order):
    rng = np.random.default_rng(order)
    x = np.linspace(-1, 1, N)
    coef = rng.normal(0, 1, (N, order + 1))
    lines = coef @ np.vander(x, order + 1, increasing=True).T
    np.testing.assert_allclose(flatten_lines(lines, order), 0.0, atol=1e-8)
    if order > 0:  # one order lower is not enough
        assert np.abs(flatten_lines(lines, order - 1)).max() > 0.01


def test_flatten_lines_with_mask_keeps_the_film_step():
    film = _film()
    offsets = np.random.default_rng(1).normal(0, 0.3, N)[:, None]
    out = flatten_lines(film + offsets + 0.002 * X, 1, mask=film > 0.3)
    np.testing.assert_allclose(out, film, atol=1e-8)


def test_align_rows_difference_is_insensitive_to_features():
    film = _film(coverage_cols=40)
    offsets = np.random.default_rng(2).normal(0, 0.2, N)[:, None]
    out = align_rows(film + offsets, "difference")
    np.testing.assert_allclose(out - out[0, 0], film - film[0, 0], atol=1e-9)
    # Median alignment is right where film covers less than half a row, biased where more.
    median = align_rows(film + offsets)
    np.testing.assert_allclose(median[60:], film[60:], atol=1e-9)
    np.testing.assert_allclose(median[20:40] - film[20:40], -0.65, atol=1e-9)


def test_two_pass_levels_a_film_with_tilt_bow_and_line_offsets():
    rng = np.random.default_rng(3)
    film = _film(coverage_cols=90)  # 70 % coverage: most lines mostly film
    u, v = X / N - 0.5, Y / N - 0.5
    raw = (film + 0.8 * u - 0.5 * v + 1.5 * (u**2 + v**2) + rng.normal(0, 0.1, N)[:, None]
           + rng.normal(0, 0.02, (N, N)))
    out = level(raw)
    assert abs(np.median(out[film == 0])) < 0.02  # substrate at 0
    assert abs(np.median(out[film > 0]) - 0.65) < 0.03  # the step survives
    assert np.std(out[film > 0]) < 0.05
    one_pass = flatten_lines(plane_fit(raw), 2)
    assert np.std(out[film > 0]) < np.std(one_pass[film > 0])
    assert flatten_two_pass(raw).shape == raw.shape


def test_remove_scars_fixes_a_streak_but_keeps_a_domain():
    rng = np.random.default_rng(4)
    h = rng.normal(0, 0.02, (N, N))
    h[60:62, 20:80] += 1.2  # a 2-line scar, 60 px long
    h[90:110, 30:70] += 1.0  # a real domain, 20 lines tall
    out = remove_scars(h)
    assert np.abs(out[60:62, 20:80]).max() < 0.15
    np.testing.assert_array_equal(out[90:110], h[90:110])


def test_zero_clip_resize_and_substrate_level():
    film = _film() + 2.0
    assert substrate_level(film) == pytest.approx(2.0, abs=0.02)
    assert np.median(zero_height(film)) == pytest.approx(np.median(film) - np.median(film))
    assert zero_height(film, stat="min").min() == 0
    assert clip_height(np.array([[-3.0, 0.5, 4.0]])).tolist() == [[-1.5, 0.5, 1.5]]
    small = resize_image(film, 32)
    assert small.shape == (32, 32) and small.max() <= film.max() + 1e-9


def test_level_returns_a_heightmap_for_a_heightmap():
    hm = HeightMap(_film() + 0.01 * X, 2.0)
    out = level(hm)
    assert isinstance(out, HeightMap) and out.pixel_size_nm == 2.0
    assert abs(np.median(out.height_nm[_film() == 0])) < 0.02


def test_bad_arguments_are_input_errors():
    with pytest.raises(InputError):
        flatten_lines(np.zeros((8, 8)), order=3)
    with pytest.raises(InputError):
        level(np.zeros((8, 8)), method="magic")
    with pytest.raises(InputError):
        plane_fit(np.zeros(8))
    with pytest.raises(InputError):
        clip_height(np.zeros((2, 2)), 0)
