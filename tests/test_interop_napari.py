"""The napari plugin: npe2 manifest, readers' layers (data, scales, units), stem predict and map
fit widgets. Headless (npe2's plugin manager, napari's ViewerModel; no display); the tests that
need npe2 or napari skip without them (``pip install 'tmdlearn[napari]'``)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from interop_checks import mos2_map
from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.interop.napari import layers as napari_layers
from tmdlearn.interop.napari.reader import get_reader
from tmdlearn.interop.nexus import write_nexus
from tmdlearn.io import write_height_map, write_stem
from tmdlearn.io.write import write_labspec
from tmdlearn.spectra import fit_map
from tmdlearn.spectra.fitmaps import fit_maps
from tmdlearn.synth.stem import StemSimConfig, simulate_image

SRC = Path(__file__).parents[1] / "src"
MANIFEST = SRC / "tmdlearn" / "interop" / "napari" / "napari.yaml"
RNG = np.random.default_rng(21)


@pytest.fixture
def plugin(monkeypatch):
    """npe2's plugin manager holding only tmdlearn's manifest (as napari would find it)."""
    npe2 = pytest.importorskip("npe2", reason="npe2 not installed (tmdlearn[napari])")
    manager = npe2.PluginManager()
    manager.register(npe2.PluginManifest.from_file(MANIFEST))
    monkeypatch.setattr(npe2.PluginManager, "instance", staticmethod(lambda: manager))
    return npe2


@pytest.fixture
def read(monkeypatch):
    """Layers of a path through npe2's read (the manifest's patterns and reader command) where
    npe2 is installed, else through the reader function itself."""
    try:
        import npe2
    except ImportError:
        return lambda path: get_reader(str(path))(str(path))
    manager = npe2.PluginManager()
    manager.register(npe2.PluginManifest.from_file(MANIFEST))
    monkeypatch.setattr(npe2.PluginManager, "instance", staticmethod(lambda: manager))
    return lambda path: npe2.read([str(path)], stack=False, plugin_name="tmdlearn")


def test_core_never_imports_napari():
    code = ("import sys, tmdlearn.io, tmdlearn.spectra, tmdlearn.cli, tmdlearn.interop.nexus,"
            "tmdlearn.interop.napari.reader, tmdlearn.interop.napari.run;"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'napari', 'npe2', 'magicgui', 'qtpy', 'vispy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert out.stdout.strip() == "[]"


def test_manifest_is_valid_and_its_commands_import(plugin):
    manifest = plugin.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "tmdlearn"
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    assert set(commands) == {"tmdlearn.get_reader", "tmdlearn.stem_predict", "tmdlearn.fit_map"}
    assert [w.command for w in manifest.contributions.widgets] == ["tmdlearn.stem_predict",
                                                                  "tmdlearn.fit_map"]
    assert manifest.contributions.readers[0].accepts_directories
    try:
        import napari  # noqa: F401
    except ImportError:
        return  # the widget module imports napari: its python_name is checked where installed
    manifest.validate_imports()  # every python_name resolves


def test_reader_patterns_cover_every_format_tmdlearn_reads():
    from tmdlearn.io.afm import AFM_FORMATS
    from tmdlearn.io.jcamp_dx import SUFFIXES as JCAMP
    from tmdlearn.io.read import NEXUS_SUFFIXES
    from tmdlearn.io.spectra import TEXT_SUFFIXES
    from tmdlearn.io.stem import STEM_FORMATS

    patterns = yaml.safe_load(MANIFEST.read_text())["contributions"]["readers"][0][
        "filename_patterns"]
    suffixes = [*AFM_FORMATS, *TEXT_SUFFIXES, *STEM_FORMATS, *NEXUS_SUFFIXES, *JCAMP, ".spc",
                ".wdf", ".000", ".123"]
    missing = [s for s in suffixes if not any(fnmatch(f"scan{s}", p) for p in patterns)]
    assert missing == []
    assert not any(fnmatch("scan.py", p) or fnmatch("scan.1234", p) for p in patterns)


def test_afm_heights_in_nm_with_the_file_pixel_size(read, test_data):
    (data, kwargs, kind), = read(test_data / "afm-bruker" / "di-1.di")
    assert kind == "image" and kwargs["units"] == ("nm", "nm")
    # "scan size: 500 500 nm" in the header, 512 samples per line: 500 / 512 nm per pixel
    assert kwargs["scale"] == pytest.approx((500 / data.shape[1],) * 2, rel=1e-9)
    assert kwargs["name"] == "di-1 height" and kwargs["colormap"] == "afmhot"


def test_afm_archive_and_haadf_tiff_scales(read, tmp_path):
    heights = RNG.normal(size=(6, 7))
    write_height_map(tmp_path / "scan.npz", HeightMap(heights, 0.9765625))
    (data, kwargs, _), = read(tmp_path / "scan.npz")
    np.testing.assert_allclose(data, heights.astype(np.float32))
    assert kwargs["scale"] == (0.9765625, 0.9765625)
    image = RNG.random((8, 9))
    write_stem(tmp_path / "haadf.tif", StemImage(image, 0.1037))
    (data, kwargs, kind), = read(tmp_path / "haadf.tif")
    np.testing.assert_allclose(data, image.astype(np.float32))
    assert kwargs["units"] == ("angstrom", "angstrom")
    assert kwargs["scale"] == pytest.approx((0.1037, 0.1037), rel=1e-6)
    assert kwargs["metadata"]["tmdlearn"]["container"] == "StemImage"


def test_spectral_map_is_a_stack_with_its_spectral_axis(read, tmp_path):
    smap = mos2_map(RNG)  # 340-490 cm⁻¹ in steps of 1, 0.7 µm pixels, origin (-3.1, 12.25)
    write_labspec(tmp_path / "map.txt", smap)
    (data, kwargs, kind), = read(tmp_path / "map.txt")
    assert kind == "image" and data.shape == (151, 4, 5)
    np.testing.assert_allclose(data[:, 2, 3], smap.intensity[2, 3], rtol=1e-7)
    assert kwargs["axis_labels"] == ("Raman shift", "y", "x")
    assert kwargs["units"] == ("1/cm", "um", "um")
    assert kwargs["scale"] == pytest.approx((1.0, 0.7, 0.7))
    assert kwargs["translate"] == pytest.approx((340.0, 12.25, -3.1))
    info = kwargs["metadata"]["tmdlearn"]
    assert info["excitation_nm"] == 532.0 and info["unit"] == "cm-1"


def test_uneven_spectral_axis_goes_by_channel_with_the_values_kept():
    axis = np.sort(RNG.uniform(1.5, 2.2, 30))
    smap = SpectralMap(RNG.random((2, 3, 30)), axis, "eV", 0.5)
    (data, kwargs, _), = napari_layers.container_layers(smap, "pl")
    assert kwargs["units"] == ("pixel", "um", "um") and kwargs["scale"][0] == 1.0
    assert kwargs["axis_labels"][0] == "Energy (channel)"
    back = napari_layers.spectral_map(data, kwargs["metadata"])
    np.testing.assert_array_equal(back.axis, axis)
    np.testing.assert_array_equal(back.intensity, smap.intensity)


def test_single_spectra_file_is_an_image_on_its_axis(read, test_data):
    (data, kwargs, _), = read(test_data / "spectra-wse2mose2" / "WSe2_PL.txt")
    assert data.shape[0] == 1 and kwargs["axis_labels"][0] == "spectrum"
    assert kwargs["metadata"]["tmdlearn"]["container"] == "Spectra"


def test_fit_results_file_gives_parameter_images_and_verdict_labels(read, tmp_path):
    smap = mos2_map(RNG)
    fit, mask = fit_map(smap, "mos2-raman", progress=False)
    maps = fit_maps(fit, mask, smap)
    for image in maps.values.values():
        image[0, 0] = np.nan  # a pixel left out of the fit
    write_nexus(tmp_path / "fits.nxs", maps)
    layers = {kwargs["name"]: (data, kwargs, kind)
              for data, kwargs, kind in read(tmp_path / "fits.nxs")}
    data, kwargs, kind = layers["fits E2g_center"]
    assert kind == "image" and kwargs["units"] == ("um", "um")
    assert kwargs["scale"] == (0.7, 0.7) and kwargs["translate"] == (12.25, -3.1)
    planted = 385.0 + 0.2 * np.arange(5)
    ok = np.isfinite(data)
    assert ok.sum() >= 15
    np.testing.assert_allclose(data[ok], np.broadcast_to(planted, (4, 5))[ok], atol=0.15)
    info = kwargs["metadata"]["tmdlearn"]
    assert info["unit"] == "1/cm" and info["stderr"].shape == (4, 5)
    labels, kwargs, kind = layers["fits verdict"]
    assert kind == "labels" and labels[0, 0] == 0
    np.testing.assert_array_equal(labels[ok], 1)  # shown parameters are verdict ok
    assert kwargs["features"]["verdict"][1] == "ok"
    assert sum(kwargs["metadata"]["tmdlearn"]["verdicts"].values()) == 19
    assert [k["visible"] for _, k, t in layers.values() if t == "image"].count(True) == 1


@pytest.fixture(scope="module")
def prediction(tmp_path_factory):
    """A simulated twisted graphene bilayer (96 px) and `tmdlearn stem predict`'s folder."""
    from tmdlearn.cli import main

    folder = tmp_path_factory.mktemp("stem")
    sample = simulate_image(StemSimConfig(size_px=96), seed=0)
    np.save(folder / "image.npy", sample.image)
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "predict", str(folder / "image.npy"), "--pixel-size",
              str(sample.pixel_size_angstrom), "--out", str(folder / "pred")])
    assert exit_.value.code in (0, None)
    return sample, folder / "pred"


def test_prediction_folder_gives_masks_points_and_the_verdict(read, prediction):
    sample, folder = prediction
    atoms = pd.read_csv(folder / "atoms.csv")
    quality = json.loads((folder / "quality.json").read_text())
    layers = read(folder)
    kinds = [kind for _, _, kind in layers]
    assert kinds == ["labels", "labels", "points", "points"]  # graphene: 2 layers x C
    points = 0
    for data, kwargs, kind in layers:
        assert kwargs["scale"] == (sample.pixel_size_angstrom,) * 2
        assert kwargs["units"] == ("angstrom", "angstrom")
        info = kwargs["metadata"]["tmdlearn"]
        assert info["quality"]["trust"] == quality["trust"] in ("ok", "doubtful", "fail")
        assert info["quality"]["reasons"] == quality["reasons"]
        assert info["layer_checks"]["layer"] == info["layer"]
        if kind == "points":
            rows = atoms[atoms.layer == info["layer"]]
            np.testing.assert_array_equal(data, rows[["y_px", "x_px"]].to_numpy())
            for key in ("score", "other_layer_angstrom"):
                np.testing.assert_array_equal(kwargs["features"][key], rows[key])
            points += len(data)
        else:
            masks = np.load(folder / "masks.npz")["masks"][info["layer"], 0]
            np.testing.assert_array_equal(data > 0, masks > 0)
    # as many atoms as planted, within 15 % (how a 10 Å field's few atoms split between the
    # layers is the model's accuracy, scored in the STEM benchmarks)
    assert abs(points / len(sample.atoms) - 1) < 0.15
    (points, kwargs, _), = [layer for layer in read(folder / "atoms.csv")
                            if layer[1]["name"].endswith("layer 1 C")]
    assert kwargs["name"] == "pred layer 1 C" and len(points) > 0


def test_widget_run_matches_the_command_line(prediction):
    from tmdlearn.interop.napari.run import predict_layers

    sample, folder = prediction
    layers = predict_layers(StemImage(sample.image, sample.pixel_size_angstrom), "image")
    atoms = pd.read_csv(folder / "atoms.csv")
    found = [(kwargs["metadata"]["tmdlearn"]["layer"], data)
             for data, kwargs, kind in layers if kind == "points"]
    for layer, data in found:
        expected = atoms.loc[atoms.layer == layer, ["y_px", "x_px"]].to_numpy()
        np.testing.assert_allclose(data, expected, atol=1e-6)
    quality = json.loads((folder / "quality.json").read_text())
    assert layers[0][1]["metadata"]["tmdlearn"]["quality"]["score"] == quality["score"]


def test_widget_predicts_a_monolayer_as_one_layer():
    """The widget's monolayer option, as `stem predict --monolayer`: one layer, checked ok."""
    from tmdlearn.interop.napari.run import predict_layers
    from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

    mono = simulate_image(StemSimConfig(size_px=256, layers=1), split_seed(5, "test", 0))
    image = StemImage(mono.image, mono.pixel_size_angstrom)
    layers = predict_layers(image, "mono", monolayer=True)
    points = [kwargs["metadata"]["tmdlearn"] for _, kwargs, kind in layers if kind == "points"]
    assert [p["layer"] for p in points] == [0]
    assert points[0]["quality"]["trust"] == "ok"
    as_bilayer = predict_layers(image, "mono")[0][1]["metadata"]["tmdlearn"]["quality"]
    assert as_bilayer["trust"] != "ok"


def test_widget_fit_finds_the_planted_centres():
    from tmdlearn.interop.napari.run import fit_layers

    (data, kwargs, _), = napari_layers.container_layers(mos2_map(RNG), "flake")
    smap = napari_layers.spectral_map(data, kwargs["metadata"])
    layers = {k["name"]: d for d, k, _ in fit_layers(smap, "flake", "mos2-raman")}
    a1g = layers["flake A1g_center"]
    planted = np.broadcast_to((404.0 + 0.3 * np.arange(4))[:, None], (4, 5))
    ok = np.isfinite(a1g)
    assert ok.sum() >= 15
    np.testing.assert_allclose(a1g[ok], planted[ok], atol=0.15)


def test_widget_refuses_a_layer_without_a_spectral_axis_or_length_unit():
    from tmdlearn.interop.napari.run import pixel_size_angstrom

    with pytest.raises(InputError, match="not a spectral map opened with tmdlearn"):
        napari_layers.spectral_map(np.ones((3, 4, 5)), {})
    assert pixel_size_angstrom(0.5, "nanometer") == 5.0
    assert pixel_size_angstrom(0.5, "pixel", given=0.12) == 0.12
    with pytest.raises(InputError, match="set the pixel size"):
        pixel_size_angstrom(1.0, "pixel")


def test_widget_layer_of_the_wrong_kind_is_named_before_any_work():
    from tmdlearn.interop.napari.run import map_of_layer, stem_image

    with pytest.raises(InputError, match="^Find atoms .* image layer; layer 'pts' is a Points"):
        stem_image("Points", np.ones((5, 2)), "pts", 1.0, "angstrom")
    with pytest.raises(InputError, match=r"one 2-D grey HAADF image; layer 'z' has shape "
                                         r"\(3, 8, 9\) \(a stack"):
        stem_image("Image", np.ones((3, 8, 9)), "z", 0.1, "angstrom")
    image = stem_image("Image", np.ones((8, 9)), "haadf", 0.01, "nanometer")
    assert image.shape == (8, 9) and image.pixel_size_angstrom == 0.1
    (data, kwargs, _), = napari_layers.container_layers(StemImage(np.ones((8, 9)), 0.1), "haadf")
    with pytest.raises(InputError, match=r"^Fit a spectral map needs a spectral map .*; layer "
                                         r"'haadf' is a StemImage of shape \(8, 9\)"):
        map_of_layer("Image", data, kwargs["metadata"], "haadf")
    with pytest.raises(InputError, match="layer 'v' is a Vectors layer"):
        map_of_layer("Vectors", data, kwargs["metadata"], "v")
    smap = mos2_map(RNG)
    (data, kwargs, _), = napari_layers.container_layers(smap, "flake")
    with pytest.raises(InputError, match=r"'flake' is a SpectralMap of shape \(151, 5\)"):
        map_of_layer("Image", data[:, 0], kwargs["metadata"], "flake")  # one row sliced off
    back = map_of_layer("Image", data, kwargs["metadata"], "flake")
    np.testing.assert_array_equal(back.intensity, smap.intensity)


def test_widget_wrong_layer_shows_one_notification_and_adds_nothing(monkeypatch):
    """In napari the InputError becomes one error notification; the widget returns None
    (napari adds no layer) and never starts the work."""
    napari = pytest.importorskip("napari", reason="napari not installed")
    from napari.utils.notifications import notification_manager

    from tmdlearn.interop.napari import widget

    def never(*args, **kwargs):
        raise AssertionError("the work started on a wrong layer")

    monkeypatch.setattr(widget, "predict_layers", never)
    monkeypatch.setattr(widget, "fit_layers", never)
    monkeypatch.setattr(notification_manager, "records", [])
    points = napari.layers.Points(np.ones((4, 2)), name="picks")
    stack = napari.layers.Image(np.ones((3, 8, 9)), name="series", scale=(1, 0.1, 0.1),
                                units=("angstrom",) * 3)
    assert widget.stem_predict(points) is None and widget.stem_predict(stack) is None
    assert widget.fit_map(napari.layers.Image(np.ones((8, 9)), name="haadf")) is None
    messages = [str(n.message) for n in notification_manager.records]
    assert [str(n.severity) for n in notification_manager.records] == ["error"] * 3
    assert "layer 'picks' is a Points layer" in messages[0]
    assert "layer 'series' has shape (3, 8, 9)" in messages[1]
    assert "layer 'haadf' is an image of shape (8, 9)" in messages[2]
    assert all("\n" not in message for message in messages)


def test_files_tmdlearn_cannot_read(tmp_path):
    points = tmp_path / "points.csv"  # napari's own points table: left to napari's reader
    points.write_text("index,axis-0,axis-1\n0,1.0,2.0\n")
    assert get_reader(str(points)) is None
    assert get_reader(str(tmp_path)) is None  # a folder without atoms.csv
    broken = tmp_path / "scan.spm"  # tmdlearn's format: its reader says what is wrong
    broken.write_bytes(b"\\*File list\r\nnot a NanoScope file")
    reader = get_reader(str(broken))
    with pytest.raises(InputError, match="scan.spm"):
        reader(str(broken))
    with pytest.raises(InputError, match=r"masks of shape \(2, 3, 4\)"):
        napari_layers.mask_layers(np.ones((2, 3, 4)), ["C"], 0.1, None, "x")


def test_viewer_opens_files_headless(plugin, tmp_path):
    """napari's ViewerModel (no Qt, no display) opens a map through the plugin."""
    napari = pytest.importorskip("napari", reason="napari not installed")
    write_labspec(tmp_path / "map.txt", mos2_map(RNG))
    viewer = napari.components.ViewerModel()
    layer, = viewer.open(tmp_path / "map.txt", plugin="tmdlearn")
    assert layer.data.shape == (151, 4, 5)
    assert [str(u) for u in layer.units] == ["1 / centimeter", "micrometer", "micrometer"]
    assert tuple(layer.axis_labels) == ("Raman shift", "y", "x")
    np.testing.assert_allclose(layer.scale, (1.0, 0.7, 0.7))


def test_fit_widget_on_an_open_layer(plugin, tmp_path):
    """The widget function on a napari layer adds parameter images (magicgui builds its form
    where a Qt binding is installed; QT_QPA_PLATFORM=offscreen, no display)."""
    napari = pytest.importorskip("napari", reason="napari not installed")
    from tmdlearn.interop.napari import widget

    (data, kwargs, _), = napari_layers.container_layers(mos2_map(RNG), "flake")
    image = napari.layers.Image(data, **kwargs)
    names = [k["name"] for _, k, _ in widget.fit_map(image, "mos2-raman")]
    assert "flake A1g_center" in names and names[-1] == "flake verdict"
    try:
        import qtpy  # noqa: F401
    except Exception:  # noqa: BLE001 - no Qt binding: the form is not built here
        return
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from magicgui import magicgui

    form = magicgui(widget.stem_predict)
    assert form.material.choices == ("graphene", "ws2") and form.views.choices == (1, 2, 4)


def test_entry_point_finds_the_plugin(tmp_path):
    """npe2 finds the manifest through the napari.manifest entry point (a dist-info made here,
    as pip install would) and reads a file with it; in a fresh interpreter."""
    pytest.importorskip("npe2", reason="npe2 not installed (tmdlearn[napari])")
    info = tmp_path / "tmdlearn-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tmdlearn\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(
        "[napari.manifest]\ntmdlearn = tmdlearn.interop.napari:napari.yaml\n")
    write_stem(tmp_path / "haadf.tif", StemImage(RNG.random((8, 9)), 0.1037))
    code = f"""
import npe2
npe2.PluginManager.instance().discover(include_npe1=False)
(data, kwargs, kind), = npe2.read([{str(tmp_path / 'haadf.tif')!r}], stack=False,
                                   plugin_name="tmdlearn")
print(kind, kwargs["units"][0], data.shape)
"""
    path = os.pathsep.join([str(tmp_path), str(SRC), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": path}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["image", "angstrom", "(8,", "9)"]


def test_spectra_layer_axis():
    spectra = Spectra(RNG.random((3, 11)), np.linspace(600, 700, 11), "nm", 532.0)
    (data, kwargs, _), = napari_layers.container_layers(spectra, "pl")
    assert data.shape == (3, 11) and kwargs["units"] == ("pixel", "nm")
    assert kwargs["scale"] == pytest.approx((1.0, 10.0))
    assert kwargs["translate"] == pytest.approx((0.0, 600.0))


def test_readme_napari_snippet_runs(plugin, tmp_path, monkeypatch, capsys):
    """README "Use with napari": the Python block as written, on the files of "NeXus files"."""
    pytest.importorskip("napari", reason="napari not installed")
    smap = mos2_map(RNG)
    write_labspec(tmp_path / "map.txt", smap)
    fit, mask = fit_map(smap, "mos2-raman", progress=False)
    write_nexus(tmp_path / "fits.nxs", fit_maps(fit, mask, smap))
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use with napari", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    layers = scope["viewer"].layers
    assert layers[0].name == "map" and layers[0].data.shape == (151, 4, 5)
    assert tuple(layers["fits A1g_center"].scale) == (0.7, 0.7)
    assert [str(u) for u in layers["fits A1g_center"].units] == ["micrometer"] * 2
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "map [1.0, 0.7, 0.7] ['1 / centimeter', 'micrometer', 'micrometer']"
    assert len(printed) == len(layers) + 1
    assert sum(ast.literal_eval(printed[-1]).values()) == 20  # the 4 x 5 verdicts
