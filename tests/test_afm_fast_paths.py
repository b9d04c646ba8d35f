"""Fast paths of the AFM code against the library calls they replace, side by side."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import black_tophat, closing, dilation, disk, erosion

from tmdlearn.afm import shifts


def _images():
    """Smooth and rough float images, integer plateaus and sparse binary masks."""
    rng = np.random.default_rng(3)
    smooth = ndimage.gaussian_filter(rng.normal(size=(61, 47)), 2.0)
    rough = rng.normal(size=(40, 53))
    steps = np.round(ndimage.gaussian_filter(rng.normal(size=(50, 50)), 3) * 8).clip(-1, 1)
    return [smooth, rough, steps]


@pytest.mark.parametrize("radius", [1, 2])
def test_diamond_grey_morphology_equals_scikit_image(radius):
    for a in _images():
        np.testing.assert_array_equal(shifts.grey_dilate_diamond(a, radius),
                                      dilation(a, disk(radius)))
        np.testing.assert_array_equal(shifts.grey_erode_diamond(a, radius),
                                      erosion(a, disk(radius)))
        closed = shifts.grey_erode_diamond(shifts.grey_dilate_diamond(a, radius), radius)
        np.testing.assert_array_equal(closed, closing(a, disk(radius)))
        np.testing.assert_array_equal(closed - a, black_tophat(a, disk(radius)))


def test_window_nonconstant_equals_morphological_gradient():
    for a in _images():
        np.testing.assert_array_equal(shifts.window3_nonconstant(a),
                                      ndimage.morphological_gradient(a, size=3) > 0)


@pytest.mark.parametrize("iterations", [1, 3])
def test_binary_cross_morphology_equals_scipy(iterations):
    rng = np.random.default_rng(4)
    for density in (0.02, 0.5, 0.97):
        mask = rng.random((45, 38)) < density
        np.testing.assert_array_equal(shifts.dilate_cross(mask, iterations),
                                      ndimage.binary_dilation(mask, iterations=iterations))
        for border in (False, True):
            np.testing.assert_array_equal(
                shifts.erode_cross(mask, iterations, border),
                ndimage.binary_erosion(mask, iterations=iterations, border_value=border))


@pytest.mark.parametrize("min_length", [1, 3, 16])
def test_long_row_runs_equal_labelled_runs(min_length):
    rng = np.random.default_rng(5)
    mask = rng.random((30, 70)) < 0.8
    mask[3, :] = True  # a run spanning the whole row
    labels, _ = ndimage.label(mask, structure=[[0, 0, 0], [1, 1, 1], [0, 0, 0]])
    sizes = np.bincount(labels.ravel())
    expected = (sizes[labels] >= min_length) & mask
    np.testing.assert_array_equal(shifts.long_row_runs(mask, min_length), expected)
