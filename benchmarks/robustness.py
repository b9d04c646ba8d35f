"""Readers against mutated real files: how each of >= 200 mutants per reader family ended.

Each mutant (a truncation, flipped bytes, a changed header number or a zeroed 4 kB block of
a real instrument file; seeded) is read by ``tmdlearn.io.read`` in a forked child limited to
3 GB of address space beyond what it inherited and to 10 s of CPU time (the machine is shared,
so CPU time, not wall time, is the measure; a 60 s wall clock is the backstop). Outcomes:
``read`` (a container came back), ``clean_error`` (one-line InputError naming the file),
``crash`` (any other exception, or an InputError that does not name the file, or a signal),
``hang`` (CPU or wall limit) and ``oom`` (MemoryError or the address-space limit). Prints
one JSON object; ``models`` holds ``benchmarks/robustness_models.model_checks()`` where that
module exists.

    nice -n 10 python benchmarks/robustness.py [--per-family 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import select
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
MEMORY_LIMIT_BYTES = 3 * 1024**3
CPU_LIMIT_S = 10
WALL_LIMIT_S = 60
KINDS = ("truncate", "flip", "header_number", "zero_block")
BLOCK = 4096
OUTCOMES = ("read", "clean_error", "crash", "hang", "oom")
_DIGITS = re.compile(rb"\d+(?:\.\d+)?")
#: Replacement header numbers: zero, negative, huge, overflowing, not finite.
TEXT_NUMBERS = (b"0", b"-1", b"99999999999", b"4294967295", b"1e308", b"nan", b"3")
BINARY_NUMBERS = (0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000000, 0xFFFF)


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """One seeded mutation of ``data``: ``truncate``, ``flip`` (1-16 bytes), ``header_number``
    (an ASCII number in the first 8 kB, else a 4- or 8-byte integer near the start or end,
    set to 0, -1, huge...) or ``zero_block`` (a 4 kB-aligned block, 512 bytes in small files)."""
    out = bytearray(data)
    size = len(out)
    if kind == "truncate":
        limit = min(size, BLOCK) if rng.random() < 0.5 else size
        return bytes(out[: int(rng.integers(0, limit))])
    if kind == "flip":
        for _ in range(int(rng.integers(1, 17))):
            at = _offset(size, rng)
            out[at] ^= int(rng.integers(1, 256))
        return bytes(out)
    if kind == "header_number":
        numbers = list(_DIGITS.finditer(bytes(out[:8192])))
        if len(numbers) >= 10 and rng.random() < 0.7:
            match = numbers[int(rng.integers(len(numbers)))]
            new = TEXT_NUMBERS[int(rng.integers(len(TEXT_NUMBERS)))]
            return bytes(out[: match.start()]) + new + bytes(out[match.end():])
        width = 4 if rng.random() < 0.7 else 8
        at = min(_offset(size, rng) // width * width, max(size - width, 0))
        value = BINARY_NUMBERS[int(rng.integers(len(BINARY_NUMBERS)))]
        out[at: at + width] = (value * (1 if width == 4 else 0x100000001)).to_bytes(
            8, "little")[:width]
        return bytes(out[:size])
    if kind == "zero_block":
        span = BLOCK if size > 4 * BLOCK else 512
        start = int(rng.integers(0, max(size // span, 1))) * span
        out[start: start + span] = bytes(len(out[start: start + span]))
        return bytes(out)
    raise ValueError(f"unknown mutation {kind!r}")


def _offset(size: int, rng: np.random.Generator) -> int:
    """A byte offset: in the first 4 kB (headers) 60 % of the time, the last 4 kB (zip
    directories, trailing tags) 20 %, anywhere 20 %."""
    where = rng.random()
    if where < 0.6:
        return int(rng.integers(0, min(size, BLOCK)))
    if where < 0.8:
        return int(rng.integers(max(size - BLOCK, 0), size))
    return int(rng.integers(0, size))


def _mapped_bytes() -> int:
    """Address space this process has mapped already (Linux; 0 elsewhere): a parent that
    imported torch maps gigabytes, which an absolute limit would leave its child without."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def try_read(path: Path, options: dict, cpu_s: int = CPU_LIMIT_S,
             wall_s: float = WALL_LIMIT_S) -> dict:
    """Read ``path`` in a forked child under the memory limit and ``cpu_s`` of CPU time
    (``wall_s`` of wall clock); its outcome, detail, wall and CPU seconds."""
    reader, writer = os.pipe()
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.close(reader)
        limit = _mapped_bytes() + MEMORY_LIMIT_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        result = _outcome(path, options)
        os.write(writer, json.dumps(result).encode())
        os._exit(0)
    os.close(writer)
    ready, _, _ = select.select([reader], [], [], wall_s)
    chunks = []
    while ready:
        chunk = os.read(reader, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - began
    if chunks:
        result = json.loads(b"".join(chunks))
    elif not ready or os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
        result = {"outcome": "hang", "detail": f"past {cpu_s} s CPU or {wall_s} s"}
    else:
        result = {"outcome": "crash", "detail": f"signal {os.WTERMSIG(status)}"}
    result["wall_s"] = round(wall, 3)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    result["max_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: kB
    return result


def _outcome(path: Path, options: dict) -> dict:
    from tmdlearn.errors import InputError
    from tmdlearn.io import read

    try:
        read(path, **options)
    except InputError as err:
        text = str(err)
        if str(path) in text and "\n" not in text:
            return {"outcome": "clean_error", "detail": text[len(str(path)) + 2:][:120]}
        return {"outcome": "crash", "detail": f"InputError not naming the file: {text[:200]}"}
    except MemoryError as err:
        return {"outcome": "oom", "detail": str(err)[:120]}
    except BaseException as err:  # noqa: BLE001 - counting every other ending is the point
        return {"outcome": "crash", "detail": f"{type(err).__name__}: {str(err)[:200]}"}
    return {"outcome": "read"}


def families(folder: Path) -> dict[str, list[tuple[Path, dict]]]:
    """Real files per reader family ({family: [(path, read options)]}); files derived from
    real ones (.gwy, .npz, .npy, LabSpec text, .tif, NeXus) are written into ``folder``."""
    from tmdlearn.interop.nexus import write_nexus
    from tmdlearn.io import read, write_height_map, write_labspec, write_stem

    afm_dir, wdf = TEST_DATA / "afm-bruker", TEST_DATA / "renishaw-wdf" / "Si-map.wdf"
    height = read(afm_dir / "di-5.di")
    labspec = write_labspec(folder / "Si-map-labspec.txt", read(wdf))
    found = {
        "afm": [(afm_dir / "di-1.di", {}), (afm_dir / "di-5.di", {}),
                (write_height_map(folder / "di-5.gwy", height), {})],
        "wdf": [(wdf, {})],
        "text": [*((p, {}) for p in sorted((TEST_DATA / "spectra-wse2mose2").glob("*_*.txt"))),
                 (labspec, {})],
        "npz_npy": [(write_height_map(folder / "di-5.npz", height), {})],
        "tiff": [],
        "nexus": [(write_nexus(folder / "Si-map.nxs", read(wdf)), {}),
                  (write_nexus(folder / "di-5.nxs", height), {})],
    }
    npy = folder / "di-5.npy"
    np.save(npy, height.height_nm.astype(np.float32))
    found["npz_npy"].append((npy, {"pixel_size_nm": height.pixel_size_nm}))
    stem_dir = SHARED_DATA / "stem-real-tmd"
    if stem_dir.is_dir():
        found["npz_npy"].append((stem_dir / "dataset_mose2_40KeV_converted.npz",
                                 {"modality": "stem", "pixel_size_angstrom": 0.135}))
        tif = stem_dir / "MoSe2_80K_samll_region.tif"
        found["tiff"].append((tif, {"pixel_size_angstrom": 0.078}))
        found["tiff"].append((write_stem(folder / "MoSe2_80K.tif",
                                         read(tif, pixel_size_angstrom=0.078)), {}))
        found["dm"] = [(stem_dir / "example_Se_implanted_MoS2.dm3", {})]
    found["tiff"].append((write_stem(folder / "di-5-stem.tif", _as_stem(height)), {}))
    found.update(_spectrometer_files(folder, read(wdf)))
    return found


def _spectrometer_files(folder: Path, spectral_map) -> dict[str, list[tuple[Path, dict]]]:
    """The Si-map.wdf spectra as a WiRE long text export, an Andor SIF (3 spectra) and SPE
    2.x / 3.0 files (written as the tests write them: no real ones are in the test data)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from sif_files import write_sif
    from spe_files import write_spe2, write_spe3

    cube, axis = spectral_map.intensity, spectral_map.axis
    wire = folder / "Si-map-wire.txt"
    with wire.open("w") as handle:
        handle.write("#X\t#Y\t#Wave\t#Intensity\n")
        for iy, ix in np.ndindex(cube.shape[:2]):
            rows = np.column_stack([np.full(axis.size, ix), np.full(axis.size, iy),
                                    axis[::-1], cube[iy, ix, ::-1]])
            np.savetxt(handle, rows, fmt="%.6f", delimiter="\t")
    counts = np.clip(cube.reshape(-1, axis.size)[:3], 0, 65535)
    nm = 1e7 / (1e7 / 532.0 - axis)  # the Raman shifts as wavelengths under a 532 nm laser
    fit = np.polynomial.polynomial.polyfit(np.arange(1, axis.size + 1), nm, 3)
    return {
        "wire_text": [(wire, {})],
        "sif": [(write_sif(folder / "Si.sif", counts, coefficients=tuple(fit)), {})],
        "spe": [(write_spe2(folder / "Si-2.spe", counts[:, None].astype("<u2"),
                            coefficients=tuple(fit)), {}),
                (write_spe3(folder / "Si-3.spe", counts[:, None].astype("<u2"), nm,
                            laser_nm=532.0, frame_metadata_bytes=16), {})],
    }


def _as_stem(height):
    from tmdlearn.data import StemImage

    return StemImage(height.height_nm, 0.1)


def run_family(files: list[tuple[Path, dict]], count: int, seed: int, folder: Path) -> dict:
    """Read ``count`` mutants of ``files`` (round robin over files and mutation kinds)."""
    rng = np.random.default_rng(seed)
    tally: Counter = Counter()
    by_kind: dict[str, Counter] = {kind: Counter() for kind in KINDS}
    failures, slowest, rss = [], 0.0, 0.0
    originals = [path.read_bytes() for path, _ in files]
    for index in range(count):
        which = index % len(files)
        kind = KINDS[(index // len(files)) % len(KINDS)]
        path, options = files[which]
        mutant = folder / f"mutant{path.suffix}"
        mutant.write_bytes(mutate(originals[which], kind, rng))
        result = try_read(mutant, options)
        tally[result["outcome"]] += 1
        by_kind[kind][result["outcome"]] += 1
        slowest = max(slowest, result["wall_s"])
        rss = max(rss, result["max_rss_mb"])
        if result["outcome"] not in ("read", "clean_error"):
            failures.append({"file": path.name, "mutation": kind, "index": index,
                             **{k: result[k] for k in ("outcome", "detail")}})
    return {"files": [path.name for path, _ in files], "mutants": count,
            **{name: tally[name] for name in OUTCOMES},
            "by_mutation": {kind: dict(counter) for kind, counter in by_kind.items()},
            "slowest_wall_s": round(slowest, 2), "max_rss_mb": rss, "failures": failures[:10]}


def reader_checks(per_family: int = 200, seed: int = 0, only: list[str] | None = None) -> dict:
    """{family: tally} for every reader family found (``only``: a subset by name)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        found = families(folder)
        return {name: run_family(files, per_family, seed + i, folder)
                for i, (name, files) in enumerate(found.items())
                if files and (only is None or name in only)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    began = time.perf_counter()
    readers = reader_checks(args.per_family, args.seed, args.only)
    result = {
        "limits": {"memory_bytes": MEMORY_LIMIT_BYTES, "cpu_s": CPU_LIMIT_S,
                   "wall_s": WALL_LIMIT_S},
        "seed": args.seed, "readers": readers,
        "totals": {name: sum(r[name] for r in readers.values()) for name in OUTCOMES},
        "wall_s": round(time.perf_counter() - began, 1),
        "load_average": os.getloadavg()[0],
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from robustness_models import model_checks
    except ImportError:
        pass
    else:
        result["models"] = model_checks()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
