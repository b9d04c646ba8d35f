"""Paths stay where they belong: manifest entries inside the manifest's folder; --out only
into a new or empty folder or a tmdlearn run folder, unless --overwrite."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tmdlearn.cli import main
from tmdlearn.data import Dataset, HeightMap
from tmdlearn.data.paths import contained, escape_reason
from tmdlearn.errors import InputError
from tmdlearn.io import open_dataset, read, write_height_map
from tmdlearn.report.outdir import is_run_folder, prepare_out
from tmdlearn.spectra.workflow import expand_inputs

HEADER = "sample_id,material,location,modality,file\n"


def _run(argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    return info.value.code


@pytest.fixture
def layout(tmp_path):
    """data/ with a manifest and an image inside; secret.npz beside data/ (outside)."""
    data = tmp_path / "data"
    (data / "afm").mkdir(parents=True)
    image = HeightMap(np.random.default_rng(0).normal(size=(32, 32)), 10.0)
    write_height_map(data / "afm" / "inside.npz", image)
    write_height_map(tmp_path / "secret.npz", image)
    return data


def _manifest(data, name: str):
    (data / "manifest.csv").write_text(HEADER + f"S1,MoS2,a,afm,{name}\n")
    return data / "manifest.csv"


@pytest.mark.parametrize(("name", "reason"), [
    ("../secret.npz", "climbs out of the folder with '..'"),
    ("afm/../../secret.npz", "climbs out of the folder with '..'"),
    ("{outside}", "is an absolute path outside the folder"),
    ("afm/link.npz", "leads out of the folder through a symbolic link"),
])
def test_manifest_entry_escaping_its_folder_is_refused(layout, name, reason):
    os.symlink(layout.parent / "secret.npz", layout / "afm" / "link.npz")
    name = name.format(outside=layout.parent / "secret.npz")
    manifest = _manifest(layout, name)
    with pytest.raises(InputError) as info:
        open_dataset(layout)
    text = str(info.value)
    assert text.startswith(f"{manifest}: 1 problem: line 2: file {name!r} {reason}")
    assert "\n" not in text


@pytest.mark.parametrize("name", ["afm/inside.npz", "afm/../afm/inside.npz", "{inside}"])
def test_manifest_entries_inside_the_folder_load(layout, name):
    _manifest(layout, name.format(inside=layout / "afm" / "inside.npz"))
    dataset = open_dataset(layout)
    assert dataset.load(0).height_nm.shape == (32, 32)


def test_load_checks_a_table_built_by_hand(layout):
    import pandas as pd

    table = pd.DataFrame([{"sample_id": "S1", "material": "MoS2", "location": "a",
                           "modality": "afm", "file": "../secret.npz"}])
    with pytest.raises(InputError, match="entry '../secret.npz' climbs out"):
        Dataset(layout, table, read).load(0)


def test_escape_reason_and_contained(tmp_path):
    assert escape_reason(tmp_path, "a/b.txt") is None
    assert escape_reason(tmp_path, "a/../b.txt") is None
    assert escape_reason(tmp_path, "..") is not None
    assert contained(tmp_path, "x.txt", "m.csv") == tmp_path / "x.txt"
    with pytest.raises(InputError, match=r"^m.csv: entry '/etc/passwd' is an absolute path"):
        contained(tmp_path, "/etc/passwd", "m.csv")


def test_spectra_manifest_path_escaping_is_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    manifest = tmp_path / "sub" / "list.csv"
    manifest.write_text("path,label\n../outside.txt,a\n")
    with pytest.raises(InputError, match="entry '../outside.txt' climbs out") as info:
        expand_inputs([manifest])
    assert str(manifest) in str(info.value)


def test_cli_manifest_escape_one_line_exit_2_nothing_written(layout, tmp_path, capsys):
    _manifest(layout, "../secret.npz")
    out = tmp_path / "run"
    assert _run(["afm", "features", layout, "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {layout / 'manifest.csv'}: ") and "\n" not in err
    assert "'../secret.npz' climbs out" in err
    assert not out.exists()


def test_prepare_out(tmp_path):
    assert prepare_out(tmp_path / "new") == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # checks only, creates nothing
    (tmp_path / "empty").mkdir()
    prepare_out(tmp_path / "empty")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match="not a tmdlearn run folder .* --overwrite"):
        prepare_out(busy)
    assert prepare_out(busy, overwrite=True) == busy
    (busy / "run.json").write_text(json.dumps({"config": {}}))  # someone else's run.json
    assert not is_run_folder(busy)
    with pytest.raises(InputError):
        prepare_out(busy)
    (busy / "run.json").write_text(json.dumps({"tmdlearn": "0.1.0"}))
    assert is_run_folder(busy) and prepare_out(busy) == busy
    with pytest.raises(InputError, match="names a file"):
        prepare_out(busy / "thesis.tex", overwrite=True)


def test_cli_out_refused_then_overwrite_then_rerun(layout, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    image = layout / "afm" / "inside.npz"
    assert _run(["afm", "features", image, "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "--overwrite" in err and str(out) in err and "\n" not in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert _run(["afm", "features", image, "--out", out, "--overwrite"]) in (0, None)
    assert (out / "features.csv").is_file() and (out / "notes.txt").read_text() == "keep me"
    assert _run(["afm", "features", image, "--out", out]) in (0, None)  # a run folder now


def test_cli_refuses_another_commands_run_folder(layout, tmp_path, capsys):
    """`afm level` into an `afm features` run folder would replace its run.json and mix the
    two runs' files: refused unless --overwrite; the API (no command) accepts it."""
    image, out = layout / "afm" / "inside.npz", tmp_path / "run"
    assert _run(["afm", "features", image, "--out", out]) in (0, None)
    recorded = json.loads((out / "run.json").read_text())["command_name"]
    assert recorded == "tmdlearn afm features"
    assert _run(["afm", "level", image, "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "run folder of `tmdlearn afm features`, not of `tmdlearn afm level`" in err, err
    assert "\n" not in err and not (out / "levelled").exists()
    assert prepare_out(out) == out
    assert _run(["afm", "level", image, "--out", out, "--overwrite"]) in (0, None)
    assert (out / "levelled").is_dir()


def test_a_folders_readme_and_license_are_not_spectra(tmp_path):
    for name in ("WSe2_Raman.txt", "LICENSE.txt", "README-data.txt", "licence.csv",
                 "notices_map.txt"):
        (tmp_path / name).write_text("100 1\n200 2\n")
    assert [p.name for p in expand_inputs([tmp_path])] == ["WSe2_Raman.txt", "notices_map.txt"]
    assert expand_inputs([tmp_path / "LICENSE.txt"]) == [tmp_path / "LICENSE.txt"]  # named
    # `convert FOLDER store.zarr` leaves them out alike (it read LICENSE.txt as a spectrum)
    for name in ("notices_map.txt", "licence.csv"):
        (tmp_path / name).unlink()
    (tmp_path / "WSe2_PL.txt").write_text("100 3\n200 4\n")
    assert _run(["convert", tmp_path, tmp_path.parent / "spectra.zarr"]) in (0, None)
    assert len(read(tmp_path.parent / "spectra.zarr").intensity) == 2
