"""Shared check of the interop round trips: same container, data, axes and units exactly."""

from __future__ import annotations

import numpy as np


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
