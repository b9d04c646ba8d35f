"""Cross-modal workflow: grouped splits, data loading with the study's filters, models, tuning,
regression and generation on planted data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from crossmodal_planted import planted
from tmdlearn.crossmodal.data import PL_GRID, RAMAN_GRID, TASKS, load_pairs
from tmdlearn.crossmodal.generate import build_generator, fit_generator, generator_from_state
from tmdlearn.crossmodal.readout import read_feature
from tmdlearn.crossmodal.workflow import DEFAULTS, held_out_samples, run, task_split
from tmdlearn.errors import InputError
from tmdlearn.learn.regression import pearson_rows, rmse_rows
from tmdlearn.learn.tune import tune
from tmdlearn.synth.optics import SAPPHIRE_LINES, Peak

FAST = {"device": "cpu", "embedding": {"methods": ["pca"]},
        "regression": {"physical": [], "mlp": {"trials": 1, "epochs": 20},
                       "svr_grid": {"C": [1.0, 10.0], "gamma": ["scale"], "kernel": ["rbf"],
                                    "degree": [2]}},
        "generation": {"trials": 1, "folds": 2, "epochs": 15},
        "heads": {"epochs": 30}}


pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_sample_on_both_sides_of_any_split(seed):
    data, _ = planted(n_samples=15, locations=3, seed=seed)
    # a modality missing for some keys must not change the sample-level hold-out
    data.pl[::4] = np.nan
    held_out = held_out_samples(data.groups, 0.2, seed)
    assert 0 < held_out.size < 15
    for inputs, output in TASKS.values():
        train, test, folds = task_split(data, [*inputs, output], held_out, 3, seed)
        assert not set(data.groups[train]) & set(data.groups[test])
        assert set(data.groups[test]) <= set(held_out)
        for fold_train, fold_val in folds:
            g = data.groups[train]
            assert not set(g[fold_train]) & set(g[fold_val])
        assert np.isfinite(data.inputs(output)[np.concatenate([train, test])]).all()


def test_load_pairs_applies_the_study_filters(tmp_path):
    from tmdlearn.synth.campaign import write_mos2_campaign

    write_mos2_campaign(tmp_path, samples=3, seed=0, pixels=32, powers=(0.5, 2.0))
    data, filters = load_pairs(tmp_path)
    assert filters["raman"] == {"laser_power_mw": 0.5}          # the lowest power by default
    assert len(data) == 6                                      # 3 samples x (center, edge)
    assert all(h is not None and h.scan_size_um == pytest.approx(1.0) for h in data.heights)
    assert data.raman.shape == (6, 202) and data.pl.shape == (6, PL_GRID.points)
    np.testing.assert_allclose(data.raman_axis[[0, -1]], RAMAN_GRID.window)
    for spectra in (data.raman, data.pl):
        np.testing.assert_allclose(spectra.min(axis=1), 0.0)
        np.testing.assert_allclose(spectra.max(axis=1), 1.0)
    assert all("_0.5mW" in f for f in data.files["raman"])
    with pytest.raises(InputError, match="laser_power_mw=1.0"):
        load_pairs(tmp_path, raman_power_mw=1.0)


def test_generators_output_spectra_in_unit_interval():
    torch.manual_seed(0)
    x_image, x_spec = torch.randn(5, 40), torch.rand(5, 30)
    for kind, dims, x in (("image", (40,), x_image), ("spectrum", (30,), x_spec),
                          ("fusion", (40, 30), torch.cat([x_image, x_spec], 1))):
        model = build_generator(kind, dims, 202, {"n_decoder_layers": 3, "units": 128}).eval()
        with torch.no_grad():
            y = model(x)
        assert y.shape == (5, 202)
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    image = build_generator("image", (40,), 202, {"n_decoder_layers": 3})
    widths = [m.out_features for m in image.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [2048, 1024, 512, 256, 128, 202]       # 2048 -> 1024 -> halving


def test_generator_learns_and_reloads():
    data, _ = planted(seed=3)
    x, y = data.image_features, data.raman
    gen, _ = fit_generator("image", (x.shape[1],), x[:36], y[:36], {"n_decoder_layers": 1},
                           epochs=15, seed=0, device="cpu")
    before = gen.predict(x[36:])
    assert np.nanmean(pearson_rows(y[36:], before)) > 0.9
    again = generator_from_state(gen.state()).predict(x[36:])
    np.testing.assert_allclose(again, before, atol=1e-6)


def test_row_metrics_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.random((4, 50)), rng.random((4, 50))
    expected = [pearsonr(u, v)[0] for u, v in zip(a, b, strict=True)]
    np.testing.assert_allclose(pearson_rows(a, b), expected)
    np.testing.assert_allclose(rmse_rows(a, b), np.sqrt(((a - b) ** 2).mean(axis=1)))


def test_tuning_resumes_from_sqlite(tmp_path):
    space = {"x": {"type": "float", "low": -2.0, "high": 2.0}}
    storage = tmp_path / "optuna.db"
    calls = []

    def objective(params, trial):
        calls.append(params["x"])
        return (params["x"] - 1.0) ** 2

    tune(objective, space, 3, study_name="s", storage=storage)
    study = tune(objective, space, 5, study_name="s", storage=storage)
    assert len(calls) == 5 and len(study.trials) == 5           # 3 kept, 2 more run
    with pytest.raises(InputError, match="low <= high"):
        tune(objective, {"x": {"type": "float", "low": 1, "high": 0}}, 1)


def test_readout_recovers_planted_split():
    data, truth = planted(seed=0)
    split = read_feature(data.raman, data.raman_axis, "raman")
    np.testing.assert_allclose(split, truth["split"], atol=0.3)


def test_readout_on_sapphire_needs_its_lines():
    """Films on sapphire: its 417.6 cm-1 line, 1.5x the film's tallest peak, added to the planted
    spectra. Without the preset's sapphire lines no fit is ok (the A1g peak takes the line);
    with them (the workflow's default ``generation.readout_include``) every split is found."""
    data, truth = planted(seed=0)
    axis = data.raman_axis
    lines = sum(Peak("sapphire", c, w, rel).evaluate(axis) for c, rel, w in SAPPHIRE_LINES)
    on_sapphire = data.raman + 1.5 * data.raman.max(axis=1, keepdims=True) * lines
    assert np.isnan(read_feature(on_sapphire, axis, "raman")).all()
    split = read_feature(on_sapphire, axis, "raman",
                         include=DEFAULTS["generation"]["readout_include"]["raman"])
    np.testing.assert_allclose(split, truth["split"], atol=0.3)


def test_workflow_on_planted_data_has_the_expected_ordering():
    data, _ = planted(n_samples=24, seed=0)
    cfg = {**FAST, "generation": {**FAST["generation"], "tasks": ["afm->raman", "raman->pl"]}}
    outcome = run(data, cfg)
    m = outcome.metrics
    # Raman carries the planted coverage strongly, PL weakly: Raman wins, both beat the mean
    assert m["regression_raman_PCA-0_r2_test"] > m["regression_pl_PCA-0_r2_test"]
    assert m["regression_raman_PCA-0_r2_test"] > 0.5
    table = outcome.tables["table3_regression"]
    mean = table[(table["model"] == "mean") & (table["target"] == "PCA-0")]["r2_test"]
    assert (mean <= 0.0 + 1e-9).all()
    # the model reported without the test set: each target's best grouped-CV R² on the
    # training samples (the training mean's CV R² is at most 0)
    assert (table.loc[table["model"] == "mean", "r2_cv"] <= 1e-9).all()
    pc0 = table[(table["input"] == "raman") & (table["target"] == "PCA-0")
                & (table["model"] != "mean")]
    chosen = pc0.loc[pc0["r2_cv"].idxmax()]
    assert chosen["r2_cv"] > 0.3 and chosen["r2_test"] > 0.5
    assert pc0["cv_chosen"].tolist() == (pc0["r2_cv"] == chosen["r2_cv"]).tolist()
    assert (table.groupby(["input", "target"])["cv_chosen"].sum() == 1).all()
    assert m["regression_raman_PCA-0_cv_chosen_r2_test"] == chosen["r2_test"]
    assert outcome.models["regression_raman"]["cv_chosen"]["PCA-0"] == chosen["model"]
    assert (m["regression_raman_embedding_cv_chosen_r2_test_mean"]
            <= m["regression_raman_embedding_best_r2_test_mean"] + 1e-12)
    assert m["generation_afm_to_raman_test_pearson"] >= 0.9
    assert m["readout_afm_to_raman_split_A1g_E2g_r2"] > 0.3
    gen = outcome.tables["table4_generation"]
    assert set(gen["split"]) >= {"train", "val", "test"}
    assert {"rmse_mean", "rmse_std", "pearson_mean", "pearson_std"} <= set(gen.columns)
    assert set(outcome.tables["table6_readouts"]["feature"]) == {"split_A1g_E2g", "A_fwhm"}
