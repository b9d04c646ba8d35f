"""`crossmodal predict` says when an input is unlike the run's training inputs: simulated MoS2
Raman at the training laser power passes, far from it (20 mW) is flagged, and the check
survives the model store."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from tmdlearn.crossmodal.data import preprocess_spectrum
from tmdlearn.crossmodal.domain import fit_domain
from tmdlearn.crossmodal.predict import _grids, predict_files
from tmdlearn.crossmodal.saved import load_models, save_models
from tmdlearn.crossmodal.workflow import DEFAULTS
from tmdlearn.io import write_labspec
from tmdlearn.synth.film import film_state, sample_growth
from tmdlearn.synth.optics import raman_spectrum

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "spectra-wse2mose2"


def _spectra(seed: int, n: int, power_mw: float):
    """``n`` simulated MoS2 Raman spectra (centre of random growths) at ``power_mw``, as read
    and as the run's model inputs (N, L)."""
    grid, raw, inputs = _grids(DEFAULTS)["raman"], [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        spectrum, _ = raman_spectrum(film_state(sample_growth(rng), "center", rng), power_mw, rng)
        raw.append(spectrum)
        inputs.append(preprocess_spectrum(spectrum.intensity.mean(axis=0), spectrum.axis, grid))
    return raw, np.array(inputs)


@pytest.fixture(scope="module")
def domain():
    return fit_domain(_spectra(1, 80, 1.0)[1])


def test_inputs_like_the_training_ones_pass_and_others_are_flagged(domain):
    flagged = lambda x: np.mean([reason != "" for reason in domain.outside(x)])  # noqa: E731
    assert flagged(_spectra(2, 40, 1.0)[1]) <= 0.1  # new films, the training power
    assert flagged(_spectra(2, 40, 20.0)[1]) >= 0.5  # a laser 20x stronger heats the film
    assert domain.outside(np.full((1, domain.mean.size), 0.5))[0].startswith(
        "unlike the training inputs (")
    assert fit_domain(np.zeros((4, 10))) is None  # too few inputs to describe


def test_the_domain_survives_the_model_store(domain, tmp_path):
    config = copy.deepcopy(DEFAULTS)
    save_models(tmp_path, {"domain_raman": domain}, config, {})
    loaded = load_models(tmp_path, config)["domain_raman"]
    x = _spectra(3, 5, 20.0)[1]
    for a, b in zip(domain.scores(x), loaded.scores(x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert (loaded.t2_limit, loaded.q_limit) == pytest.approx((domain.t2_limit,
                                                               domain.q_limit))


def test_predict_warns_per_file(domain, tmp_path):
    run = {"config": copy.deepcopy(DEFAULTS), "models": {"domain_raman": domain},
           "filters": {}}
    files = []
    for name, power in (("train", 1.0), ("hot", 20.0)):
        raw, _ = _spectra(1 if name == "train" else 4, 1, power)
        files.append(write_labspec(tmp_path / f"{name}.txt", raw[0]))
    if SHARED.is_dir():
        files.append(SHARED / "WSe2_Raman.txt")  # another material, a real spectrometer
    table, _ = predict_files(files, run)
    assert table.warning[0] == "" and table.input_q_over_limit[0] <= 1
    assert "unlike the training inputs" in table.warning[1]
    assert table.input_t2_over_limit[1] > 1 or table.input_q_over_limit[1] > 1
    if SHARED.is_dir():
        assert "its predictions are extrapolations" in table.warning[2]


def test_a_bad_file_among_others_is_its_own_error_row(domain, tmp_path, capsys):
    """`crossmodal predict` with a PL file (another axis), a missing file and a good spectrum:
    the good one is predicted, the others get their error in predictions.csv and on stderr,
    and the exit code is 2 (the run folder is a minimal one holding the Raman domain)."""
    import json

    import pandas as pd

    from tmdlearn.cli import main
    from tmdlearn.crossmodal.saved import save_models

    run = tmp_path / "run"
    config = copy.deepcopy(DEFAULTS)
    save_models(run / "models", {"domain_raman": domain}, config, {})
    (run / "run.json").write_text(json.dumps({"command_name": "tmdlearn crossmodal run",
                                              "config": config}))
    good = write_labspec(tmp_path / "good.txt", _spectra(1, 1, 1.0)[0][0])
    files = [str(good), str(tmp_path / "missing.txt")]
    if SHARED.is_dir():
        files.append(str(SHARED / "WSe2_PL.txt"))
    with pytest.raises(SystemExit) as exit_:
        main(["crossmodal", "predict", *files, "--models", str(run), "--out",
              str(tmp_path / "pred")])
    assert exit_.value.code == 2
    table = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    assert table.error.isna().tolist() == [True] + [False] * (len(files) - 1)
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'missing.txt'}: " in err
    if SHARED.is_dir():
        assert "does not cover the window" in table.error.iloc[2]


def test_the_warning_says_how_far_out():
    """Just over a limit is the edge of the training inputs (1 % of inputs like them get
    there); far over it, unlike them."""
    from tmdlearn.crossmodal.domain import Domain

    box = Domain(np.zeros(3), np.eye(3)[:1], np.ones(1), t2_limit=1.0, q_limit=1.0)
    edge, far, inside = box.outside(np.array([[1.1, 0, 0], [3.0, 0, 0], [0.5, 0.5, 0]]))
    assert edge.startswith("at the edge of the training inputs (T² 1.21 over its limit 1)")
    assert far.startswith("unlike the training inputs (T² 9 over its limit 1)")
    assert inside == ""
