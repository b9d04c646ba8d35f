"""Manifest: validation, filtering, loading, pairing by sample and location, grouped splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmdlearn.data import (
    Dataset,
    HeightMap,
    Spectra,
    grouped_holdout,
    grouped_kfold,
)
from tmdlearn.errors import InputError
from tmdlearn.io import open_dataset, read, write_height_map, write_labspec

HEADER = "sample_id,material,location,modality,file,scan_size_um,laser_power_mw,excitation_nm,grating,growth_temperature_c\n"  # noqa: E501


@pytest.fixture
def folder(tmp_path):
    """Three samples x two locations: AFM (1 µm) + PL + Raman at 4 mW, one Raman at 1 mW."""
    rng = np.random.default_rng(0)
    axis_cm1, axis_ev = np.linspace(100, 500, 64), np.linspace(1.5, 2.1, 48)
    lines = []
    for s in range(3):
        for loc in ("a", "b"):
            name = f"S{s}_{loc}"
            write_height_map(tmp_path / f"{name}.npz",
                             HeightMap(rng.normal(size=(16, 16)) + s, 1000 / 16))
            write_labspec(tmp_path / f"{name}_pl.txt",
                          Spectra(rng.random(48) + s, axis_ev, "eV", 532.0))
            write_labspec(tmp_path / f"{name}_raman.txt",
                          Spectra(rng.random(64) + s, axis_cm1, "cm-1", 532.0))
            lines += [f"S{s},MoS2,{loc},afm,{name}.npz,1,,,,{700 + 50 * s}",
                      f"S{s},MoS2,{loc},pl,{name}_pl.txt,,4,532,600,{700 + 50 * s}",
                      f"S{s},MoS2,{loc},raman,{name}_raman.txt,,4,532,1800,{700 + 50 * s}"]
    write_labspec(tmp_path / "low.txt", Spectra(rng.random(64), axis_cm1, "cm-1", 532.0))
    lines.append("S0,MoS2,a,raman,low.txt,,1,532,1800,700")
    (tmp_path / "manifest.csv").write_text(HEADER + "\n".join(lines) + "\n")
    return tmp_path


def test_open_filter_and_load(folder):
    dataset = open_dataset(folder)
    assert len(dataset) == 19
    assert len(dataset.filter(laser_power_mw=4)) == 12
    assert len(dataset.filter(scan_size_um=1)) == 6
    assert len(dataset.filter(modality=["pl", "raman"], laser_power_mw=4)) == 12
    assert dataset.table["growth_temperature_c"].dtype.kind in "if"
    row = dataset.filter(modality="raman", laser_power_mw=1).table.iloc[0]
    spectrum = dataset.load(row)
    assert isinstance(spectrum, Spectra) and spectrum.excitation_nm == 532.0
    assert sum(1 for _ in dataset.filter(modality="afm")) == 6


def test_pairs_align_by_sample_and_location(folder):
    dataset = open_dataset(folder)
    with pytest.raises(InputError, match="several files"):
        dataset.pairs(inputs=["afm", "pl"], target="raman")
    keep = dataset.table["file"] != "low.txt"
    pairs = Dataset(dataset.folder, dataset.table[keep], read).pairs(["afm", "pl"], target="raman")
    assert len(pairs) == 6
    assert list(pairs.groups) == ["S0", "S0", "S1", "S1", "S2", "S2"]
    afm, pl, raman = pairs.array("afm"), pairs.array("pl"), pairs.array("raman")
    assert afm.shape == (6, 16, 16) and pl.shape == (6, 48) and raman.shape == (6, 64)
    # each row really is the sample's own measurement (offset by the sample number)
    np.testing.assert_allclose(afm.mean(axis=(1, 2)).round(), [0, 0, 1, 1, 2, 2], atol=0.6)
    np.testing.assert_allclose(raman.mean(axis=1) - 0.5, [0, 0, 1, 1, 2, 2], atol=0.2)
    assert all(r["sample_id"] == g for r, g in zip(
        pairs.rows["pl"].to_dict("records"), pairs.groups, strict=True))


def test_pairs_drop_incomplete_keys(folder):
    dataset = open_dataset(folder)
    table = dataset.table[~dataset.table["file"].isin(["low.txt", "S1_b_pl.txt"])]
    pairs = Dataset(folder, table, read).pairs(["afm", "pl"])
    assert len(pairs) == 5 and pairs.dropped == [("S1", "b")]


def test_validation_reports_every_problem(folder):
    text = (folder / "manifest.csv").read_text().splitlines()
    text[1] = text[1].replace("S0_a.npz", "missing.npz")
    text[2] = text[2].replace(",pl,", ",ramen,")
    text[3] = text[3].replace(",4,532,", ",4 mW,532,")
    text.append(text[5])
    (folder / "manifest.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as info:
        Dataset.open(folder)
    message = str(info.value)
    assert "4 problems" in message
    assert "line 2: file 'missing.npz' not found" in message
    assert "line 3: unknown modality 'ramen'" in message
    assert "line 4: laser_power_mw = '4 mW' is not a number" in message
    assert "duplicate rows for file 'S0_b_pl.txt' (lines 6, 21)" in message
    assert "\n" not in message


def test_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="no manifest.csv"):
        Dataset.open(tmp_path)


def test_missing_columns(tmp_path):
    (tmp_path / "manifest.csv").write_text("sample_id,file\nA,x.txt\n")
    with pytest.raises(InputError, match=r"missing column\(s\) \['material', 'location'"):
        Dataset.open(tmp_path)


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.integers(0, 12), min_size=6, max_size=60),
       seed=st.integers(0, 1000), test_size=st.floats(0.1, 0.5))
def test_holdout_never_shares_a_sample(groups, seed, test_size):
    groups = np.asarray([f"S{g}" for g in groups])
    if np.unique(groups).size < 2:
        return
    train, test = grouped_holdout(groups, test_size, seed)
    assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([train, test])) == list(range(groups.size))
    again = grouped_holdout(groups, test_size, seed)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])


@pytest.mark.filterwarnings("ignore:The least populated class")
@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.integers(0, 15), min_size=10, max_size=60),
       seed=st.integers(0, 1000), n_splits=st.integers(2, 5), stratified=st.booleans())
def test_kfold_never_shares_a_sample(groups, seed, n_splits, stratified):
    groups = np.asarray(groups)
    if np.unique(groups).size < n_splits:
        with pytest.raises(InputError, match="distinct samples"):
            grouped_kfold(groups, n_splits, seed)
        return
    labels = groups % 2 if stratified else None  # one class per sample, as materials are
    folds = grouped_kfold(groups, n_splits, seed, stratify=labels)
    assert len(folds) == n_splits
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(groups.size))  # every measurement tested once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


def test_stratified_holdout_keeps_both_classes():
    groups = np.repeat(np.arange(40), 3)
    labels = (groups % 4 == 0).astype(int)  # 25 % of samples in class 1
    train, test = grouped_holdout(groups, 0.25, seed=3, stratify=labels)
    assert 0.15 < labels[test].mean() < 0.35 and 0.15 < labels[train].mean() < 0.35
    assert not set(groups[train]) & set(groups[test])


def test_reader_is_injected(folder):
    """The data layer loads through the reader it was given (never imports the readers)."""
    seen = []
    dataset = Dataset.open(folder, reader=lambda path, **options: seen.append(path.name) or 7)
    assert dataset.filter(modality="afm").load(0) == 7 and seen == ["S0_a.npz"]
    with pytest.raises(TypeError, match="no reader"):
        Dataset.open(folder).load(0)


def test_data_layer_does_not_import_the_readers():
    import subprocess
    import sys

    code = ("import sys, tmdlearn.data; "
            "print(sorted(m for m in sys.modules if m.startswith('tmdlearn.io')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
