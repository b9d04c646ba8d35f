"""Position refinement against the image: Gaussian columns rendered at known sub-pixel
positions with shot noise, the refinement started from network-like positions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer

from tmdlearn.cli import main
from tmdlearn.cli.stem import app
from tmdlearn.errors import InputError
from tmdlearn.stem.atoms import atom_scores
from tmdlearn.stem.refine import MAX_SHIFT_ANGSTROM, refine_positions
from tmdlearn.stem.workflow import DEFAULTS, HELP, check_options
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

PIX = 0.1  # Å/px
SIGMA = 0.4  # Å, spot width in the image


def _honeycomb(size_px: int, bond_angstrom: float = 1.42, angle_deg: float = 7.0,
               shift=(0.37, 0.61)) -> np.ndarray:
    """Honeycomb sites (n, 2) px inside a ``size_px`` field (3 px margin)."""
    a = np.sqrt(3) * bond_angstrom / PIX
    t = np.radians(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    vectors = np.array([[a, 0.0], [a / 2, a * np.sqrt(3) / 2]]) @ rot.T
    ij = np.stack(np.meshgrid(np.arange(-30, 30), np.arange(-30, 30)), -1).reshape(-1, 2)
    sites = ij @ vectors
    sites = np.concatenate([sites, sites + vectors.sum(axis=0) / 3]) + shift
    return sites[((sites > 3) & (sites < size_px - 4)).all(axis=1)]


def _image(xy: np.ndarray, heights: np.ndarray, size_px: int, seed: int = 0,
           peak_counts: float = 200.0) -> np.ndarray:
    """Gaussian spots (σ ``SIGMA``) at ``xy`` on a sloping background, Poisson noise."""
    yy, xx = np.mgrid[:size_px, :size_px]
    clean = np.zeros((size_px, size_px))
    s2 = 2 * (SIGMA / PIX) ** 2
    for (x, y), h in zip(xy, heights, strict=True):
        clean += h * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / s2)
    clean = peak_counts * clean + 300 + 0.5 * xx  # flat offset and a contamination gradient
    return np.random.default_rng(seed).poisson(clean).astype(float)


def _offset(xy: np.ndarray, angstrom: float, seed: int = 1) -> np.ndarray:
    """``xy`` each moved ``angstrom`` in a random direction."""
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(xy))
    return xy + angstrom / PIX * np.column_stack([np.cos(angle), np.sin(angle)])


def _atoms(xy: np.ndarray, species="C", layer=0) -> pd.DataFrame:
    return pd.DataFrame({"x_px": xy[:, 0], "y_px": xy[:, 1], "layer": layer,
                         "species": species})


def _rms_angstrom(found: pd.DataFrame, truth: np.ndarray) -> float:
    d = found[["x_px", "y_px"]].to_numpy(float) - truth
    return float(np.sqrt(np.mean(np.sum(d ** 2, axis=1)))) * PIX


def test_offsets_of_0_2_angstrom_are_refined_back_to_the_planted_positions():
    truth = _honeycomb(120)
    image = _image(truth, np.ones(len(truth)), 120)
    start = _atoms(_offset(truth, 0.2))
    found = refine_positions(image, start, PIX)
    moves = np.hypot(*(found[["x_px", "y_px"]].to_numpy() - start[["x_px", "y_px"]].to_numpy()).T)
    assert _rms_angstrom(start, truth) == pytest.approx(0.2)
    assert _rms_angstrom(found, truth) < 0.03
    assert moves.max() * PIX <= MAX_SHIFT_ANGSTROM + 1e-9
    pd.testing.assert_frame_equal(found.drop(columns=["x_px", "y_px"]),
                                  start.drop(columns=["x_px", "y_px"]))
    # the planted width is found among the tried ones: given exactly, the same answer
    exact = refine_positions(image, start, PIX, width_angstrom=SIGMA)
    assert _rms_angstrom(exact, truth) < 0.03


def test_two_species_of_different_brightness_are_both_refined():
    """WS2-like: bright W-like columns and columns a quarter as bright."""
    truth = _honeycomb(120, bond_angstrom=1.82)
    bright = np.arange(len(truth)) % 2 == 0
    image = _image(truth, np.where(bright, 1.0, 0.25), 120, peak_counts=600.0)
    start = _atoms(_offset(truth, 0.15), species=np.where(bright, "W", "S2"))
    found = refine_positions(image, start, PIX)
    for mask in (bright, ~bright):
        assert _rms_angstrom(found[mask], truth[mask]) < 0.04


def test_moves_are_bounded():
    truth = _honeycomb(100)
    image = _image(truth, np.ones(len(truth)), 100)
    start = _atoms(_offset(truth, 0.6, seed=3))
    found = refine_positions(image, start, PIX, max_shift_angstrom=0.25)
    moves = np.hypot(*(found[["x_px", "y_px"]].to_numpy() - start[["x_px", "y_px"]].to_numpy()).T)
    assert moves.max() * PIX == pytest.approx(0.25)  # cut at the bound, toward the truth
    assert _rms_angstrom(found, truth) < _rms_angstrom(start, truth) - 0.2


def test_overlapping_columns_of_two_layers_neither_collapse_nor_run_away():
    """Two columns 0.3 Å apart (layers 0 and 1) among isolated ones: too close to tell apart,
    they keep their positions while the isolated columns are refined."""
    truth = _honeycomb(100)
    pair = truth[len(truth) // 2] + np.array([[0.0, 0.0], [0.3 / PIX, 0.0]])
    others = truth[np.hypot(*(truth - pair[0]).T) > 1.0 / PIX]
    everything = np.concatenate([pair, others])
    image = _image(everything, np.ones(len(everything)), 100)
    start_xy = np.concatenate([pair + 0.1 / PIX, _offset(others, 0.15)])
    start = _atoms(start_xy, layer=np.r_[0, 1, np.zeros(len(others), int)])
    kept = refine_positions(image, start, PIX)
    np.testing.assert_array_equal(kept[["x_px", "y_px"]].to_numpy()[:2], start_xy[:2])
    assert _rms_angstrom(kept[2:], others) < 0.04


def test_no_atoms_and_a_flat_image_leave_the_table_as_it_is():
    empty = _atoms(np.empty((0, 2)))
    assert refine_positions(np.ones((64, 64)), empty, PIX).empty
    start = _atoms(_honeycomb(64))
    flat = refine_positions(np.full((64, 64), 7.0), start, PIX)
    np.testing.assert_array_equal(flat[["x_px", "y_px"]].to_numpy(),
                                  start[["x_px", "y_px"]].to_numpy())


def test_config_key_default_help_and_check():
    assert DEFAULTS["find"]["refine"] is False
    assert "--refine" in HELP["find.refine"]
    config = {"data": {"image": "x.npy", "pixel_size_angstrom": None},
              "model": DEFAULTS["model"], "find": {**DEFAULTS["find"], "refine": "yes"}}
    with pytest.raises(InputError, match="find.refine"):
        check_options(config)


def test_stem_predict_refine_keeps_the_atoms_and_moves_them_toward_the_truth(tmp_path):
    """`stem predict --refine` on an image at 0.11 Å/px (resampled for the network; refined on
    the image's own grid): the same atoms, layers and species, each moved at most 0.3 Å,
    and the refined positions as close to the planted columns as the network's or closer."""
    s = simulate_image(StemSimConfig(size_px=128, pixel_size_angstrom=0.11,
                                     magnification_jitter=0.0, twist_deg=(21.0, 21.0),
                                     dose=(1000.0, 1000.0), thermal_sigma_angstrom=(0.0, 0.0),
                                     vacancy_fraction=(0.0, 0.0), hole_probability=0.0,
                                     edge_probability=0.0), split_seed(5, "test", 0))
    path = tmp_path / "bilayer.npy"
    np.save(path, s.image)
    found = {}
    for flag in ("--no-refine", "--refine"):
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "predict", str(path), "--pixel-size", "0.11", flag,
                  "--out", str(tmp_path / flag)])
        assert exit_.value.code in (0, None)
        found[flag] = pd.read_csv(tmp_path / flag / "atoms.csv")
    plain, refined = found["--no-refine"], found["--refine"]
    moved = ["x_px", "y_px", "other_layer_angstrom"]  # the positions and what follows them
    pd.testing.assert_frame_equal(plain.drop(columns=moved), refined.drop(columns=moved))
    moves = np.hypot(*(refined[["x_px", "y_px"]].to_numpy() - plain[["x_px", "y_px"]].to_numpy()).T)
    assert 0.005 < np.median(moves) * 0.11 and moves.max() * 0.11 <= MAX_SHIFT_ANGSTROM + 1e-6
    error = {}
    for flag, table in found.items():
        scores = [atom_scores(table.assign(species=0), s.atoms, 0.5 / 0.11, assignment=order,
                              border_px=4, shape=s.image.shape) for order in ((0, 1), (1, 0))]
        best = max(scores, key=lambda t: t.matched.sum())
        error[flag] = float(np.sqrt(np.mean(best.rms_error_px ** 2))) * 0.11
    assert error["--refine"] < error["--no-refine"] + 0.005, error


def test_one_help_text_for_the_option_and_the_config():
    params = {p.name: p for p in typer.main.get_command(app).commands["predict"].params}
    assert params["refine"].help.endswith(HELP["find.refine"])
