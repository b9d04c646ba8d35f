"""tmdlearn's STEM readers on real microscope files, side by side with rosettasciio (the peer
library, GPL, optional here).

The files are the DigitalMicrograph (.dm3, .dm4, DM-exported .tif), Velox and Berkeley /
Prismatic (.emd) and TIA (.ser) files of HyperSpy 1.7.2's test data, written by the
instruments' own software (Gatan GMS, Thermo Fisher Velox and TIA, Prismatic). They are GPL
and are not committed; get them from the source distribution on PyPI:

    curl -sSfLO https://files.pythonhosted.org/packages/b1/6b/08833d23bc10525e6fad6006f5ccde7464835f4371dddb4905f0d78c4cc9/hyperspy-1.7.2.tar.gz
    tar xzf hyperspy-1.7.2.tar.gz --wildcards '*/tests/io/*'
    unzip -q -o hyperspy-1.7.2/hyperspy/tests/io/emd_files/fei_emd_files.zip \
        -d hyperspy-1.7.2/hyperspy/tests/io/emd_files/fei

For every file: ``tmdlearn.io.read(path, modality="stem")`` and rosettasciio's reader of the
format. Where tmdlearn reads an image, it must equal one image (or the first frame) of
rosettasciio's with the same pixel size (``agree``); where it refuses, the reason is kept. A
file counts as an ``image`` when rosettasciio gives a signal with two real-space axes in one
length unit; the others (spectra, spectrum images, diffraction patterns, Fourier transforms,
4-D data) should be refused. Prints one JSON object: per-file rows and the counts.

    PYTHONPATH=src python benchmarks/stem_readers_real.py --data hyperspy-1.7.2/hyperspy/tests/io
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path

import numpy as np

from tmdlearn.errors import InputError
from tmdlearn.io import read
from tmdlearn.io.stem import angstrom_per_unit

#: The file suffixes read here, and rosettasciio's module for each.
PEERS = {".dm3": "digitalmicrograph", ".dm4": "digitalmicrograph", ".emd": "emd",
         ".ser": "tia", ".tif": "tiff"}


def peer_images(path: Path) -> tuple[list[tuple[np.ndarray, float]], str]:
    """rosettasciio's real-space images of ``path``: (frames or image, pixel size Å) of each
    signal whose last two axes share a length unit, and a description of all signals."""
    import importlib

    reader = importlib.import_module(f"rsciio.{PEERS[path.suffix.lower()]}").file_reader
    try:
        signals = reader(str(path))
    except Exception as err:  # noqa: BLE001 - the peer's own failure is reported
        return [], f"rosettasciio: {type(err).__name__}: {str(err)[:80]}"
    images, described = [], []
    for signal in signals:
        data, axes = np.asarray(signal["data"]), signal["axes"]
        units = [str(axis.get("units", "")) for axis in axes]
        described.append(f"{data.shape} {data.dtype} {units}")
        factor = angstrom_per_unit(units[-1]) if units else None
        if data.ndim >= 2 and data.dtype.kind in "iufb" and len(units) == data.ndim \
                and units[-1] == units[-2] and factor is not None:
            images.append((data.reshape(-1, *data.shape[-2:]),
                           float(axes[-1].get("scale", 0)) * factor))
    return images, "; ".join(described)


def compare(path: Path) -> dict:
    """One file's row: tmdlearn's image or refusal against rosettasciio's images."""
    images, described = peer_images(path)
    row = {"peer": described, "peer_has_image": bool(images)}
    try:
        image = read(path, modality="stem")
    except InputError as err:
        row["refused"] = err.problem
        return row
    row.update(shape=list(image.shape), pixel_size_angstrom=image.pixel_size_angstrom)
    row["agree"] = any(
        frames.shape[1:] == image.shape and np.isclose(pixel, image.pixel_size_angstrom)
        and any(np.array_equal(frame, image.intensity) for frame in frames)
        for frames, pixel in images)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help="hyperspy-1.7.2/hyperspy/tests/io (see the module doc)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # rosettasciio logs its warnings to stdout
    files = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in PEERS
                   and (p.suffix.lower() != ".tif" or "saved_with_DM" in p.name))
    rows = {str(p.relative_to(args.data)): compare(p) for p in files}
    read_rows = [r for r in rows.values() if "refused" not in r]
    print(json.dumps({
        "data": str(args.data), "files": len(rows),
        "read": len(read_rows), "read_agree": sum(r["agree"] for r in read_rows),
        "read_without_peer_image": sum(not r["peer_has_image"] for r in read_rows),
        "refused": len(rows) - len(read_rows),
        "refused_with_peer_image": [name for name, r in rows.items()
                                    if "refused" in r and r["peer_has_image"]],
        "rows": rows}, indent=1, default=float))


if __name__ == "__main__":
    main()
