"""The abTEM held-out STEM set (benchmarks/data/abtem-heldout) and its recording chain
(tmdlearn.stem.abtem_set, which benchmarks/stem_real.py uses): truth columns sit on the
image's bright columns, before and after the microscope's scan and detector."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "abtem-heldout"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="held-out set not present")


def _items():
    from tmdlearn.stem.abtem_set import load_set

    return load_set(DATA)


def test_set_has_its_images_at_the_model_pixels():
    items = _items()
    for material, pixel, count in (("graphene", 0.1, 20), ("ws2", 0.15, 20)):
        mine = [i for i in items if i["material"] == material]
        assert len(mine) >= count
        assert all(float(i["pixel_angstrom"]) == pixel for i in mine)
        assert all(i["image"].shape[0] == i["image"].shape[1] for i in mine)
    ws2 = [i for i in items if i["material"] == "ws2"]
    se = np.concatenate([json.loads(str(i["structure"]))["se_fraction"] for i in ws2])
    assert se.min() < 0.2 and se.max() > 0.8  # a mix of Se fractions


def test_ws2_images_are_sliced_per_atomic_plane():
    """One slice per layer makes a chalcogen column's two atoms scatter coherently (too bright
    against W); the held-out WS2 images put each of a layer's three planes in its own slice."""
    for item in _items():
        if item["material"] == "ws2":
            slices = json.loads(str(item["structure"]))["slice_angstrom"]
            assert len(slices) >= 6 and max(slices) < 3.2, item["name"]


def test_truth_columns_are_on_the_bright_columns():
    """The reference columns (C, W) are brighter than the same points mirrored across the
    diagonal (x and y swapped: the axis order abTEM's [x, y] arrays invite getting wrong)."""
    for item in _items():
        pix = float(item["pixel_angstrom"])
        image = item["image"].astype(float)
        ref = item["species"] == 0
        x, y = item["x_angstrom"][ref] / pix, item["y_angstrom"][ref] / pix
        inside = (x > 2) & (y > 2) & (x < image.shape[1] - 3) & (y < image.shape[0] - 3)
        at = ndimage.map_coordinates(image, [y[inside], x[inside]], order=1).mean()
        swapped = ndimage.map_coordinates(image, [x[inside], y[inside]], order=1).mean()
        assert at > image.mean() and at > swapped, item["name"]


def test_recorded_truth_follows_the_scan():
    """After scan distortion and the detector (high dose), the mapped truth columns are
    brighter than points half a bond away from them."""
    from tmdlearn.stem.abtem_set import record

    items = _items()
    for item in items[:: max(1, len(items) // 4)]:
        image, truth, drawn = record(item, 5000.0, np.random.default_rng(1))
        probe = json.loads(str(item["microscope"]))
        assert drawn["name"] == item["name"] and drawn["dose"] == 5000.0
        assert drawn["probe"] == pytest.approx({k: probe[k] for k in ("C10", "C12")}, abs=0.05)
        values = ndimage.gaussian_filter(image.intensity.astype(float), 1.0)
        ref = truth[truth.species == 0]
        step = 0.7 / image.pixel_size_angstrom
        at = ndimage.map_coordinates(values, [ref.y_px, ref.x_px], order=1).mean()
        off = ndimage.map_coordinates(values, [ref.y_px + step, ref.x_px], order=1,
                                      mode="nearest").mean()
        assert at > off, item["name"]


def test_recording_compresses_the_columns_contrast_before_the_detector():
    """column_gamma acts on abTEM's clean columns (1 = the metal's), not on the background: at
    0.5, ideal recording and high dose, Se2 against W is the square root of what it was."""
    from tmdlearn.stem.abtem_set import record

    item = next(i for i in _items() if i["material"] == "ws2")
    ratios = []
    for gamma in (1.0, 0.5):
        image, truth, drawn = record(item, 1e5, np.random.default_rng(3), ideal=True,
                                     column_gamma=gamma)
        assert drawn["column_gamma"] == gamma
        values = image.intensity.astype(float)
        at = ndimage.map_coordinates(values, [truth.y_px, truth.x_px], order=1)
        ratios.append(np.median(at[truth.species > 0]) / np.median(at[truth.species == 0]))
    assert ratios[0] < 0.8
    assert ratios[1] == pytest.approx(np.sqrt(ratios[0]), rel=0.05)


def _centroids(image: np.ndarray, xy_px: np.ndarray, radius_px: float) -> np.ndarray:
    """Intensity centroids (px) of the columns near ``xy_px``: five re-centred passes of the
    centre of mass within ``radius_px``, above the patch's 20th percentile (NaN where a
    pass leaves the image)."""
    dy, dx = np.mgrid[-6:7, -6:7]
    out = []
    for cx, cy in xy_px:
        for _ in range(5):
            ix, iy = int(round(cx)), int(round(cy))
            if not (6 <= min(ix, iy) and max(ix, iy) < image.shape[0] - 6):
                cx = cy = np.nan
                break
            patch = image[iy - 6:iy + 7, ix - 6:ix + 7]
            w = np.clip(patch - np.percentile(patch, 20), 0, None)
            w = w * (np.hypot(dx + ix - cx, dy + iy - cy) <= radius_px)
            cx, cy = (w * (dx + ix)).sum() / w.sum(), (w * (dy + iy)).sum() / w.sum()
        out.append((cx, cy))
    return np.array(out, float).reshape(-1, 2)


def test_phonon_mean_truth_is_where_the_columns_are():
    """With a few frozen-phonon configurations a column is imaged at its atoms' mean
    displacement (sigma / sqrt(configs) per direction from its lattice site), not at the site:
    the stored phonon-mean positions are displaced by that much, and in most clean graphene
    images the columns with no other within 1 Å sit closer to them than to the sites (by
    chance: half the images)."""
    from scipy.spatial import cKDTree

    closer = []
    for item in _items():
        if item["material"] != "graphene":
            continue
        structure = json.loads(str(item["structure"]))
        site = np.column_stack([item["x_angstrom"], item["y_angstrom"]])
        phonon = np.column_stack([item["x_phonon_angstrom"], item["y_phonon_angstrom"]])
        expected = structure["thermal_sigma_angstrom"]["C"] / np.sqrt(structure["configs"])
        assert np.std(phonon - site, axis=0) == pytest.approx([expected] * 2, rel=0.2)
        pix = float(item["pixel_angstrom"])
        image = item["image"].astype(float)
        nearest, _ = cKDTree(site).query(site, k=2)
        inner = ((site / pix > 7) & (site / pix < image.shape[0] - 8)).all(axis=1)
        keep = inner & (nearest[:, 1] > 1.0)
        found = _centroids(image, site[keep] / pix, 0.45 / pix) * pix
        ok = np.isfinite(found).all(axis=1)
        if ok.sum() < 5:
            continue
        rms = []
        for truth in (site[keep][ok], phonon[keep][ok]):
            e = found[ok] - truth
            rms.append(np.sqrt(((e - e.mean(axis=0)) ** 2).sum(axis=1).mean()))  # less coma
        closer.append(rms[1] < rms[0])
    assert len(closer) >= 15 and np.mean(closer) >= 0.7, closer


def _training_copy(tmp_path, item_path: Path, seed: int = 19) -> Path:
    """A held-out file copied as if simulated for training (another root seed)."""
    with np.load(item_path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    structure = json.loads(str(arrays["structure"]))
    arrays["structure"] = np.str_(json.dumps({**structure, "seed": [seed, *structure["seed"][1:]]}))
    folder = tmp_path / "abtem-train"
    folder.mkdir(exist_ok=True)
    np.savez(folder / item_path.name, **arrays)
    return folder


def test_training_batch_labels_sit_on_the_recorded_columns():
    """abtem_set.training_batch: recordings at the model's pixel with label disks on their W
    columns (brighter there than the image's mean) for training beside the simulator."""
    from tmdlearn.stem.abtem_set import FINAL_PX, training_batch
    from tmdlearn.synth.stem import StemSimConfig

    items = [i for i in _items() if i["material"] == "ws2"][:3]
    sim = StemSimConfig(material="ws2", pixel_size_angstrom=0.15, microscope={"dose": [2000, 3000]})
    images, labels = training_batch(items, sim, np.random.default_rng(0), 4)
    assert images.shape == (4, FINAL_PX, FINAL_PX) and labels.shape == (4, 8, FINAL_PX, FINAL_PX)
    for image, label in zip(images, labels, strict=True):
        w = (label[0] | label[4]).astype(bool)  # W of layer 0 and 1
        assert w.any() and image[w].mean() > np.percentile(image, 75)


def test_stem_train_mixes_abtem_steps_and_refuses_the_held_out_set(tmp_path):
    from tmdlearn.config import merged
    from tmdlearn.errors import InputError
    from tmdlearn.stem.train import DEFAULTS, train

    config = merged(DEFAULTS, {"data": {"material": "ws2", "size_px": 32,
                                        "pixel_size_angstrom": 0.15},
                               "model": {"depth": 2, "filters": 4}, "threads": 1,
                               "train": {"steps": 2, "eval_every": 2, "val_images": 1,
                                         "batch_size": 1},
                               "abtem": {"folder": str(DATA), "every": 2}})
    with pytest.raises(InputError, match="held-out set .seed 18., which is never trained on"):
        train(config, tmp_path / "refused")
    config["abtem"]["folder"] = str(_training_copy(tmp_path, DATA / "ws2-000.npz"))
    scores = train(config, tmp_path / "run", log=lambda line: None)
    assert scores["step"] == 2
    card = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert card["training"]["data"] == (
        f"simulated on the fly (tmdlearn.synth.stem), and abTEM images of "
        f"{config['abtem']['folder']} recorded through the microscope chain on one step in 2; "
        "no manifest")


def test_the_abtem_training_set_is_apart_from_the_held_out_one():
    """benchmarks/data/abtem-train-ws2: WS2 at the training pixel, another root seed than the
    held-out set's (so `stem train` takes it), one slice per atomic plane."""
    from tmdlearn.stem.abtem_set import HELDOUT_SEED, load_set

    items = load_set(ROOT / "benchmarks" / "data" / "abtem-train-ws2")
    assert len(items) >= 90
    structures = [json.loads(str(i["structure"])) for i in items]
    assert {s["seed"][0] for s in structures} == {19} != {HELDOUT_SEED}
    assert all(i["material"] == "ws2" and float(i["pixel_angstrom"]) == 0.15 for i in items)
    assert all(len(s["slice_angstrom"]) >= 6 for s in structures)
