"""Interop round trips and open times: NeXus (h5py) and HyperSpy (when installed).

Prints one JSON object: for each container (SpectralMap, Spectra, HeightMap, StemImage,
FitMaps) and each route, the maximum absolute difference of data and axes after the round trip
(0 is exact) and whether units, grid and excitation came back equal; then the seconds to write
and to open a 1,000 x 1,000-pixel fit result (8 parameter images with standard errors, float64)
through each route, best of ``--repeat``. HyperSpy is GPL and optional: its entries say
"not installed" without it.
Run: ``PYTHONPATH=src python benchmarks/interop.py [--pixels 1000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.interop.nexus import read_nexus, write_nexus
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
    print(json.dumps(report))


if __name__ == "__main__":
    main()
