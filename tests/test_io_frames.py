"""A STEM series made one image: frames registered to the first and averaged
(tmdlearn.io.frames), against drifts and noise planted on a simulated image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from dm_files import DmWriter, write_dm
from tmdlearn.errors import InputError
from tmdlearn.io import read
from tmdlearn.io.frames import combine_frames
from tmdlearn.synth.stem import StemSimConfig, simulate_image

#: Planted drift of each frame (dy, dx), px: the specimen moves by this between frames.
DRIFTS = np.array([[0, 0], [0.6, -1.3], [1.7, -2.2], [2.4, -3.9], [3.1, -4.6], [4.3, -5.2]])
CROP = slice(12, 108)


def _series(counts_per_frame: float, seed: int = 3):
    """A clean simulated image (its central 96 px) and noisy frames of it drifting by
    :data:`DRIFTS`."""
    clean = simulate_image(StemSimConfig(size_px=120), seed=seed).image.astype(float)
    clean = clean / clean.max()
    rng = np.random.default_rng(seed)
    frames = [rng.poisson(counts_per_frame * np.clip(ndimage.shift(clean, d, order=3), 0, None))
              [CROP, CROP] for d in DRIFTS]
    return clean[CROP, CROP], np.array(frames, float)


def test_mean_recovers_the_drift_and_beats_one_frame():
    clean, stack = _series(counts_per_frame=4.0)
    mean, meta = combine_frames(None, stack, "mean")
    # the shift that moves each frame onto the first undoes its drift
    np.testing.assert_allclose(meta["frame_shifts_px"], -DRIFTS, atol=1.2)  # 4 counts a frame
    margin = meta["frames_cropped_px"]
    assert margin == 6 and mean.shape == (96 - 12, 96 - 12)
    inner = clean[margin:-margin, margin:-margin]
    first = stack[0][margin:-margin, margin:-margin]
    r_first = np.corrcoef(first.ravel(), inner.ravel())[0, 1]
    r_mean = np.corrcoef(mean.ravel(), inner.ravel())[0, 1]
    assert r_mean > r_first + 0.1, (r_first, r_mean)
    # an unregistered average blurs the lattice: worse than the registered one
    r_plain = np.corrcoef(stack.mean(0)[margin:-margin, margin:-margin].ravel(),
                          inner.ravel())[0, 1]
    assert r_mean > r_plain + 0.1, (r_plain, r_mean)


def test_first_is_the_first_frame_and_choices_are_checked():
    _, stack = _series(counts_per_frame=50.0)
    first, meta = combine_frames(None, stack, "first")
    np.testing.assert_array_equal(first, stack[0])
    assert meta == {"frames": len(DRIFTS)}
    with pytest.raises(InputError, match="frames must be one of first, mean, got 'sum'"):
        combine_frames(None, stack, "sum")


def test_a_dm_stack_read_as_its_registered_mean(tmp_path):
    _, stack = _series(counts_per_frame=50.0)
    w = DmWriter(4)
    path = write_dm(tmp_path / "series.dm4", w.image(stack.astype(np.float32)), writer=w)
    image = read(path, frames="mean")
    assert image.metadata["frames_averaged"] == len(DRIFTS)
    np.testing.assert_allclose(image.metadata["frame_shifts_px"], -DRIFTS, atol=0.4)
    assert read(path).metadata["frames"] == len(DRIFTS) and read(path).shape == (96, 96)


def test_a_jump_beyond_a_quarter_of_the_field_is_refused(tmp_path):
    """(An aperiodic field: a lattice shifted by a lattice vector is the same image, which no
    registration can tell.)"""
    field = ndimage.gaussian_filter(np.random.default_rng(1).normal(size=(200, 200)), 4)
    stack = np.stack([field[50:146, 50:146], field[50:146, 20:116],  # 30 px of a 96 px field
                      field[50:146, 50:146]])
    with pytest.raises(InputError, match="frame 2 of 3 registers (29|30) px off the first"):
        combine_frames(tmp_path / "s.dm4", stack, "mean")


def test_a_multipage_tiff_series_read_as_its_registered_mean(tmp_path):
    """An ImageJ TIFF of frames (pages of one shape), as a series is often exported."""
    import tifffile

    _, stack = _series(counts_per_frame=50.0)
    path = tmp_path / "series.tif"
    tifffile.imwrite(path, stack.astype(np.float32), imagej=True, resolution=(100.0, 100.0),
                     metadata={"unit": "nm", "axes": "TYX"})
    first = read(path)
    np.testing.assert_array_equal(first.intensity, stack[0])
    assert first.metadata["frames"] == len(DRIFTS) and first.pixel_size_angstrom == \
        pytest.approx(0.1)
    image = read(path, frames="mean")
    np.testing.assert_allclose(image.metadata["frame_shifts_px"], -DRIFTS, atol=0.4)
