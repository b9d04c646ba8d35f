"""Metrics and atom finding against planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmdlearn.stem.atoms import (
    atom_scores,
    column_separation_px,
    find_atoms,
    match_points,
    merge_close_atoms,
    other_layer_angstrom,
)
from tmdlearn.stem.metrics import best_assignment, segmentation_scores
from tmdlearn.synth.stem import StemSimConfig, simulate_image

CFG = StemSimConfig(size_px=128, hole_probability=0, edge_probability=0)


def _logits(masks: np.ndarray) -> np.ndarray:
    return np.where(masks, 8.0, -8.0)


def test_perfect_masks_in_either_assignment():
    s = simulate_image(CFG, seed=0)
    for pred in (s.labels, s.labels[::-1]):
        scores = segmentation_scores(pred, s.labels)
        assert scores["pixel_accuracy"] == 1.0 and scores["mean_iou"] == 1.0
        assert scores["mean_dice"] == 1.0
    assert best_assignment(s.labels[::-1], s.labels) == (1, 0)


def test_scores_of_a_known_corruption():
    target = np.zeros((2, 1, 10, 10), bool)
    target[0, 0, :5] = True  # 50 px
    target[1, 0, 5:] = True
    pred = target.copy()
    pred[0, 0, :5, :5] = False  # 25 missed pixels in class 0
    scores = segmentation_scores(pred, target)
    assert np.isclose(scores["iou"][0], 0.5) and np.isclose(scores["iou"][1], 1.0)
    assert np.isclose(scores["dice"][0], 2 * 25 / 75)
    assert np.isclose(scores["pixel_accuracy"], 1 - 25 / 200)


def test_perfect_masks_recover_planted_atoms():
    s = simulate_image(CFG, seed=1)
    radius_px = 0.5 / s.pixel_size_angstrom
    for pred, assignment in ((s.labels, (0, 1)), (s.labels[::-1], (1, 0))):
        found = find_atoms(_logits(pred))
        scores = atom_scores(found, s.atoms, radius_px, assignment=assignment, border_px=4,
                             shape=s.image.shape)
        assert (scores.precision == 1).all() and (scores.recall == 1).all()
        assert (scores.rms_error_px < 0.15).all()
        assert (scores.species_accuracy == 1).all()


def test_otsu_threshold_and_smooth_maps():
    s = simulate_image(CFG, seed=2)
    # soft maps: a Gaussian bump at every atom; weighted centroids land on the atoms
    yy, xx = np.mgrid[:128, :128]
    logits = np.full((2, 1, 128, 128), -10.0)
    for layer in range(2):
        a = s.atoms[s.atoms.layer == layer]
        d2 = (xx[None] - a.x_px.to_numpy()[:, None, None]) ** 2 + \
             (yy[None] - a.y_px.to_numpy()[:, None, None]) ** 2
        logits[layer, 0] = 10 * np.exp(-d2 / (2 * 2.0**2)).max(0) - 5
    found = find_atoms(logits, threshold="otsu")
    scores = atom_scores(found, s.atoms, 5.0, border_px=4, shape=(128, 128))
    assert (scores.precision > 0.97).all() and (scores.recall > 0.97).all()
    assert (scores.rms_error_px < 0.3).all()


def test_blob_centroids_equal_scikit_image_regionprops():
    """find_atoms (one bincount pass) against skimage's regionprops run side by side: same
    8-connected blobs, probability-weighted centroids, areas and mean probabilities."""
    from scipy.ndimage import gaussian_filter
    from skimage.measure import label, regionprops

    rng = np.random.default_rng(3)
    logits = 6 * gaussian_filter(rng.normal(size=(2, 3, 96, 96)), (0, 0, 2, 2)) / 0.14 - 1
    found = find_atoms(logits, threshold=0.6, min_area_px=4)
    rows = []
    for layer in range(2):
        for species in range(3):
            p = 1 / (1 + np.exp(-logits[layer, species]))
            for r in regionprops(label(p > 0.6), intensity_image=p):
                if r.area >= 4:
                    y, x = r.centroid_weighted
                    rows.append((x, y, layer, species, r.area, r.intensity_mean))
    peer = pd.DataFrame(rows, columns=found.columns)
    assert len(found) == len(peer) > 50
    order = ["layer", "species", "x_px", "y_px"]
    np.testing.assert_allclose(found.sort_values(order).to_numpy(float),
                               peer.sort_values(order).to_numpy(float), rtol=1e-9, atol=1e-9)
    empty = find_atoms(np.full((2, 1, 8, 8), -5.0))
    assert empty.empty and list(empty.columns) == list(found.columns)


def test_match_points_is_one_to_one_within_radius():
    true = np.array([[0.0, 0.0], [10.0, 0.0]])
    pred = np.array([[0.5, 0.0], [0.2, 0.0], [30.0, 0.0]])
    pairs = match_points(pred, true, radius=1.0)
    assert pairs.tolist() == [[1, 0]]
    scores = atom_scores(pd.DataFrame({"x_px": pred[:, 0], "y_px": pred[:, 1], "layer": 0,
                                       "species": 0}),
                         pd.DataFrame({"x_px": true[:, 0], "y_px": true[:, 1], "layer": 0,
                                       "species": 0}), 1.0, n_layers=1)
    assert np.isclose(scores.precision[0], 1 / 3) and np.isclose(scores.recall[0], 1 / 2)
    assert np.isclose(scores.rms_error_px[0], 0.2)


def _table(xy: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(xy, columns=["x_px", "y_px"]).assign(layer=0, species=0)


def test_border_band_is_a_dont_care_zone_for_matched_pairs():
    """A true atom just inside the 4-px band found just outside it is a hit (and the reverse
    is ignored), not a miss plus a false positive; unmatched atoms count where they lie."""
    truth = _table([(4.3, 50.0), (3.7, 20.0), (50.0, 50.0), (60.0, 60.0), (2.0, 80.0)])
    found = _table([(3.8, 50.0), (4.2, 20.0), (50.4, 50.0), (30.0, 30.0), (1.0, 30.0)])
    scores = atom_scores(found, truth, 1.0, n_layers=1, border_px=4, shape=(100, 100))
    # hits: (4.3, 50) and (50, 50); miss: (60, 60); false positive: (30, 30); the pair at
    # (3.7, 20) and the lone atoms at x = 1 and 2 lie in the band and are ignored
    assert scores.matched[0] == 2 and scores.n_true[0] == 3 and scores.n_found[0] == 3
    assert np.isclose(scores.precision[0], 2 / 3) and np.isclose(scores.recall[0], 2 / 3)
    assert np.isclose(scores.rms_error_px[0], np.sqrt((0.5**2 + 0.4**2) / 2))
    # filtering both tables before matching would score the first pair as a miss and the
    # second as a false positive; the same atoms without the band are all counted
    whole = atom_scores(found, truth, 1.0, n_layers=1)
    assert whole.n_true[0] == 5 and whole.matched[0] == 3


def _spot(shape, x, y, peak, sigma=1.5):
    """Logits of a Gaussian probability spot (peak probability ``peak``) at (x, y) px."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    p = peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def test_a_column_lit_in_two_species_channels_is_one_atom_of_the_stronger():
    """WS2 model grid (0.15 Å/px): a column lit in the SSe (weaker) and Se2 (stronger) maps a
    little apart is one Se2 atom between them, nearer the stronger; a W column a bond
    (1.82 Å = 12.1 px; here 12 px) away stays, and so does the other layer's column there."""
    sep = column_separation_px("ws2", 0.15)
    assert sep == pytest.approx(0.6 * 3.153 / np.sqrt(3) / 0.15)
    logits = np.full((2, 4, 40, 60), -12.0)
    logits[0, 2] = _spot((40, 60), 20.0, 20.0, 0.8)   # SSe
    logits[0, 3] = _spot((40, 60), 22.0, 20.0, 0.99)  # Se2, 0.3 Å away
    logits[0, 0] = _spot((40, 60), 34.0, 20.0, 0.99)  # W, a bond away
    logits[1, 3] = _spot((40, 60), 21.0, 20.0, 0.9)   # the other layer
    found = find_atoms(logits)
    assert len(found) == 4
    merged = merge_close_atoms(found, sep).sort_values(["layer", "x_px"])
    assert merged[["layer", "species"]].to_numpy().tolist() == [[0, 3], [0, 0], [1, 3]]
    x = merged.x_px.to_numpy()
    assert 21.0 < x[0] < 22.0 and x[1] == found.x_px[found.species == 0].item()
    pair = found[(found.layer == 0) & (found.species >= 2)]
    assert merged.area_px.iloc[0] == pair.area_px.sum()
    assert merged.score.iloc[0] == pytest.approx((pair.score * pair.area_px).sum()
                                                 / pair.area_px.sum())


def test_a_weak_blob_between_two_columns_does_not_chain_them():
    """Two W columns 1.82 Å apart and a weak blob on the bond's middle: the strongest seed
    takes the blob, the other column stays (a chaining cluster would merge all three)."""
    xy = [(10.0, 10.0), (22.1, 10.0), (16.05, 10.0)]
    atoms = pd.DataFrame({"x_px": [p[0] for p in xy], "y_px": [p[1] for p in xy], "layer": 0,
                          "species": [0, 0, 1], "area_px": [20, 18, 3],
                          "score": [0.9, 0.9, 0.55]})
    merged = merge_close_atoms(atoms, column_separation_px("ws2", 0.15))
    assert len(merged) == 2 and (merged.species == 0).all()
    assert merged.x_px.iloc[1] == 22.1
    assert merged.x_px.iloc[0] == pytest.approx((20 * 0.9 * 10 + 3 * 0.55 * 16.05)
                                                / (20 * 0.9 + 3 * 0.55))


def test_merging_leaves_the_atoms_of_a_graphene_bilayer_alone():
    """Perfect graphene masks: no two atoms of a layer closer than 0.6 bonds, nothing moves."""
    s = simulate_image(CFG, seed=4)
    found = find_atoms(_logits(s.labels))
    merged = merge_close_atoms(found, column_separation_px("graphene", s.pixel_size_angstrom))
    pd.testing.assert_frame_equal(merged, found)


def test_other_layer_distance_against_brute_force_on_a_simulated_bilayer():
    """Each atom's distance to the other layer's nearest, against all pairs; NaN alone."""
    s = simulate_image(StemSimConfig(material="ws2", size_px=96), seed=3)
    pix = s.pixel_size_angstrom
    got = other_layer_angstrom(s.atoms, pix)
    xy, layer = s.atoms[["x_px", "y_px"]].to_numpy(float), s.atoms.layer.to_numpy()
    pair = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) * pix
    pair[layer[:, None] == layer[None, :]] = np.inf
    np.testing.assert_allclose(got, pair.min(axis=1))
    assert (got > 0).all() and got.min() < 0.5 < got.max()  # a twisted bilayer has both
    assert np.isnan(other_layer_angstrom(s.atoms[layer == 0], pix)).all()
