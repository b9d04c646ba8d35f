"""`tmdlearn stem simulate --microscope real|ideal` against the simulator itself."""

from __future__ import annotations

import numpy as np
import pytest

from tmdlearn.cli import main
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed


def _simulate(out, *extra) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "simulate", "--out", str(out), "--n-train", "0", "--n-val", "0",
              "--n-test", "2", "--size", "48", *extra])
    return exit_.value.code or 0


@pytest.mark.parametrize("microscope, config", [
    ("ideal", {}), ("real", {"microscope": {}, "atom_sigma_angstrom": (0.1, 0.25)})])
def test_simulate_microscope_choice(tmp_path, microscope, config):
    assert _simulate(tmp_path, "--microscope", microscope) == 0
    images = np.load(tmp_path / "test.npz")["image"]
    cfg = StemSimConfig(size_px=48, **config)
    for k in range(2):
        assert np.array_equal(images[k], simulate_image(cfg, split_seed(0, "test", k)).image)


def test_simulate_unknown_microscope(tmp_path, capsys):
    assert _simulate(tmp_path, "--microscope", "perfect") == 2
    assert "--microscope must be real or ideal" in capsys.readouterr().err
