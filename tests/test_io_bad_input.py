"""Bad input: every unreadable file ends in InputError naming the file and the problem."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nion_files import properties, write_ndata, write_nhdf
from tmdlearn.cli import main
from tmdlearn.data import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.io import read

CONTAINERS = (HeightMap, Spectra, SpectralMap, StemImage)


def _raises(path, match, **options):
    with pytest.raises(InputError, match=match) as info:
        read(path, **options)
    assert str(path) in str(info.value)
    return info.value


def test_truncated_nanoscope_file(test_data):
    _raises(test_data / "afm-bruker" / "di_corrupted.di", "not large enough")


@pytest.mark.parametrize("suffix", [".di", ".spm", ".txt", ".csv", ".npy", ".npz", ".tif",
                                    ".gwy", ".wdf", ".ibw", ".001"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    _raises(path, "empty")


@pytest.mark.parametrize("suffix", [".di", ".txt", ".npy", ".npz", ".tif", ".gwy", ".wdf",
                                    ".ibw", ".nid", ".jpk", ".dm4"])
def test_random_bytes(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _raises(path, ".")


def test_missing_file(tmp_path):
    _raises(tmp_path / "nothing.txt", "no such file")


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.xyzzy"
    path.write_text("hello\n")
    _raises(path, "unknown file format")


def test_text_with_nan(tmp_path):
    path = tmp_path / "nan.txt"
    path.write_text("100\t1\n101\tnan\n102\t3\n")
    _raises(path, "NaN")


def test_non_monotonic_axis(tmp_path):
    path = tmp_path / "zigzag.txt"
    axis = np.random.default_rng(0).permutation(np.arange(100.0, 200.0))
    path.write_text("\n".join(f"{x}\t1" for x in axis))
    _raises(path, "not monotonic")


def test_descending_axis_is_fine(tmp_path):
    path = tmp_path / "descending.txt"
    path.write_text("\n".join(f"{x}\t{x}" for x in range(300, 100, -1)))
    spectrum = read(path)
    assert spectrum.axis[0] == 101 and spectrum.intensity[0, 0] == 101


def test_mismatched_columns(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("100,1\n101,2\n102,3,4\n")
    _raises(path, "line 3 has 3 columns")


def test_text_that_is_not_numbers(tmp_path):
    path = tmp_path / "prose.txt"
    path.write_text("just some words\nand more words\n")
    _raises(path, "no numeric data")


def test_labspec_map_row_width(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("\t\t100\t200\t300\n0\t0\t1\t2\n0\t1\t1\t2\n")
    _raises(path, r"line 2 has 2 intensities but the axis line \(line 1\) has 3")


def test_unknown_option(tmp_path, test_data):
    with pytest.raises(InputError, match="unknown read option"):
        read(test_data / "afm-bruker" / "di-1.di", chanel="height")


def test_cli_gives_one_line_and_exit_2(test_data, capsys):
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(test_data / "afm-bruker" / "di_corrupted.di")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "di_corrupted.di" in err and "\n" not in err


def _check(path):
    try:
        result = read(path)
    except InputError as err:
        assert str(path) in str(err)
        return
    assert isinstance(result, CONTAINERS)


FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(min_size=0, max_size=3000),
       suffix=st.sampled_from([".txt", ".csv", ".di", ".spm", ".gwy", ".npy", ".npz", ".tif",
                               ".wdf", ".ibw", ".nid", ".000", ".spc", ".nxs", ".nhdf",
                               ".ndata1"]))
def test_fuzz_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _check(path)


@pytest.mark.parametrize("suffix", [".txt", ".nxs"])
def test_a_bare_hdf5_signature_is_a_truncated_superblock(tmp_path, suffix):
    """Found by the fuzz test: a file holding only the 8-byte HDF5 signature."""
    path = tmp_path / f"sig{suffix}"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(InputError, match="truncated HDF5 superblock"):
        read(path)


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory, test_data):
    from tmdlearn.io import write_height_map, write_labspec, write_stem

    folder = tmp_path_factory.mktemp("valid")
    rng = np.random.default_rng(3)
    files = [
        write_height_map(folder / "h.npz", HeightMap(rng.random((16, 16)), 1.0)),
        write_height_map(folder / "h.gwy", HeightMap(rng.random((16, 16)), 1.0)),
        write_stem(folder / "s.tif", StemImage(rng.random((16, 16)), 0.3)),
        write_labspec(folder / "m.txt", SpectralMap(rng.random((2, 3, 20)),
                                                    np.linspace(100, 300, 20), "cm-1", 1.0)),
        shutil.copy(test_data / "spectra-wse2mose2" / "MoSe2_Raman.txt", folder / "r.txt"),
    ]
    small = rng.integers(0, 1000, (16, 16)).astype(np.uint16)
    files += [write_nhdf(folder / "s.nhdf", small, properties(small.shape)),
              write_ndata(folder / "s.ndata1", small, properties(small.shape))]
    head = (test_data / "afm-bruker" / "di-1.di").read_bytes()[:60000]
    (folder / "cut.di").write_bytes(head)
    return [*map(str, files), str(folder / "cut.di")]


@FUZZ
@given(index=st.integers(0, 7), cuts=st.lists(st.tuples(st.integers(0, 10**6),
                                                         st.integers(0, 255)), max_size=8),
       truncate=st.one_of(st.none(), st.integers(0, 10**6)))
def test_fuzz_mutated_valid_files(tmp_path, valid_files, index, cuts, truncate):
    from pathlib import Path

    source = Path(valid_files[index])
    data = bytearray(source.read_bytes())
    for position, value in cuts:
        data[position % len(data)] = value
    if truncate is not None:
        data = data[: truncate % (len(data) + 1)]
    path = tmp_path / f"mutated{source.suffix}"
    path.write_bytes(bytes(data))
    _check(path)
