"""Fast paths of the AFM code against the library calls they replace, side by side."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.feature import blob_dog, canny, peak_local_max
from skimage.morphology import black_tophat, closing, dilation, disk, erosion, h_maxima

from tmdlearn.afm import edges, shifts
from tmdlearn.afm.blobs import count_dog_blobs, local_maxima
from tmdlearn.afm.gauss import gaussian_filter
from tmdlearn.afm.level import histogram_counts
from tmdlearn.afm.maxima import count_h_maxima


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


def _h_maxima_cases():
    rng = np.random.default_rng(6)
    yield np.zeros((5, 5)), 0.5  # flat: none
    yield np.pad(np.ones((3, 3)), 2), 0.5  # one plateau
    yield rng.random((23, 31)), 0.3  # rough: many maxima
    for sigma in (1.0, 3.0):
        yield ndimage.gaussian_filter(rng.normal(size=(64, 80)), sigma), 0.05
    yield np.round(ndimage.gaussian_filter(rng.normal(size=(60, 60)), 2) * 20), 2.0  # plateaus
    spots = ndimage.gaussian_filter(rng.normal(size=(128, 128)), 4) > 0.02  # domain masks
    for h in (0.7, 1.5, 3.0):
        yield ndimage.distance_transform_edt(spots), h


def test_count_h_maxima_equals_scikit_image():
    for image, h in _h_maxima_cases():
        labels, expected = ndimage.label(h_maxima(image, h), structure=np.ones((3, 3)))
        assert count_h_maxima(image, h) == expected


@pytest.mark.parametrize("seed", range(4))
def test_dog_blob_count_equals_scikit_image(seed):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.normal(size=(96, 120)), 1.0) * 2
    image[30:40, 50:58] += 1.5  # a plateau among bumps
    for low, high, threshold in ((1.0, 4.0, 0.1), (0.5, 8.0, 0.05), (2.0, 3.0, 0.2)):
        expected = len(blob_dog(image, min_sigma=low, max_sigma=high, threshold=threshold,
                                exclude_border=False))
        assert count_dog_blobs(image, low, high, threshold) == expected


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_gaussian_filter_is_bit_identical_to_scipy(mode):
    rng = np.random.default_rng(7)
    for shape in ((64, 64), (37, 90), (9, 200)):
        image = rng.normal(size=shape) * 3 + 1
        for sigma in (0.7, 1.0, 2.0, 4.096):
            np.testing.assert_array_equal(gaussian_filter(image, sigma, mode),
                                          ndimage.gaussian_filter(image, sigma, mode=mode))


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_canny_equals_scikit_image(sigma):
    rng = np.random.default_rng(8)
    terraces = np.cumsum(rng.random((90, 110)) < 0.02, axis=1) * 0.3
    for image in (terraces + rng.normal(0, 0.05, terraces.shape),
                  ndimage.gaussian_filter(rng.normal(size=(70, 64)), 1.5) * 5,
                  rng.normal(size=(12, 15))):
        expected = canny(image, sigma=sigma)
        assert expected.any()
        np.testing.assert_array_equal(edges.canny(image, sigma), expected)


def test_smoothed_ones_equals_scipy():
    for shape in ((64, 80), (17, 40), (5, 5)):
        np.testing.assert_array_equal(edges._smoothed_ones(shape, 2.0), ndimage.gaussian_filter(
            np.ones(shape), 2.0, mode="constant"))


def test_local_maxima_equal_peak_local_max_in_order():
    rng = np.random.default_rng(9)
    cube = ndimage.gaussian_filter(rng.normal(size=(40, 50, 3)), (2, 2, 0))
    cube[5:8, 5:8, :] = cube.max()  # a plateau: ties kept in array order
    for threshold in (0.0, 0.05):
        expected = peak_local_max(cube, threshold_abs=threshold, exclude_border=False,
                                  footprint=np.ones((3, 3, 3)))
        np.testing.assert_array_equal(local_maxima(cube, threshold), expected)
    assert len(local_maxima(np.zeros((4, 4, 3)), -1.0)) == 0


def test_sobel_pair_is_bit_identical_to_scipy():
    rng = np.random.default_rng(10)
    for image in (rng.normal(size=(33, 47)), ndimage.gaussian_filter(rng.normal(size=(64, 64)), 2)):
        di, dj = edges.sobel_pair(image)
        np.testing.assert_array_equal(di, ndimage.sobel(image, axis=0))
        np.testing.assert_array_equal(dj, ndimage.sobel(image, axis=1))


def test_histogram_counts_equal_numpy():
    rng = np.random.default_rng(11)
    edges = np.arange(-3.0, 3.0 + 0.01, 0.01)
    values = np.concatenate([rng.normal(0, 1.5, 20000), edges, [edges[-1], 7.0, -7.0]])
    np.testing.assert_array_equal(histogram_counts(values, edges), np.histogram(values, edges)[0])
