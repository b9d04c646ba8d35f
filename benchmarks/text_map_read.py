"""Reading large spectral maps exported as text: tmdlearn.read against pandas.read_csv alone.

Writes two maps of ``--side`` x ``--side`` spectra of ``--points`` points each, as labs export
them: a Renishaw WiRE long table (``#X #Y #Wave #Intensity``, one row per position and axis
point) and a LabSpec 6 map (an axis row, then ``X Y intensities...`` per pixel). Times
``tmdlearn.io.read`` (the map with its grid, units and checks) and, as the peer, a bare
``pandas.read_csv`` of the same file (numbers only, no map), best of ``--repeat``; checks the
map against the planted values. Prints one JSON object with the ratio tmdlearn / pandas.

    PYTHONPATH=src python benchmarks/text_map_read.py [--side 45] [--points 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.io import read


def write_maps(folder: Path, side: int, points: int, rng) -> tuple[dict, np.ndarray]:
    """The two text maps of one planted cube (side, side, points), and the cube."""
    axis = np.linspace(3200.0, 100.0, points)
    cube = np.round(rng.normal(1000, 30, (side, side, points)), 3)
    x = np.arange(side) * 0.5
    wire, labspec = folder / "wire.txt", folder / "labspec.txt"
    with wire.open("w") as f:
        f.write("#X\t#Y\t#Wave\t#Intensity\n")
        for iy in range(side):
            for ix in range(side):
                block = np.column_stack([np.full(points, x[ix]), np.full(points, x[iy]), axis,
                                         cube[iy, ix]])
                np.savetxt(f, block, fmt="%.6f", delimiter="\t")
    with labspec.open("w") as f:
        f.write("\t\t" + "\t".join(f"{a:.6f}" for a in axis) + "\n")
        rows = np.column_stack([np.tile(x, side), np.repeat(x, side),
                                cube.reshape(side * side, points)])
        np.savetxt(f, rows, fmt="%.6f", delimiter="\t")
    return {"wire_long": wire, "labspec_map": labspec}, cube[:, :, ::-1]


def best(fn, repeat: int) -> float:
    """Shortest wall time (s) of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=45)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out = {"side": args.side, "points": args.points, "spectra": args.side ** 2}
    with tempfile.TemporaryDirectory() as tmp:
        files, cube = write_maps(Path(tmp), args.side, args.points, np.random.default_rng(0))
        for name, path in files.items():
            smap = read(path)
            ours = best(lambda p=path: read(p), args.repeat)
            peer = best(lambda p=path: pd.read_csv(p, sep="\t", header=None, skiprows=1),
                        args.repeat)
            out[name] = {"megabytes": round(path.stat().st_size / 1e6, 1),
                         "tmdlearn_s": round(ours, 3), "pandas_read_csv_s": round(peer, 3),
                         "ratio": round(ours / peer, 2),
                         "max_abs_error": float(np.abs(smap.intensity - cube).max())}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
