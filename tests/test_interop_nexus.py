"""NeXus files: every container and map fit results round-trip exactly; plain h5py reads them."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from interop_checks import assert_same_container, mos2_map
from tmdlearn.data.containers import HeightMap, Spectra, StemImage
from tmdlearn.errors import InputError
from tmdlearn.interop.nexus import read_nexus, write_nexus
from tmdlearn.io.digest import sha256
from tmdlearn.spectra import fit_map, load_model
from tmdlearn.spectra.fitmaps import FitMaps, fit_maps

RNG = np.random.default_rng(3)
CONTAINERS = {
    "map": mos2_map(RNG),
    "spectra": Spectra(RNG.normal(size=(3, 50)), np.linspace(1.5, 2.1, 50), "eV", 633.0),
    "height": HeightMap(RNG.normal(size=(6, 7)), 1.953125, metadata={"instrument": "Bruker"}),
    "stem": StemImage(RNG.random((8, 9)), 0.1037),
}


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_containers_round_trip_exactly(tmp_path, name):
    item = CONTAINERS[name]
    path = write_nexus(tmp_path / f"{name}.nxs", item, config={"set": {"a": 1}})
    back = read_nexus(path)
    assert_same_container(item, back)
    assert back.metadata == json.loads(json.dumps(item.metadata, default=lambda v: v.tolist()))


def test_plain_h5py_sees_nexus_structure(tmp_path):
    source = tmp_path / "raw.txt"
    source.write_text("100\t1\n200\t2\n")
    item = CONTAINERS["map"]
    path = write_nexus(tmp_path / "map.nxs", item, config={"fit": {"solver": "lm"}},
                       inputs=[source])
    with h5py.File(path, "r") as f:
        entry = f[f.attrs["default"]]
        assert entry.attrs["NX_class"] == "NXentry"
        data = entry[entry.attrs["default"]]
        assert data.attrs["NX_class"] == "NXdata" and data.attrs["signal"] == "intensity"
        assert list(data.attrs["axes"]) == ["y", "x", "raman_shift"]
        assert data["raman_shift"].attrs["units"] == "1/cm"
        assert data["x"].attrs["units"] == "um" and data["y"].attrs["units"] == "um"
        np.testing.assert_allclose(data["x"][()], -3.1 + 0.7 * np.arange(5))
        assert entry["instrument/beam_incident/incident_wavelength"][()] == 532.0
        assert entry["instrument/beam_incident/incident_wavelength"].attrs["units"] == "nm"
        process = entry["process"]
        assert process.attrs["NX_class"] == "NXprocess"
        assert process["program"][()] == b"tmdlearn"
        assert json.loads(process["configuration"][()]) == {"fit": {"solver": "lm"}}
        assert process["input_sha256"].asstr()[0] == sha256(source)
        import hashlib
        assert sha256(source) == hashlib.sha256(b"100\t1\n200\t2\n").hexdigest()


def test_map_fit_results_round_trip_with_errors(tmp_path):
    smap = mos2_map(RNG)
    mask = np.ones(smap.shape, dtype=bool)
    mask[0, 0] = False
    fit, mask = fit_map(smap, load_model("mos2-raman"), mask, progress=False)
    maps = fit_maps(fit, mask, smap, only_ok=False)
    # planted centres recovered within 0.2 cm-1, and the errors are the fit's standard errors
    truth = 385.0 + 0.2 * np.arange(5)[None, :] + np.zeros((4, 1))
    assert np.nanmax(np.abs(maps.values["E2g_center"] - truth)) < 0.2
    assert np.isnan(maps.values["E2g_center"][0, 0])
    column = fit.names.index("A1g_center")
    np.testing.assert_array_equal(maps.errors["A1g_center"][mask], fit.stderr[:, column])
    assert maps.units["A1g_center"] == "1/cm" and maps.units["r2"] == ""
    path = write_nexus(tmp_path / "fit.nxs", maps)
    back = read_nexus(path)
    assert isinstance(back, FitMaps)
    assert list(back.values) == list(maps.values) and back.units == maps.units
    for name, image in maps.values.items():
        np.testing.assert_array_equal(back.values[name], image)  # NaN where NaN, else equal
    for name, image in maps.errors.items():
        np.testing.assert_array_equal(back.errors[name], image)
    assert (back.step_um, back.origin_um) == (0.7, (-3.1, 12.25))
    with h5py.File(path, "r") as f:
        group = f["entry"]["A1g_center"]
        assert group.attrs["signal"] == "A1g_center" and "errors" in group


def test_nexus_of_another_program_read_from_axes(tmp_path):
    path = tmp_path / "other.nxs"
    with h5py.File(path, "w") as f:
        entry = f.create_group("scan")
        entry.attrs["NX_class"] = "NXentry"
        data = entry.create_group("afm")
        data.attrs.update(NX_class="NXdata", signal="z", axes=["y", "x"])
        data["z"] = np.ones((3, 4))
        data["z"].attrs["units"] = "nm"
        data["y"], data["x"] = np.arange(3) * 0.002, np.arange(4) * 0.002
        data["y"].attrs["units"] = data["x"].attrs["units"] = "um"
    height = read_nexus(path)
    assert isinstance(height, HeightMap) and height.pixel_size_nm == pytest.approx(2.0)


def test_missing_signal_is_one_line(tmp_path):
    path = write_nexus(tmp_path / "s.nxs", CONTAINERS["stem"])
    with h5py.File(path, "a") as f:
        del f["entry/data"].attrs["signal"]
    with pytest.raises(InputError, match=r"s.nxs: the NXdata group /entry/data names no "
                                         r"signal \(@signal missing\)"):
        read_nexus(path)
    with h5py.File(path, "a") as f:
        f["entry/data"].attrs["signal"] = "counts"
    with pytest.raises(InputError, match=r"s.nxs: the signal 'counts' of /entry/data is missing"):
        read_nexus(path)
    (tmp_path / "t.nxs").write_text("not hdf5")
    with pytest.raises(InputError, match=r"t.nxs: cannot read as HDF5"):
        read_nexus(tmp_path / "t.nxs")


def test_nexusformat_opens_the_file(tmp_path):
    nexus = pytest.importorskip("nexusformat.nexus", reason="nexusformat not installed")
    path = write_nexus(tmp_path / "m.nxs", CONTAINERS["map"])
    root = nexus.nxload(str(path))
    signal = root["entry"].plottable_data.nxsignal
    assert signal.shape == (4, 5, 151)
    assert [a.nxname for a in root["entry"].plottable_data.nxaxes] == ["y", "x", "raman_shift"]


def test_cli_convert_and_spectra_fit_nexus(tmp_path):
    from typer.testing import CliRunner

    from tmdlearn.cli import app, main
    from tmdlearn.io import write_labspec

    smap = mos2_map(RNG)
    source = write_labspec(tmp_path / "map.txt", smap)
    runner = CliRunner()
    result = runner.invoke(app, ["convert", str(source), str(tmp_path / "map.nxs")])
    assert result.exit_code == 0, result.output
    back = read_nexus(tmp_path / "map.nxs")
    np.testing.assert_allclose(back.intensity, smap.intensity, rtol=1e-6)  # LabSpec text: 7 digits
    assert back.excitation_nm == 532.0 and back.unit == "cm-1"
    result = runner.invoke(app, ["spectra", "fit", str(source), "--model", "mos2-raman",
                                 "--out", str(tmp_path / "fits.csv"),
                                 "--nexus", str(tmp_path / "fits.nxs")])
    assert result.exit_code == 0, result.output
    import pandas as pd

    table = pd.read_csv(tmp_path / "fits.csv")
    maps = read_nexus(tmp_path / "fits.nxs")
    ok = (table["verdict"] == "ok").to_numpy()
    np.testing.assert_allclose(maps.values["A1g_center"].ravel()[ok],
                               table["A1g_center"][ok], rtol=1e-12)
    with h5py.File(tmp_path / "fits.nxs", "r") as f:
        assert f["entry/process/input_sha256"].asstr()[0] == sha256(source)
    with pytest.raises(SystemExit) as info:
        main(["convert", str(source), str(tmp_path / "map.zip")])
    assert info.value.code == 2 and not (tmp_path / "map.zip").exists()


def test_readme_nexus_snippet_runs(tmp_path, monkeypatch):
    from pathlib import Path

    from tmdlearn.io import write_labspec

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## NeXus files", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    write_labspec(tmp_path / "map.txt", mos2_map(RNG))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    maps = read_nexus(tmp_path / "fits.nxs")
    assert maps.units["A1g_center"] == "1/cm" and maps.shape == (4, 5)
    assert read_nexus(tmp_path / "map.nxs").shape == (4, 5)


def test_read_and_inspect_nexus_files(tmp_path):
    from typer.testing import CliRunner

    from tmdlearn.cli import app
    from tmdlearn.io import read

    path = write_nexus(tmp_path / "map.nxs", CONTAINERS["map"])
    assert_same_container(CONTAINERS["map"], read(path))
    maps = FitMaps({"A1g_center": np.full((2, 3), 405.0), "r2": np.ones((2, 3))},
                   {"A1g_center": np.full((2, 3), 0.1)}, {"A1g_center": "1/cm", "r2": ""}, 0.5)
    fits = write_nexus(tmp_path / "fits.nxs", maps)
    with pytest.raises(InputError, match="fits.nxs: holds map fit results"):
        read(fits)
    result = CliRunner().invoke(app, ["inspect", str(path), str(fits)])
    assert result.exit_code == 0, result.output
    assert "map.nxs: Raman map" in result.output
    assert "fits.nxs: map fit results (NeXus), 2 parameter images" in result.output
    assert "standard errors: A1g_center" in result.output


def test_nexus_that_is_no_container_is_one_line(tmp_path):
    path = write_nexus(tmp_path / "x.nxs", CONTAINERS["spectra"])
    with h5py.File(path, "a") as f:
        del f["entry/data/photon_energy"]
        f["entry/data/photon_energy"] = np.arange(3.0)   # 3 values for 50 points
        f["entry/data/photon_energy"].attrs["units"] = "eV"
    with pytest.raises(InputError, match=r"x.nxs: the NeXus data do not form a tmdlearn "
                                         r"container: axis has 3 points but spectra have 50"):
        read_nexus(path)
    path = write_nexus(tmp_path / "y.nxs", CONTAINERS["map"])
    with h5py.File(path, "a") as f:
        del f["entry/notes/data"]
        f["entry/notes/data"] = "{not json"
    with pytest.raises(InputError, match=r"y.nxs: the NeXus data do not form"):
        read_nexus(path)


def test_hdf5_afm_formats_are_not_taken_for_nexus(tmp_path):
    from tmdlearn.io import read

    with h5py.File(tmp_path / "scan.datx", "w") as f:   # Zygo .datx is HDF5 too
        f["x"] = np.zeros(3)
    with h5py.File(tmp_path / "scan.bin", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(InputError) as info:
        read(tmp_path / "scan.datx")
    assert "NXentry" not in str(info.value)
    with pytest.raises(InputError, match=r"scan.bin: no NXentry group"):
        read(tmp_path / "scan.bin")
