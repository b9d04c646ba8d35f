"""Shared check of the interop round trips: same container, data, axes and units exactly."""

from __future__ import annotations

import numpy as np

from tmdlearn.data.containers import SpectralMap

#: Raman shift axis of :func:`mos2_map`, cm⁻¹.
MOS2_AXIS = np.linspace(340.0, 490.0, 151)


def assert_same_container(item, back) -> None:
    """``back`` is ``item`` again: type, values and axis (max abs difference 0), units, grid,
    pixel size, excitation and channel equal."""
    assert type(back) is type(item)
    for name in ("intensity", "height_nm", "axis"):
        if hasattr(item, name):
            assert np.max(np.abs(getattr(back, name) - getattr(item, name))) == 0, name
    for name in ("unit", "step_um", "origin_um", "excitation_nm", "pixel_size_nm",
                 "pixel_size_angstrom", "channel"):
        if hasattr(item, name):
            assert getattr(back, name) == getattr(item, name), name


def lorentz(x, center, fwhm, height):
    return height / (1 + ((x - center) / (fwhm / 2)) ** 2)


def mos2_map(rng: np.random.Generator, ny: int = 4, nx: int = 5) -> SpectralMap:
    """A MoS2 Raman map with planted centres: E2g 385 + 0.2 x, A1g 404 + 0.3 y cm⁻¹ (x, y
    pixel indices), noise σ 5 counts; step 0.7 µm, origin (-3.1, 12.25) µm, laser 532 nm."""
    e2g = 385.0 + 0.2 * np.arange(nx)[None, :] + np.zeros((ny, 1))
    a1g = 404.0 + 0.3 * np.arange(ny)[:, None] + np.zeros((1, nx))
    cube = (lorentz(MOS2_AXIS, e2g[..., None], 3.0, 800.0)
            + lorentz(MOS2_AXIS, a1g[..., None], 4.0, 1000.0)
            + lorentz(MOS2_AXIS, 455.0, 12.0, 200.0) + 50.0
            + rng.normal(0, 5, (ny, nx, MOS2_AXIS.size)))
    return SpectralMap(cube, MOS2_AXIS, "cm-1", 0.7, 532.0, origin_um=(-3.1, 12.25),
                       metadata={"title": "flake 1", "positions": np.arange(3)})
