"""PL recorded by a spectrograph camera (Andor SIF, Princeton SPE: wavelength axes in nm) goes
through `tmdlearn spectra fit` and gives back the planted exciton (energy, width in eV)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sif_files import write_sif
from spe_files import write_spe3
from tmdlearn.cli import app

PIXEL = np.arange(1, 1025)
NM = 650.0 + 0.1953 * PIXEL
CENTRES_EV, SIGMA_EV = (1.650, 1.655, 1.645), 0.017


def _pl() -> np.ndarray:
    """Three WSe2 A-exciton spectra (Gaussian in energy) on a dark level, with noise."""
    energy = 1239.84193 / NM
    rng = np.random.default_rng(0)
    return np.array([5000 * np.exp(-0.5 * ((energy - c) / SIGMA_EV) ** 2) + 300
                     + rng.normal(0, 20, PIXEL.size) for c in CENTRES_EV])


@pytest.mark.parametrize("kind", ["sif", "spe"])
def test_fit_of_camera_files_recovers_the_planted_exciton(tmp_path, kind):
    path = tmp_path / f"pl.{kind}"
    if kind == "sif":
        write_sif(path, _pl(), coefficients=(650.0, 0.1953, 0, 0))
    else:
        write_spe3(path, _pl()[:, None].astype("<u2"), NM, laser_nm=532.0)
    result = CliRunner().invoke(app, ["spectra", "fit", str(path), "-m", "wse2-pl",
                                      "-o", str(tmp_path / "fits.csv")])
    assert result.exit_code == 0, result.output
    fits = pd.read_csv(tmp_path / "fits.csv")
    np.testing.assert_allclose(fits.A_center, CENTRES_EV, atol=1e-3)
    np.testing.assert_allclose(fits.A_fwhm, 2.3548 * SIGMA_EV, rtol=0.03)
    assert (fits.verdict == "ok").all()
