"""Readers against mutated real files (benchmarks/robustness.py): every mutant ends in a
container or a one-line InputError naming the file; never a crash, a hang or a huge
allocation. The harness itself is checked on planted crashes, hangs and allocations."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tmdlearn.data import SpectralMap
from tmdlearn.errors import InputError
from tmdlearn.io import read
from tmdlearn.io import spectra as spectra_io

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
pytest.importorskip("resource", reason="the mutant harness forks under POSIX limits")
import robustness  # noqa: E402

WDF = ROOT / "tests" / "data" / "renishaw-wdf" / "Si-map.wdf"
#: Mutants per family in the default suite (the full run, 200 each, is marked slow).
FAST = {"afm": 8, "wdf": 12, "text": 8, "npz_npy": 8, "tiff": 8, "dm": 3, "nexus": 8,
        "wire_text": 8, "sif": 12, "spe": 12}


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    return robustness.families(tmp_path_factory.mktemp("real"))


@pytest.mark.parametrize("family", list(FAST))
def test_mutants_end_in_a_container_or_a_clean_error(families, family, tmp_path):
    if not families.get(family):
        pytest.skip(f"no {family} files here (../shared/data or rosettasciio missing)")
    result = robustness.run_family(families[family], FAST[family], seed=11, folder=tmp_path)
    assert result["crash"] == result["hang"] == result["oom"] == 0, result["failures"]
    assert result["read"] + result["clean_error"] == FAST[family]


@pytest.mark.slow
def test_full_fuzz_run():
    readers = robustness.reader_checks(per_family=200, seed=0)
    for family, result in readers.items():
        assert result["mutants"] == 200
        assert result["crash"] == result["hang"] == result["oom"] == 0, (family, result)


def _planted(monkeypatch, tmp_path, reader, **limits):
    monkeypatch.setattr(spectra_io, "read_wdf", reader)
    path = tmp_path / "planted.wdf"
    path.write_bytes(WDF.read_bytes())
    return robustness.try_read(path, {}, **limits)


def test_harness_counts_a_crash(monkeypatch, tmp_path):
    def crash(*args):
        raise KeyError("planted")

    assert _planted(monkeypatch, tmp_path, crash)["outcome"] == "crash"


def test_harness_counts_a_hang(monkeypatch, tmp_path):
    def spin(*args):
        while True:
            pass

    assert _planted(monkeypatch, tmp_path, spin, cpu_s=1)["outcome"] == "hang"


def test_harness_counts_an_allocation_past_the_limit(monkeypatch, tmp_path):
    def allocate(*args):
        return np.ones(robustness.MEMORY_LIMIT_BYTES // 4)  # twice the limit

    assert _planted(monkeypatch, tmp_path, allocate)["outcome"] == "oom"


def test_mutations_change_the_file_as_named():
    data = bytes(range(256)) * 64
    rng = np.random.default_rng(0)
    assert len(robustness.mutate(data, "truncate", rng)) < len(data)
    flipped = robustness.mutate(data, "flip", rng)
    assert len(flipped) == len(data) and flipped != data
    zeroed = np.frombuffer(robustness.mutate(data, "zero_block", rng), np.uint8)
    assert np.sum(zeroed != np.frombuffer(data, np.uint8)) > 400  # 512 bytes, some already 0
    text = b"".join(b"%d\t%d\n" % (i, i * i) for i in range(50))
    changed = robustness.mutate(text, "header_number", np.random.default_rng(1))
    assert changed != text and changed.count(b"\n") == 50


def test_wdf_reads_as_renishaw_wdf_does():
    from wdf import Wdf

    image = read(WDF)
    assert isinstance(image, SpectralMap) and image.intensity.shape == (11, 8, 575)
    with Wdf(str(WDF)) as reference:
        first = np.asarray(reference.spectrum(0))
        axis = np.asarray(reference.xlist())
    order = np.argsort(axis)
    np.testing.assert_allclose(image.axis, axis[order])
    np.testing.assert_allclose(image.intensity[0, 0], first[order])


def _zeroed(tmp_path, start: int, size: int = 4096) -> Path:
    data = bytearray(WDF.read_bytes())
    data[start: start + size] = bytes(len(data[start: start + size]))
    path = tmp_path / f"zeroed-{start}.wdf"
    path.write_bytes(bytes(data))
    return path


def test_wdf_zeroed_block_answers_on_the_command_line(tmp_path):
    """The issue's case: a zeroed 4 kB block (here over the XLST block header) made
    renishaw-wdf hop in place for ever; `tmdlearn inspect` must answer (the timeout fails
    the test)."""
    path = _zeroed(tmp_path, 200704)
    done = subprocess.run([sys.executable, "-m", "tmdlearn", "inspect", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    err = done.stderr.strip()
    assert "\n" not in err and str(path) in err and "declares 0 bytes" in err


@pytest.mark.parametrize(("start", "size", "message"), [
    (0, 4096, "no 512-byte WDF1 header"),
    (202928, 16, "block '(blank)' at byte 202928 declares 0 bytes"),
])
def test_wdf_zeroed_regions(tmp_path, start, size, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(_zeroed(tmp_path, start, size))


@pytest.mark.parametrize(("offset", "fmt", "value", "message"), [
    (64, "<Q", 2**40, "the header declares 1099511627776 spectra of 575 points"),
    (60, "<I", 0x7FFFFFFF, "spectra of 2147483647 points"),
    (88, "<I", 10**6, "an axis of 1000000 points"),
    (512 + 8, "<Q", 2**62, "block 'DATA' at byte 512 declares"),
])
def test_wdf_header_numbers_checked_against_the_file(tmp_path, offset, fmt, value, message):
    data = bytearray(WDF.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path = tmp_path / "numbers.wdf"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=message) as info:
        read(path)
    assert str(path) in str(info.value)


def test_wdf_truncated(tmp_path):
    path = tmp_path / "cut.wdf"
    path.write_bytes(WDF.read_bytes()[:100_000])
    with pytest.raises(InputError, match="block 'DATA' at byte 512 declares 202416 bytes; "
                                         "the file has 99488"):
        read(path)


def _npy_bytes(shape, values: np.ndarray) -> bytes:
    """An .npy file whose header declares ``shape`` but that holds ``values``."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + values.astype("<f8").tobytes()


def test_npy_header_shape_checked_against_the_file(tmp_path):
    path = tmp_path / "big.npy"
    path.write_bytes(_npy_bytes((40000, 50), np.ones((40, 50))))
    with pytest.raises(InputError, match=r"declares shape \(40000, 50\) of float64 "
                                         r"\(16000000 bytes\) but holds 16000 bytes"):
        read(path, pixel_size_nm=1.0)


def test_npz_member_shape_checked_before_allocation(tmp_path):
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("image.npy", _npy_bytes((100000, 100000), np.zeros((64, 64))))
    with pytest.raises(InputError, match=r"array 'image.npy' declares shape \(100000, "
                                         r"100000\) of float64 \(80000000000 bytes\)"):
        read(path, modality="stem", pixel_size_angstrom=0.1)


def test_tiff_page_size_checked_against_the_file(tmp_path):
    import tifffile

    path = tmp_path / "wide.tif"
    tifffile.imwrite(path, np.arange(256, dtype=np.uint16).reshape(16, 16))
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] in (256, 257):  # image width, length
            struct.pack_into("<I", data, at + 8, 60000)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"the TIFF page declares shape \(60000, 60000\) of "
                                         r"uint16 \(7200000000 bytes\) but holds"):
        read(path, pixel_size_angstrom=0.1)


@pytest.fixture
def nexus_file(tmp_path):
    from tmdlearn.interop.nexus import write_nexus

    return write_nexus(tmp_path / "map.nxs", read(WDF))


def test_hdf5_with_a_byte_inserted_is_refused_before_the_library_walks_it(nexus_file):
    """One ASCII number lengthened by a byte (a date attribute '06' -> 'nan') shifted every
    address after it and made the HDF5 library loop in its metadata decoding."""
    data = nexus_file.read_bytes()
    at = data.index(b"T", data.index(b"20", 2000)) - 2  # the day of the process date
    nexus_file.write_bytes(data[:at] + b"nan" + data[at + 2:])
    ended = robustness.try_read(nexus_file, {})  # forked, CPU-limited: a hang fails
    assert ended["outcome"] == "clean_error", ended
    assert ended["detail"].startswith(f"the HDF5 superblock says the data end at byte "
                                      f"{len(data)} but the file has {len(data) + 1} bytes")


def test_hdf5_metadata_damage_is_one_clean_line(nexus_file):
    data = bytearray(nexus_file.read_bytes())
    rng = np.random.default_rng(1)
    ended = set()
    for _ in range(6):
        damaged = bytearray(data)
        for at in rng.integers(800, 4096, 8):
            damaged[at] ^= 0xFF
        nexus_file.write_bytes(bytes(damaged))
        try:
            read(nexus_file)
            ended.add("read")
        except InputError as err:
            assert str(nexus_file) in str(err) and "\n" not in str(err)
            ended.add("error")
    assert "error" in ended


def _dm3(fields_declared: int, fields: int = 3) -> bytes:
    """A minimal .dm3: one data tag holding a struct of ``fields`` doubles whose info words
    declare ``fields_declared`` fields."""
    info = [15, 0, fields_declared] + [0, 7] * fields
    tag = (struct.pack(">BH", 21, 1) + b"a" + b"%%%%" + struct.pack(">I", len(info))
           + struct.pack(f">{len(info)}I", *info) + np.arange(fields, dtype="<f8").tobytes())
    body = struct.pack(">BBI", 0, 1, 1) + tag + bytes(8)
    return struct.pack(">III", 3, len(body) + 8, 1) + body


def test_dm3_walk_accepts_a_consistent_tree_and_refuses_a_huge_struct(tmp_path):
    from tmdlearn.io.dm_layout import read_dm_tags

    good, bad = tmp_path / "good.dm3", tmp_path / "bad.dm3"
    good.write_bytes(_dm3(3))
    assert read_dm_tags(good) == (3, "<", [("a", (0.0, 1.0, 2.0))])
    bad.write_bytes(_dm3(3_000_000))
    with pytest.raises(InputError, match="a DM3 struct at byte 22 declares 3000000 fields in "
                                         "8 info words"):
        read_dm_tags(bad)


def test_real_dm3_with_a_flipped_field_count_answers(shared_data, tmp_path):
    """A byte flip in a struct's field count kept rosettasciio's DM reader busy for hours;
    tmdlearn's reader refuses it."""
    source = shared_data / "stem-real-tmd" / "example_Se_implanted_MoS2.dm3"
    data = bytearray(source.read_bytes())
    at = data.index(struct.pack(">4sII", b"%%%%", 9, 15))  # the first 3-field struct tag
    struct.pack_into(">I", data, at + 16, 0x00400000)  # its field count
    path = tmp_path / "flipped.dm3"
    path.write_bytes(bytes(data))
    ended = robustness.try_read(path, {})  # forked, CPU-limited: a hang fails, not stalls
    assert ended["outcome"] == "clean_error" and "declares 4194304 fields" in ended["detail"]
    assert read(source).intensity.shape == (1024, 1024)
