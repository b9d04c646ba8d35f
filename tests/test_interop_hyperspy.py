"""HyperSpy round trips (ours → HyperSpy → ours) are exact; skipped without HyperSpy (GPL)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from interop_checks import assert_same_container
from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.spectra.fitmaps import FitMaps

RNG = np.random.default_rng(11)
AXIS = np.sort(RNG.uniform(100, 600, 40))           # non-uniform, as instruments give it
CONTAINERS = {
    "map": SpectralMap(RNG.normal(size=(3, 4, 40)), AXIS, "cm-1", 0.3, 532.0,
                       origin_um=(-1.7, 4.1), metadata={"title": "flake"}),
    "spectra": Spectra(RNG.normal(size=(2, 40)), np.linspace(1.6, 2.2, 40), "eV", 633.0),
    "one": Spectra(RNG.normal(size=40), np.linspace(600, 800, 40), "nm"),
    "height": HeightMap(RNG.normal(size=(5, 6)), 0.9765625, metadata={"scan": 1}),
    "stem": StemImage(RNG.random((7, 8)), 0.1037),
}


def test_missing_hyperspy_is_one_clear_line(monkeypatch):
    from tmdlearn.interop.hyperspy import to_signal

    monkeypatch.setitem(sys.modules, "hyperspy", None)
    monkeypatch.setitem(sys.modules, "hyperspy.api", None)
    with pytest.raises(InputError, match=r"HyperSpy is not installed: pip install "
                                         r"'tmdlearn\[hyperspy\]'"):
        to_signal(CONTAINERS["stem"])


def test_core_never_imports_hyperspy():
    import subprocess

    code = ("import sys, tmdlearn.io, tmdlearn.spectra, tmdlearn.cli, tmdlearn.interop.nexus;"
            "print(any(m.split('.')[0] in ('hyperspy', 'lumispy') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_round_trip_is_exact(name):
    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    item = CONTAINERS[name]
    signal = to_signal(item)
    back = from_signal(signal)
    assert_same_container(item, back)
    assert back.metadata == item.metadata


def test_signal_axes_carry_names_and_units():
    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    from tmdlearn.interop.hyperspy import to_signal

    signal = to_signal(CONTAINERS["map"])
    x_axis, y_axis = signal.axes_manager.navigation_axes
    spectral = signal.axes_manager.signal_axes[0]
    assert (x_axis.name, x_axis.units, x_axis.scale, x_axis.offset) == ("x", "µm", 0.3, -1.7)
    assert (y_axis.name, y_axis.offset) == ("y", 4.1)
    assert (spectral.name, spectral.units) == ("Raman shift", "cm⁻¹")
    assert signal.metadata.Acquisition_instrument.Laser.wavelength == 532.0
    stem = to_signal(CONTAINERS["stem"])
    assert [a.units for a in stem.axes_manager.signal_axes] == ["Å", "Å"]


def test_fit_maps_as_images_with_variance():
    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    center = 405 + RNG.normal(0, 0.3, (3, 4))
    error = RNG.uniform(0.01, 0.2, (3, 4))
    center[0, 0] = error[0, 0] = np.nan
    maps = FitMaps({"A1g_center": center, "r2": RNG.random((3, 4))}, {"A1g_center": error},
                   {"A1g_center": "1/cm", "r2": ""}, 0.5, (1.0, 2.0), {"model": "mos2-raman"})
    signals = to_signal(maps)
    variance = signals["A1g_center"].metadata.Signal.Noise_properties.variance
    np.testing.assert_array_equal(variance.data, error ** 2)
    back = from_signal(signals)
    np.testing.assert_array_equal(back.values["A1g_center"], center)
    np.testing.assert_array_equal(back.errors["A1g_center"], error)
    assert back.units == maps.units and (back.step_um, back.origin_um) == (0.5, (1.0, 2.0))
    assert set(back.errors) == {"A1g_center"}


def test_signals_without_usable_units_are_refused():
    hs = pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    from tmdlearn.interop.hyperspy import from_signal

    with pytest.raises(InputError, match=r"signal axis .* has no units: set it to cm⁻¹"):
        from_signal(hs.signals.Signal1D(np.ones((2, 10))))
    bad = hs.signals.Signal1D(np.ones((2, 3, 10)))
    bad.axes_manager.signal_axes[0].units = "cm-1"
    bad.axes_manager.navigation_axes[0].units = "µm"
    bad.axes_manager.navigation_axes[1].units = "s"
    with pytest.raises(InputError, match=r"navigation axes have units \['µm', 's'\]"):
        from_signal(bad)


def test_readme_hyperspy_snippet_runs():
    from pathlib import Path

    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = readme.split("## Use with HyperSpy", 1)[1].split("```python\n", 1)[1]
    scope: dict = {}
    exec(compile(code.split("```", 1)[0], "README.md", "exec"), scope)
    assert scope["back"].step_um == 0.5 and scope["back"].excitation_nm == 532
    np.testing.assert_array_equal(scope["back"].intensity, scope["smap"].intensity)


def test_evenly_spaced_axis_is_uniform_in_hyperspy():
    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    from tmdlearn.interop.hyperspy import from_signal, to_signal

    item = Spectra(np.ones((1, 5)), 100 + 0.5 * np.arange(5), "cm-1")
    axis = to_signal(item).axes_manager.signal_axes[0]
    assert axis.is_uniform and (axis.offset, axis.scale) == (100.0, 0.5)
    assert not to_signal(CONTAINERS["map"]).axes_manager.signal_axes[0].is_uniform
    np.testing.assert_array_equal(from_signal(to_signal(item)).axis, item.axis)


def test_registered_signal_type_fits_a_map(tmp_path):
    """HyperSpy finds the extension through the entry point (a dist-info made here, as pip
    install would) and the TMD_spectrum signal fits itself; run in a fresh interpreter."""
    import os
    import subprocess
    from pathlib import Path

    pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    info = tmp_path / "tmdlearn-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tmdlearn\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[hyperspy.extensions]\ntmdlearn = tmdlearn\n")
    code = """
import numpy as np, hyperspy.api as hs
from tmdlearn.data import SpectralMap
from tmdlearn.interop.hyperspy import to_signal
x = 340 + 0.5 * np.arange(300)
e2g = 385 + 0.2 * np.arange(3)
cube = (800 / (1 + ((x - e2g[None, :, None]) / 1.5) ** 2)
        + 1000 / (1 + ((x - 404) / 2) ** 2) + 200 / (1 + ((x - 455) / 6) ** 2) + 50
        + np.zeros((2, 3, 1)) + np.random.default_rng(0).normal(0, 3, (2, 3, 300)))
signal = to_signal(SpectralMap(cube, x, "cm-1", 0.5))
signal.set_signal_type("TMD_spectrum")
maps = signal.fit_peaks("mos2-raman")
print(type(signal).__name__, np.abs(maps["E2g_center"].data - e2g).max() < 0.1,
      maps["E2g_center"].axes_manager.signal_axes[0].units)
"""
    path = os.pathsep.join([str(tmp_path), str(Path(__file__).parents[1] / "src"),
                            os.environ.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"},
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["TMDSpectrum", "True", "µm"]


def test_hs_load_opens_a_tmdlearn_nexus_file(tmp_path):
    hs = pytest.importorskip("hyperspy.api", reason="HyperSpy (GPL) not installed")
    pytest.importorskip("rsciio.nexus", reason="RosettaSciIO's NeXus reader not installed")
    from tmdlearn.interop.hyperspy import from_signal
    from tmdlearn.interop.nexus import write_nexus

    item = SpectralMap(CONTAINERS["map"].intensity, np.linspace(100, 600, 40), "cm-1", 0.3,
                       origin_um=(-1.7, 4.1))
    path = write_nexus(tmp_path / "map.nxs", item)
    loaded = hs.load(path)
    signal = (loaded[0] if isinstance(loaded, list) else loaded).as_signal1D(0)
    back = from_signal(signal)
    np.testing.assert_array_equal(back.intensity, item.intensity)
    np.testing.assert_allclose(back.axis, item.axis, rtol=1e-12)
    assert back.unit == "cm-1" and back.origin_um == (-1.7, 4.1)
    assert back.step_um == pytest.approx(0.3, rel=1e-12)  # RosettaSciIO: scale from the axis
