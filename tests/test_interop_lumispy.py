"""LumiSpy signal types for photoluminescence, and LumiSpy's axis conversions side by side with
tmdlearn's; skipped without HyperSpy / LumiSpy (GPL, ``tmdlearn[hyperspy]``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from interop_checks import assert_same_container
from tmdlearn.data.containers import Spectra, SpectralMap
from tmdlearn.errors import InputError

RNG = np.random.default_rng(7)
PL_NM = Spectra(RNG.random((2, 60)), np.linspace(600.0, 800.0, 60), "nm", 532.0,
                metadata={"sample": "WSe2"})
PL_MAP_EV = SpectralMap(RNG.random((3, 4, 50)), np.sort(RNG.uniform(1.5, 2.1, 50)), "eV",
                        0.4, 532.0, origin_um=(1.0, -2.0))
RAMAN = Spectra(RNG.random((1, 40)), np.linspace(100.0, 500.0, 40), "cm-1", 532.0)


@pytest.fixture
def lumispy():
    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    return pytest.importorskip("lumispy", reason="LumiSpy (GPL) not installed")


@pytest.mark.parametrize("item", [PL_NM, PL_MAP_EV], ids=["spectra-nm", "map-eV"])
def test_pl_becomes_a_lumispy_signal_and_comes_back_exactly(lumispy, item):
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    signal = to_signal(item)
    assert isinstance(signal, lumispy.signals.LumiSpectrum)
    assert signal.metadata.Signal.signal_type == "PL"
    assert signal.metadata.Acquisition_instrument.Laser.wavelength == 532.0
    back = from_signal(signal)
    assert_same_container(item, back)
    assert back.metadata == item.metadata


def test_raman_and_lumispy_false_stay_plain_signal1d(lumispy):
    import hyperspy.api as hs

    from tmdlearn.interop.hyperspy import to_signal

    assert type(to_signal(RAMAN)) is hs.signals.Signal1D
    assert type(to_signal(PL_NM, lumispy=False)) is hs.signals.Signal1D


def test_without_lumispy_plain_signal_or_one_clear_line(monkeypatch):
    hs = pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    from tmdlearn.interop.hyperspy import to_signal

    monkeypatch.setitem(sys.modules, "lumispy", None)
    monkeypatch.setitem(sys.modules, "lumispy.signals", None)
    assert type(to_signal(PL_NM)) is hs.signals.Signal1D
    with pytest.raises(InputError, match=r"LumiSpy is not installed: pip install "
                                         r"'tmdlearn\[hyperspy\]'"):
        to_signal(PL_NM, lumispy=True)


def test_lumispy_raman_shift_equals_tmdlearns(lumispy):
    """LumiSpy's to_invcm_relative (1e7 / λ_laser − 1e7 / λ, vacuum) read back by
    from_signal is tmdlearn's own conversion of the same spectra."""
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    shifted = to_signal(PL_NM).to_invcm_relative(laser=532.0, inplace=False, jacobian=False)
    back = from_signal(shifted)
    ours = PL_NM.to_unit("cm-1")
    assert back.unit == "cm-1"
    np.testing.assert_allclose(back.axis, ours.axis, rtol=1e-12)
    np.testing.assert_allclose(back.intensity, ours.intensity, rtol=0, atol=0)


def test_lumispy_ev_is_the_air_wavelength_energy(lumispy):
    """LumiSpy's to_eV takes wavelengths as measured in air (refractive index of Peck and
    Reeder 1972; n − 1 ≈ 2.76e-4 at 600-800 nm), tmdlearn's nm → eV vacuum ones: the two
    energies differ by that factor and no more."""
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    back = from_signal(to_signal(PL_NM).to_eV(inplace=False, jacobian=False))
    ours = PL_NM.to_unit("eV")
    ratio = ours.axis / back.axis
    assert np.all((ratio - 1 > 2.70e-4) & (ratio - 1 < 2.80e-4))
    np.testing.assert_array_equal(back.intensity, ours.intensity)


def test_absolute_wavenumbers_are_not_read_as_raman_shifts(lumispy):
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    with pytest.raises(InputError, match="absolute wavenumber, not a Raman shift"):
        from_signal(to_signal(PL_NM).to_invcm(inplace=False, jacobian=False))
