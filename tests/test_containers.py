import numpy as np
import pytest

from tmdlearn.data import EV_IN_CM1, HeightMap, Spectra, SpectralMap, nm_to_ev


def test_nm_to_ev_reference_values():
    # 532 nm laser line = 2.3305 eV; 1239.84 nm = 1 eV
    assert nm_to_ev(532.0) == pytest.approx(2.33053, abs=1e-5)
    assert nm_to_ev(1239.841984) == pytest.approx(1.0)


def test_raman_shift_round_trip_through_wavelength():
    shift = np.array([100.0, 385.0, 408.0, 1000.0])
    s = Spectra(np.ones((2, 4)), shift, "cm-1", excitation_nm=532.0)
    nm = s.to_unit("nm")
    # the MoS2 A1g line at 408 cm-1 under 532 nm excitation lies at 543.80 nm
    assert nm.axis[2] == pytest.approx(1e7 / (1e7 / 532.0 - 408.0))
    assert nm.axis[2] == pytest.approx(543.80, abs=0.01)
    back = nm.to_unit("cm-1")
    np.testing.assert_allclose(back.axis, shift, rtol=1e-10)


def test_ev_and_nm_axes_sorted_ascending_on_conversion():
    s = Spectra(np.arange(3.0), [600.0, 650.0, 700.0], "nm")
    ev = s.to_unit("eV")
    assert np.all(np.diff(ev.axis) > 0)
    np.testing.assert_allclose(ev.intensity[0], [2.0, 1.0, 0.0])


def test_shift_conversion_needs_excitation():
    s = Spectra(np.ones(3), [100.0, 200.0, 300.0], "cm-1")
    with pytest.raises(ValueError, match="excitation"):
        s.to_unit("nm")


def test_one_ev_in_wavenumbers():
    assert 1e7 / (1239.841984) == pytest.approx(EV_IN_CM1, rel=1e-9)


def test_mismatched_axis_rejected():
    with pytest.raises(ValueError, match="axis has 3 points"):
        Spectra(np.ones((2, 4)), [1.0, 2.0, 3.0], "eV")


def test_height_map_scan_size():
    hm = HeightMap(np.zeros((512, 512)), pixel_size_nm=1000 / 512)
    assert hm.scan_size_um == pytest.approx(1.0)


def test_spectral_map_flatten_with_mask():
    cube = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    m = SpectralMap(cube, np.arange(4.0), "cm-1", step_um=0.5)
    mask = np.zeros((2, 3), bool)
    mask[1, 2] = True
    flat = m.spectra(mask)
    np.testing.assert_array_equal(flat.intensity, cube[1, 2][None])
    x, y = m.coordinates_um()
    assert (x[1, 2], y[1, 2]) == (1.0, 0.5)
