"""The rigid-lattice prior: positions pulled toward each layer's fitted honeycomb and masks
repainted as label disks, against the simulator's planted sites and labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer

from tmdlearn.cli import main
from tmdlearn.cli.stem import app
from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError
from tmdlearn.stem.atoms import atom_masks
from tmdlearn.stem.inference import apply_lattice_prior, identify_atoms, load_model
from tmdlearn.stem.lattice import pull_to_lattice
from tmdlearn.stem.metrics import segmentation_scores
from tmdlearn.stem.train import evaluate
from tmdlearn.stem.workflow import HELP
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

#: Rigid layers (no thermal jitter) at a magnification 4 % off the nominal 0.1 Å/px.
RIGID = StemSimConfig(size_px=160, thermal_sigma_angstrom=(0.0, 0.0), twist_deg=(9.0, 9.0))
META = {"material": "graphene", "label_radius_angstrom": RIGID.label_radius_angstrom}


def _rigid_sample():
    for k in range(50):
        s = simulate_image(RIGID, split_seed(3, "test", k))
        if abs(s.pixel_size_angstrom / RIGID.pixel_size_angstrom - 1) > 0.03:
            return s
    raise AssertionError("no image with a magnification 3 % off")


def _rms(xy: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((xy - truth) ** 2, axis=1))))


def test_pull_moves_positions_the_given_fraction_toward_the_planted_sites():
    s = _rigid_sample()
    truth = s.atoms[["x_px", "y_px"]].to_numpy(float)
    noisy = s.atoms.copy()
    noisy[["x_px", "y_px"]] = truth + np.random.default_rng(0).normal(0, 0.6, truth.shape)
    exact, _ = pull_to_lattice(s.atoms, 1.0)
    np.testing.assert_allclose(exact[["x_px", "y_px"]].to_numpy(float), truth, atol=1e-5)
    full, a_px = pull_to_lattice(noisy, 1.0)
    half, _ = pull_to_lattice(noisy, 0.5)
    same, _ = pull_to_lattice(noisy, 0.0)
    assert a_px == pytest.approx(2.46 / s.pixel_size_angstrom, rel=0.003)
    xy = {name: t[["x_px", "y_px"]].to_numpy(float) for name, t in
          (("noisy", noisy), ("full", full), ("half", half), ("same", same))}
    assert _rms(xy["noisy"], truth) > 0.7
    assert _rms(xy["full"], truth) < 0.2  # sites of honeycombs fitted to ~70 noisy atoms each
    np.testing.assert_allclose(xy["half"], (xy["noisy"] + xy["full"]) / 2, atol=1e-9)
    np.testing.assert_array_equal(xy["same"], xy["noisy"])
    assert (full.layer.to_numpy() == noisy.layer.to_numpy()).all()
    with pytest.raises(InputError, match=r"lattice_prior .* \[0, 1\], got 1.5"):
        pull_to_lattice(noisy, lattice_prior=1.5)


@pytest.mark.parametrize("amplitude", [0.3, 0.5, 1.0])
def test_a_distorted_layer_is_left_alone_and_the_rigid_one_pulled(amplitude):
    """A wave of ``amplitude`` bonds on layer 1 (no affine fit absorbs it): its atoms keep
    their places; layer 0 (rigid, 0.6 px noise) is still pulled onto its sites."""
    s = _rigid_sample()
    atoms = s.atoms.copy()
    rng = np.random.default_rng(1)
    bond = 1.42 / s.pixel_size_angstrom
    one = (atoms.layer == 1).to_numpy()
    atoms.loc[one, "x_px"] += amplitude * bond * np.sin(2 * np.pi * atoms.y_px[one] / 60)
    atoms.loc[~one, ["x_px", "y_px"]] += rng.normal(0, 0.6, (int((~one).sum()), 2))
    pulled, _ = pull_to_lattice(atoms, 1.0)
    xy, new = atoms[["x_px", "y_px"]].to_numpy(float), pulled[["x_px", "y_px"]].to_numpy(float)
    np.testing.assert_array_equal(new[one], xy[one])
    truth = s.atoms[["x_px", "y_px"]].to_numpy(float)
    assert _rms(new[~one], truth[~one]) < 0.2 < _rms(xy[~one], truth[~one])


def test_repainted_masks_reproduce_the_labels_at_the_true_magnification():
    s = _rigid_sample()
    atoms = s.atoms.drop(columns="n_se")
    _, masks = apply_lattice_prior(atoms, s.labels.shape, 1.0, META, RIGID.pixel_size_angstrom)
    nominal = atom_masks(atoms, s.labels.shape, 0.35 / RIGID.pixel_size_angstrom)
    prior = segmentation_scores(masks, s.labels, (0, 1))
    plain = segmentation_scores(nominal, s.labels, (0, 1))
    # the labels also hold the parts of disks whose atoms lie just outside the image
    assert prior["pixel_accuracy"] > 0.995 and prior["mean_iou"] > 0.97
    assert prior["pixel_accuracy"] > plain["pixel_accuracy"] + 0.005


def test_the_prior_lifts_the_shipped_model_on_validation_images():
    """Validation images (the prior's pull 0.5 was chosen on them, docs/stem.md): masks and
    positions get better, which atoms are found does not change."""
    model, _ = load_model(device="cpu")
    scores = evaluate(model, StemSimConfig(size_px=256), 0, 4, split="val", lattice=True,
                      lattice_prior=0.5)
    assert scores["pixel_accuracy_prior"] > scores["pixel_accuracy_lattice"] + 0.004
    assert scores["mean_iou_prior"] > scores["mean_iou_lattice"] + 0.04
    for layer in (0, 1):
        assert (scores[f"rms_error_angstrom_layer{layer}_prior"]
                < scores[f"rms_error_angstrom_layer{layer}_lattice"] - 0.01)
        assert (scores[f"recall_layer{layer}_prior"]
                == pytest.approx(scores[f"recall_layer{layer}_lattice"], abs=0.005))


def test_predict_lattice_prior_moves_atoms_that_fraction_of_the_way(tmp_path):
    """`stem predict --lattice-prior`: 0.5 puts every atom half way between where the network
    found it (0) and its layer's honeycomb site (1); the masks follow the atoms."""
    s = simulate_image(StemSimConfig(size_px=160, twist_deg=(12.0, 12.0), dose=(1000.0, 1000.0)),
                       split_seed(4, "test", 0))
    path = tmp_path / "bilayer.npy"
    np.save(path, s.image)
    xy, masks = {}, {}
    for prior in ("0", "0.5", "1"):
        out = tmp_path / prior
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "predict", str(path), "--pixel-size", str(s.pixel_size_angstrom),
                  "--lattice-prior", prior, "--out", str(out)])
        assert exit_.value.code in (0, None)
        xy[prior] = pd.read_csv(out / "atoms.csv")[["x_px", "y_px"]].to_numpy(float)
        masks[prior] = np.load(out / "masks.npz")["masks"].astype(bool)
    assert np.abs(xy["1"] - xy["0"]).max() > 0.3
    np.testing.assert_allclose(xy["0.5"], (xy["0"] + xy["1"]) / 2, atol=1e-6)
    painted = atom_masks(pd.DataFrame({"x_px": xy["1"][:, 0], "y_px": xy["1"][:, 1],
                                       "layer": pd.read_csv(tmp_path / "1" / "atoms.csv").layer,
                                       "species": 0}),
                         masks["1"].shape, 0.35 / s.pixel_size_angstrom)
    iou = {k: segmentation_scores(masks[k], painted, (0, 1))["mean_iou"] for k in ("0", "1")}
    assert iou["1"] > 0.85 and iou["1"] > iou["0"] + 0.05, iou  # resampled to the image grid


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_the_python_api_checks_lattice_prior_as_the_config_does(value):
    """identify_atoms and evaluate refuse a lattice_prior outside [0, 1] before running the
    network (the same check as ``find.lattice_prior`` in stem.workflow), naming the option."""
    model, meta = load_model(device="cpu")
    image = StemImage(np.random.default_rng(0).random((64, 64)), 0.1)
    for call in (lambda: identify_atoms(image, model, meta, lattice_prior=value),
                 lambda: evaluate(model, StemSimConfig(size_px=64), 0, 1, lattice_prior=value)):
        with pytest.raises(InputError, match=f"--lattice-prior.*got {value}"):
            call()


def test_one_help_text_for_the_option_and_the_docs():
    """`stem predict --lattice-prior`'s help and docs/stem.md's config row are HELP's text."""
    params = {p.name: p for p in typer.main.get_command(app).commands["predict"].params}
    assert params["lattice_prior"].help.endswith(HELP["find.lattice_prior"])
    docs = (Path(__file__).parents[1] / "docs" / "stem.md").read_text(encoding="utf-8")
    assert f"| `find.lattice_prior` | `0.0` | {HELP['find.lattice_prior']} |" in docs
