"""`tmdlearn explain run`: a run folder from map files; bad input ends with exit code 2."""

import json

import numpy as np
import pytest
import yaml

from explain_planted import planted_pair
from tmdlearn.cli import main
from tmdlearn.io.write import write_labspec


def _config(tmp_path, **data):
    path = tmp_path / "explain.yaml"
    path.write_text(yaml.safe_dump({"data": data}), encoding="utf-8")
    return path


def test_run_writes_the_run_folder(tmp_path, capsys):
    pair = planted_pair(n=16, seed=3)
    write_labspec(tmp_path / "raman.txt", pair["raman"])
    write_labspec(tmp_path / "pl.txt", pair["pl"])
    np.save(tmp_path / "truth.npy", pair["truth"])
    config = _config(tmp_path, pairs=[{
        "name": "resonant", "raman": str(tmp_path / "raman.txt"),
        "pl": str(tmp_path / "pl.txt"), "truth": str(tmp_path / "truth.npy"),
        "regions": {0: "substrate", 1: "pristine", 2: "defect"}}])
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "run", "--config", str(config), "--out", str(out),
              "--set", "model.epochs=2", "--set", "model.width=4",
              "--set", "interpret.grid_resolution=4", "--set", "interpret.pdp_samples=30"])
    assert exit_info.value.code in (0, None)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("r2_val_intensity_resonant", "pdp_rank_A1_resonant", "overfit_resonant",
                "ice_slope_pristine_vs_defect_resonant", "mape_val_intensity_resonant"):
        assert key in metrics
    assert 1 <= metrics["pdp_rank_A1_resonant"] <= 8
    for name in ("tables/scores.csv", "tables/scores.md", "tables/mode_ranking.csv",
                 "tables/region_slopes.csv", "tables/pdp.csv", "figures/fig2_resonant.png",
                 "figures/fig3_resonant.png", "models/cnn_resonant/model.json", "maps/resonant.npz",
                 "run.json"):
        assert (out / name).is_file(), name
    [saved] = json.loads((out / "run.json").read_text())["models"]
    assert (saved["path"], saved["role"], saved["workflow"]) == ("models/cnn_resonant", "saved",
                                                                 "explain")
    card = json.loads((out / "models" / "cnn_resonant" / "model.json").read_text())
    assert saved["sha256"] == card["files"]["weights.safetensors"]
    with np.load(out / "maps" / "resonant.npz") as maps:
        assert maps["ice_slopes"].shape == (16, 16, 24, 3)
    from tmdlearn.explain.regressor import RamanPLRegressor

    model = RamanPLRegressor.load(out / "models" / "cnn_resonant", device="cpu")
    assert model.predict(np.zeros((2, 24)) + 100.0).shape == (2, 3)


@pytest.mark.parametrize("data, message", [
    ({"pairs": [{"raman": "missing.txt", "pl": "missing.txt"}]}, "no such file"),
    ({"pairs": [{"raman": "x.txt"}]}, "needs keys raman and pl"),
    ({}, "no map pairs"),
])
def test_bad_input_exits_2(tmp_path, capsys, data, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "run", "--config", str(_config(tmp_path, **data)),
              "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
