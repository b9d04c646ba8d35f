"""Interop round trips and open times: NeXus (h5py), HyperSpy and napari (when installed).

Prints one JSON object: for each container (SpectralMap, Spectra, HeightMap, StemImage,
FitMaps) and each route, the maximum absolute difference of data and axes after the round trip
(0 is exact) and whether units, grid and excitation came back equal; then the seconds to write
and to open a 1,000 x 1,000-pixel fit result (8 parameter images with standard errors, float64)
through each route, best of ``--repeat``. The napari route writes tmdlearn's files (AFM and
HAADF images, LabSpec text, NeXus fit results, ``atoms.csv``; values the file holds exactly:
float32 images, 10-digit text, a map grid in binary fractions) and opens them with the
plugin's reader through ``npe2.read``: layer data against the container, scale, translate and
units against its grid; the fit result's open time through ``npe2.read`` and napari's
``ViewerModel.open`` (layers made).
HyperSpy is GPL and optional, napari and npe2 too: their entries say "not installed" without.
Run: ``PYTHONPATH=src python benchmarks/interop.py [--pixels 1000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.interop.nexus import read_nexus, write_nexus
from tmdlearn.io import write_height_map, write_labspec, write_stem
from tmdlearn.io.atomic import write_json
from tmdlearn.spectra.fitmaps import FitMaps

PARAMETERS = ("E2g_center", "E2g_fwhm", "E2g_height", "A1g_center", "A1g_fwhm", "A1g_height",
              "r2", "chi2")
SAME = ("unit", "step_um", "origin_um", "excitation_nm", "pixel_size_nm", "pixel_size_angstrom",
        "channel")


def containers(rng) -> dict:
    return {
        "SpectralMap": SpectralMap(rng.normal(size=(20, 30, 500)), np.sort(rng.uniform(
            100, 600, 500)), "cm-1", 0.3, 532.0, origin_um=(-1.7, 4.1)),
        "Spectra": Spectra(rng.normal(size=(50, 800)), np.linspace(1.4, 2.2, 800), "eV", 633.0),
        "HeightMap": HeightMap(rng.normal(size=(512, 512)), 1.953125),
        "StemImage": StemImage(rng.random((512, 512)), 0.1037),
        "FitMaps": fit_result(rng, 64),
    }


def fit_result(rng, pixels: int) -> FitMaps:
    values = {name: rng.normal(400, 5, (pixels, pixels)) for name in PARAMETERS}
    errors = {name: rng.uniform(0.01, 0.5, (pixels, pixels)) for name in PARAMETERS[:6]}
    units = {name: ("1/cm" if name.endswith(("center", "fwhm")) else "counts"
                    if name.endswith("height") else "") for name in PARAMETERS}
    return FitMaps(values, errors, units, 0.5, (0.0, 0.0), {"model": "mos2-raman"})


def difference(item, back) -> dict:
    if isinstance(item, FitMaps):
        arrays = [(item.values[k], back.values[k]) for k in item.values]
        arrays += [(item.errors[k], back.errors[k]) for k in item.errors]
        same = (item.units == back.units and item.step_um == back.step_um
                and item.origin_um == back.origin_um)
    else:
        names = [n for n in ("intensity", "height_nm", "axis") if hasattr(item, n)]
        arrays = [(getattr(item, n), getattr(back, n)) for n in names]
        same = type(item) is type(back) and all(
            getattr(item, n) == getattr(back, n) for n in SAME if hasattr(item, n))
    worst = max(float(np.nanmax(np.abs(a - b))) for a, b in arrays)
    return {"max_abs_difference": worst, "units_axes_equal": bool(same)}


def routes(folder: Path) -> dict:
    result = {"nexus": (lambda item, name: write_nexus(folder / f"{name}.nxs", item),
                        lambda written: read_nexus(written))}
    try:
        from tmdlearn.interop.hyperspy import from_signal, to_signal

        to_signal(StemImage(np.ones((2, 2)), 1.0))
        result["hyperspy"] = (lambda item, name: to_signal(item), from_signal)
    except Exception:  # noqa: BLE001 - HyperSpy missing: reported as such
        pass
    return result


def napari_read():
    """npe2's ``read`` with tmdlearn's manifest registered (None without npe2)."""
    try:
        import npe2
    except ImportError:
        return None
    import tmdlearn.interop.napari as plugin

    manager = npe2.PluginManager.instance()
    if "tmdlearn" not in manager:
        manager.register(npe2.PluginManifest.from_file(Path(plugin.__file__).with_name(
            "napari.yaml")))
    return lambda path: npe2.read([str(path)], stack=False, plugin_name="tmdlearn")


def napari_round_trip(folder: Path, read, rng) -> dict:
    """Each file written by tmdlearn, opened through the plugin: data, grid and units."""
    counts = rng.poisson(500, (20, 30, 400)).astype(float)
    files = {
        "HeightMap": (HeightMap(rng.normal(size=(256, 256)).astype(np.float32), 1.953125),
                      "scan.npz", write_height_map),
        "StemImage": (StemImage(rng.random((256, 256)).astype(np.float32), 0.1037),
                      "haadf.tif", write_stem),
        # LabSpec text holds pixel positions: the reader's step is their difference, so a
        # grid in binary fractions (0.3 µm comes back as 0.29999999999999993 µm)
        "SpectralMap": (SpectralMap(counts, 100 + 0.5 * np.arange(400), "cm-1", 0.25, 532.0,
                                    origin_um=(-1.75, 4.125)), "map.txt", write_labspec),
        "Spectra": (Spectra(counts[0], np.linspace(1.4, 2.2, 401)[:400], "eV", 633.0),
                    "spectra.txt", write_labspec),
        "FitMaps": (fit_result(rng, 64), "fits.nxs", write_nexus),
    }
    result = {}
    for name, (item, file, write) in files.items():
        write(folder / file, item)
        result[name] = napari_difference(item, read(folder / file))
    atoms = pd.DataFrame({"x_px": rng.uniform(0, 255, 500), "y_px": rng.uniform(0, 255, 500),
                          "layer": rng.integers(0, 2, 500), "species": "C",
                          "score": rng.random(500)})
    atoms.to_csv(folder / "atoms.csv", index=False)  # as stem predict writes it
    write_json(folder / "quality.json", {"figures": {"pixel_size_angstrom": 0.1037}})
    points = read(folder / "atoms.csv")
    worst = max(float(np.max(np.abs(data - atoms.loc[atoms.layer == k["metadata"]["tmdlearn"][
        "layer"], ["y_px", "x_px"]].to_numpy()))) for data, k, _ in points)
    result["atoms.csv"] = {"max_abs_difference": worst, "units_axes_equal": all(
        k["scale"] == (0.1037, 0.1037) and k["units"] == ("angstrom", "angstrom")
        for _, k, _ in points) and sum(len(d) for d, _, _ in points) == len(atoms)}
    return result


def napari_difference(item, layers: list) -> dict:
    """Layers against the container: values (and standard errors), scale, translate, units."""
    if isinstance(item, FitMaps):
        x0, y0 = item.origin_um
        arrays, same = [], True
        for data, kwargs, _ in layers:
            info = kwargs["metadata"]["tmdlearn"]
            arrays.append((data, item.values[info["parameter"]]))
            if info["stderr"] is not None:
                arrays.append((info["stderr"], item.errors[info["parameter"]]))
            same &= (kwargs["scale"] == (item.step_um,) * 2 and kwargs["translate"] == (y0, x0)
                     and kwargs["units"] == ("um", "um")
                     and info["unit"] == item.units[info["parameter"]])
        same &= len(layers) == len(item.values)
        return {"max_abs_difference": max(float(np.max(np.abs(a - b))) for a, b in arrays),
                "units_axes_equal": bool(same)}
    (data, kwargs, _), = layers
    if isinstance(item, SpectralMap):
        from tmdlearn.interop.napari.layers import spectral_map

        step = item.axis[1] - item.axis[0]
        x0, y0 = item.origin_um
        out = difference(item, spectral_map(data, kwargs["metadata"]))
        out["units_axes_equal"] &= (kwargs["scale"] == (step, item.step_um, item.step_um)
                                    and kwargs["translate"] == (item.axis[0], y0, x0)
                                    and kwargs["units"] == ("1/cm", "um", "um"))
        return out
    if isinstance(item, Spectra):
        values, step = item.intensity, (item.axis[-1] - item.axis[0]) / (item.axis.size - 1)
        grid = ((1.0, step), ("pixel", "eV"), (0.0, item.axis[0]))
    elif isinstance(item, HeightMap):
        values, grid = item.height_nm, ((item.pixel_size_nm,) * 2, ("nm", "nm"), (0, 0))
    else:
        values, grid = item.intensity, ((item.pixel_size_angstrom,) * 2,
                                        ("angstrom", "angstrom"), (0, 0))
    same = (tuple(kwargs["scale"]) == grid[0] and tuple(kwargs["units"]) == grid[1]
            and tuple(kwargs.get("translate", (0, 0))) == grid[2])
    return {"max_abs_difference": float(np.max(np.abs(data - values))),
            "units_axes_equal": bool(same)}


def napari_open(folder: Path, read, rng, pixels: int, repeat: int) -> dict:
    """Seconds to open a ``pixels``² fit result NeXus file through npe2 and napari's viewer."""
    big = fit_result(rng, pixels)
    write_nexus(folder / "big.nxs", big)
    read_s, layers = best_time(lambda: read(folder / "big.nxs"), repeat)
    out = {"npe2_read_s": round(read_s, 3), **napari_difference(big, layers)}
    try:
        from napari.components import ViewerModel
    except ImportError:
        return out
    viewer = ViewerModel()

    def open_in_viewer():
        viewer.layers.clear()
        return viewer.open(folder / "big.nxs", plugin="tmdlearn")

    out["viewer_open_s"] = round(best_time(open_in_viewer, repeat)[0], 3)
    return out


def best_time(function, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = function()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    report: dict = {"round_trip": {}, "open_fit_result": {"pixels": args.pixels,
                                                          "parameters": len(PARAMETERS)}}
    with tempfile.TemporaryDirectory() as tmp:
        available = routes(Path(tmp))
        for route in ("nexus", "hyperspy"):
            if route not in available:
                report["round_trip"][route] = "not installed"
                report["open_fit_result"][route] = "not installed"
                continue
            write, read = available[route]
            report["round_trip"][route] = {
                name: difference(item, read(write(item, name)))
                for name, item in containers(rng).items()}
            big = fit_result(rng, args.pixels)
            write_s, written = best_time(lambda: write(big, "big"), args.repeat)  # noqa: B023
            open_s, back = best_time(lambda: read(written), args.repeat)  # noqa: B023
            report["open_fit_result"][route] = {
                "write_s": round(write_s, 3), "open_s": round(open_s, 3),
                **difference(big, back)}
            if route == "nexus":
                report["open_fit_result"]["nexus"]["file_mb"] = round(
                    Path(written).stat().st_size / 1e6, 1)
        read = napari_read()
        if read is None:
            report["round_trip"]["napari"] = report["open_fit_result"]["napari"] = (
                "not installed")
        else:
            report["round_trip"]["napari"] = napari_round_trip(Path(tmp), read, rng)
            report["open_fit_result"]["napari"] = napari_open(Path(tmp), read, rng,
                                                              args.pixels, args.repeat)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
