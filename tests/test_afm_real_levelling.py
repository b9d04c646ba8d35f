"""Levelling of real AFM scans: a bare substrate stays flat, and a scan line that only a short
stretch of usable pixels constrains is not thrown off by an extrapolated polynomial."""

from __future__ import annotations

import numpy as np

from tmdlearn.afm.level import flatten_lines, level, plane_fit
from tmdlearn.io import read


def test_bare_sapphire_substrate_is_levelled_flat(test_data):
    """A real sapphire scan (no film): the two-pass method finds no layer step, so it levels
    by aligned rows and a quadratic surface. It returned the median-of-differences start
    unrefined, whose x curvature put a 0.9 nm bow across the scan (Sq 0.27 nm where plane +
    line flattening gives 0.04 nm)."""
    flat = level(read(test_data / "afm-nanosurf-nsfopen" / "sapphire.nid")).height_nm
    assert np.std(flat) < 0.08
    assert np.ptp(np.median(flat, axis=0)) < 0.1  # no bow across the fast axis


def test_line_with_a_short_usable_stretch_keeps_only_its_offset(test_data):
    """Rows of a real Bruker scan masked but for 8 pixels 7 px apart (a particle over the
    rest): a quadratic through them, extrapolated over 512 px, sent the rows hundreds of nm
    off; their slope and curvature now come from the neighbouring rows."""
    raw = plane_fit(read(test_data / "afm-bruker" / "di-5.di").height_nm)
    mask = np.zeros(raw.shape, dtype=bool)
    mask[200:210] = True
    mask[200:210, 300:308] = False
    out = flatten_lines(raw, order=2, mask=mask)
    reference = flatten_lines(raw, order=2)
    assert np.abs(out[200:210]).max() < 3 * np.abs(reference).max()
    assert np.abs(out[200:210, 300:308].mean(axis=1)).max() < 1e-9  # own offset still fitted
    np.testing.assert_allclose(out[:200], reference[:200], atol=1e-9)  # other rows untouched
