"""Galactic SPC files built byte by byte from the format's documented layout, read back."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmdlearn.errors import InputError
from tmdlearn.io import read

TSPREC, TMULTI, TXYXYS, TXVALS = 0x01, 0x04, 0x40, 0x80


def main_header(flags, npts, first, last, nsub=1, xtype=13, ytype=4, exp=-128, logoff=0):
    """The 512-byte new-format (0x4B) header with the SDK's field offsets."""
    head = bytearray(512)
    head[0], head[1] = flags, 0x4B
    struct.pack_into("<b", head, 3, exp)           # fexp
    struct.pack_into("<i", head, 4, npts)          # fnpts
    struct.pack_into("<d", head, 8, first)         # ffirst
    struct.pack_into("<d", head, 16, last)         # flast
    struct.pack_into("<i", head, 24, nsub)         # fnsub
    head[28], head[29] = xtype, ytype              # fxtype, fytype
    head[88:88 + 12] = b"MoS2 flake 1"             # fcmnt
    struct.pack_into("<i", head, 248, logoff)      # flogoff
    return bytes(head)


def sub_header(exp=-128, index=0, z=0.0, npts=0):
    """A 32-byte subfile header: subexp at byte 1, subindx 2, subtime 4, subnpts 16."""
    sub = bytearray(32)
    struct.pack_into("<bHf", sub, 1, exp, index, z)
    struct.pack_into("<I", sub, 16, npts)
    return bytes(sub)


def f32(values):
    return np.asarray(values, dtype="<f4").tobytes()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_single_float_raman_even_axis(tmp_path):
    y = np.arange(11, dtype=np.float32) * 1.5 + 100
    path = write(tmp_path, "raman.spc", main_header(0, 11, 100.0, 600.0) + sub_header() + f32(y))
    spectrum = read(path)
    assert spectrum.unit == "cm-1" and len(spectrum) == 1
    np.testing.assert_array_equal(spectrum.axis, np.linspace(100, 600, 11))
    np.testing.assert_array_equal(spectrum.intensity[0], y)
    assert spectrum.metadata["y_unit"] == "counts"
    assert spectrum.metadata["unit_source"] == "SPC header, fxtype 13 = Raman shift (cm-1)"


def test_multi_fixed_point_nm_with_z(tmp_path):
    # int32 fractions: y = n * 2**(exp - 32); exp 20 -> n = y * 2**12
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [-1, 0, 0.5, 9]], dtype=float)
    body = b"".join(sub_header(exp=20, index=i, z=10.0 * i)
                    + (truth[i] * 2**12).astype("<i4").tobytes() for i in range(3))
    path = write(tmp_path, "pl.spc",
                 main_header(TMULTI, 4, 600.0, 750.0, nsub=3, xtype=3, exp=0) + body)
    spectra = read(path)
    assert spectra.unit == "nm" and len(spectra) == 3
    np.testing.assert_array_equal(spectra.intensity, truth)
    np.testing.assert_array_equal(spectra.axis, [600, 650, 700, 750])
    assert spectra.metadata["z"] == [0.0, 10.0, 20.0]


def test_explicit_x_array_in_ev_and_16_bit_values(tmp_path):
    x = np.array([1.8, 1.85, 1.9, 2.0], dtype=np.float32)
    ints = np.array([100, -200, 300, 32000], dtype="<i2")  # y = n * 2**(exp - 16), exp 15
    path = write(tmp_path, "pl_ev.spc",
                 main_header(TXVALS | TSPREC, 4, 0.0, 0.0, xtype=14, exp=15)
                 + f32(x) + sub_header() + ints.tobytes())
    spectrum = read(path)
    assert spectrum.unit == "eV"
    np.testing.assert_array_equal(spectrum.axis, x.astype(float))
    np.testing.assert_array_equal(spectrum.intensity[0], ints / 2.0)


def test_xyxy_subfiles_share_an_axis_or_are_refused(tmp_path):
    x = f32([150, 250, 350])
    same = b"".join(sub_header(npts=3) + x + f32([i, i + 1, i + 2]) for i in range(2))
    path = write(tmp_path, "xy.spc", main_header(TMULTI | TXVALS | TXYXYS, 0, 0, 0, nsub=2) + same)
    spectra = read(path)
    np.testing.assert_array_equal(spectra.axis, [150, 250, 350])
    np.testing.assert_array_equal(spectra.intensity, [[0, 1, 2], [1, 2, 3]])
    other = (sub_header(npts=3) + x + f32([0, 1, 2])
             + sub_header(npts=2) + f32([150, 350]) + f32([1, 2]))
    path = write(tmp_path, "xy2.spc", main_header(TMULTI | TXVALS | TXYXYS, 0, 0, 0, nsub=2)
                 + other)
    with pytest.raises(InputError, match=r"xy2.spc: SPC spectrum 2 has its own X axis"):
        read(path)


def test_arbitrary_x_type_is_inferred_and_log_gives_laser(tmp_path):
    y = f32([1, 2, 3, 4, 5])
    data_end = 512 + 32 + len(y)
    log_text = b"Laser=\t532.1 nm\r\nAcq. time (s)=\t10\r\n\0"
    log = struct.pack("<iiiii", 64 + len(log_text), 64 + len(log_text), 64, 0, 0)
    log += bytes(64 - len(log)) + log_text
    path = write(tmp_path, "unknown_x.spc",
                 main_header(0, 5, 1.6, 2.4, xtype=0, logoff=data_end) + sub_header() + y + log)
    spectrum = read(path)
    assert spectrum.unit == "eV" and spectrum.metadata["unit_source"] == "value range"
    assert spectrum.excitation_nm == pytest.approx(532.1)
    assert read(path, unit="nm").unit == "nm"


def test_old_format_words_swapped(tmp_path):
    head = bytearray(224)
    head[0], head[1] = 0, 0x4D
    struct.pack_into("<hfff", head, 2, 24, 3.0, 200.0, 400.0)  # oexp, onpts, ofirst, olast
    head[16], head[17] = 13, 4                                  # oxtype, oytype
    values = np.array([0x00012345, -3 * 2**8, 2**8], dtype=np.int64)
    words = b"".join(struct.pack("<HH", (v >> 16) & 0xFFFF, v & 0xFFFF) for v in values)
    path = write(tmp_path, "old.spc", bytes(head) + sub_header() + words)
    spectrum = read(path)
    assert spectrum.metadata["version"] == "old (0x4D)"
    np.testing.assert_array_equal(spectrum.axis, [200, 300, 400])
    np.testing.assert_array_equal(spectrum.intensity[0], values / 2.0**8)  # exp 24: 2**-8


def test_truncated_and_foreign_files(tmp_path):
    body = b"".join(sub_header() + f32(np.ones(50)) for _ in range(3))
    whole = main_header(TMULTI, 50, 100.0, 600.0, nsub=3) + body
    path = write(tmp_path, "cut.spc", whole[:-30])
    with pytest.raises(InputError, match=r"cut.spc: truncated SPC file: the Y values of "
                                         r"spectrum 3 of 3"):
        read(path)
    with pytest.raises(InputError, match=r"short.spc: truncated SPC file"):
        read(write(tmp_path, "short.spc", whole[:300]))
    with pytest.raises(InputError, match=r"not a Galactic SPC file"):
        read(write(tmp_path, "text.spc", b"100\t1\n200\t2\n"))


def test_peer_library_spc_io_reads_the_same(tmp_path):
    spc_io = pytest.importorskip("spc_io", reason="spc-io (MIT) not installed: peer check skipped")
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32)
    data = main_header(TMULTI, 4, 100.0, 400.0, nsub=2) + b"".join(
        sub_header(index=i) + f32(truth[i]) for i in range(2))
    path = write(tmp_path, "peer.spc", data)
    peer = spc_io.SPC.from_bytes_io(io.BytesIO(data))
    ours = read(path)
    np.testing.assert_array_equal(ours.axis, peer.xarray)
    np.testing.assert_array_equal(ours.intensity, [sub.yarray for sub in peer])


def test_inspect_names_the_spc_units(tmp_path):
    from typer.testing import CliRunner

    from tmdlearn.cli import app

    body = b"".join(sub_header() + f32([1, 2, 3]) for _ in range(2))
    path = write(tmp_path, "two.spc", main_header(TMULTI, 3, 100.0, 300.0, nsub=2) + body)
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "Raman spectra, 2 spectra x 3 points" in result.output
    assert ("axis: Raman shift, cm-1 (from the SPC header, fxtype 13 = Raman shift (cm-1)): "
            "100 .. 300 cm-1") in result.output
    assert "intensity: counts" in result.output


def _old_file():
    head = bytearray(224)
    head[0], head[1] = TMULTI, 0x4D
    struct.pack_into("<hfff", head, 2, 24, 4.0, 200.0, 500.0)
    head[16] = 13
    return bytes(head) + (sub_header() + bytes(16)) * 2


@pytest.mark.parametrize("points", [float("inf"), float("nan"), -5.0, 1e30])
def test_old_header_point_counts_that_cannot_be(tmp_path, points):
    data = bytearray(_old_file())
    struct.pack_into("<f", data, 4, points)  # onpts
    with pytest.raises(InputError, match=r"bad.spc: (SPC header holds|truncated)"):
        read(write(tmp_path, "bad.spc", bytes(data)))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2),
       cuts=st.lists(st.tuples(st.integers(0, 700), st.integers(0, 255)), max_size=6),
       truncate=st.one_of(st.none(), st.integers(0, 800)))
def test_fuzz_mutated_spc_headers(tmp_path, which, cuts, truncate):
    """Header bytes mutated (counts, flags, exponents, floats): a Spectra or an InputError."""
    files = [main_header(TMULTI | TXVALS, 4, 1.0, 2.0, nsub=2) + f32([1, 2, 3, 4])
             + (sub_header(exp=5) + bytes(16)) * 2,
             main_header(TMULTI | TXYXYS, 0, 0, 0, nsub=2)
             + (sub_header(npts=3) + f32([1, 2, 3]) * 2) * 2,
             _old_file()]
    data = bytearray(files[which])
    for position, value in cuts:
        data[position % len(data)] = value
    path = write(tmp_path, "fuzz.spc", bytes(data[:truncate]))
    try:
        result = read(path)
    except InputError as err:
        assert str(path) in str(err)
    else:
        assert result.intensity.shape[1] == result.axis.size
