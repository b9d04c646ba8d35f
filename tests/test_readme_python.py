"""README "Every workflow in three lines": each block runs as written (from a clone), with
small settings added to its ``load_config`` call so that the test stays fast."""

import re
from pathlib import Path

import pytest

import tmdlearn.config

ROOT = Path(__file__).resolve().parents[1]
SECTION = "### Every workflow in three lines"
#: Settings added to each block's config (same keys the README's config takes; smaller runs).
FAST = {
    "spectra": [],
    "afm": [],
    "stem": [],
    "classify": ["tune=false", "soft_vote=[]", "cv.n_splits=3", "cv.n_boot=50",
                 "data.latent_features=null"],
    "crossmodal": ["device=cpu", "embedding.methods=[pca]", "regression.physical=[]",
                   "regression.mlp.trials=1", "regression.mlp.epochs=20", "generation.folds=2",
                   "generation.epochs=15", "generation.tasks=[afm->raman]", "heads.epochs=30"],
    "explain": ["data.synth.pixels=24", "model.epochs=2", "model.width=4",
                "interpret.grid_resolution=4", "interpret.pdp_samples=30"],
}


def _blocks() -> tuple[str, dict[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    imports, *blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    named = {re.search(r"(\w+)\.run\(", block).group(1): block for block in blocks}
    return imports, named


def test_the_readme_shows_every_workflow_in_three_lines():
    _, blocks = _blocks()
    assert set(blocks) == set(FAST)
    for block in blocks.values():
        assert len(block.strip().splitlines()) == 3


def _run_block(name, tmp_path, monkeypatch):
    imports, blocks = _blocks()
    for folder in ("configs", "tests"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    plain = tmdlearn.config.load_config

    def fast(path, overrides=None, defaults=None):
        return plain(path, [*(overrides or []), *FAST[name]], defaults)

    monkeypatch.setattr(tmdlearn.config, "load_config", fast)
    namespace: dict = {}
    exec(imports + blocks[name], namespace)  # noqa: S102 - the README's own code
    return namespace["outcome"]


@pytest.mark.parametrize("name", ["spectra", "afm", "classify", "explain"])
def test_readme_block_runs(name, tmp_path, monkeypatch, capsys):
    outcome = _run_block(name, tmp_path, monkeypatch)
    assert outcome.metrics and (outcome.tables or name == "stem")
    assert capsys.readouterr().out or name == "classify"
    if name == "classify":
        assert (tmp_path / "runs" / "classify" / "tables" / "comparison.csv").is_file()
        assert outcome.metrics["best"]["accuracy"] > 0.5


def test_readme_stem_block_runs(tmp_path, monkeypatch, capsys):
    from tmdlearn.data.containers import StemImage
    from tmdlearn.io import write_stem
    from tmdlearn.synth.stem import StemSimConfig, simulate_image

    # the real microscope the shipped model was trained on (as `stem simulate`)
    sample = simulate_image(StemSimConfig(size_px=160, microscope={},
                                          atom_sigma_angstrom=(0.1, 0.25)), seed=3)
    write_stem(tmp_path / "haadf.tif", StemImage(sample.image, sample.pixel_size_angstrom))
    outcome = _run_block("stem", tmp_path, monkeypatch)
    # the planted atoms found (the truth counts those whose centre is in the image)
    assert abs(outcome.metrics["atoms"] / len(sample.atoms) - 1) < 0.2
    assert outcome.metrics["trust"] in capsys.readouterr().out


@pytest.mark.slow
def test_readme_crossmodal_block_runs(tmp_path, monkeypatch):
    from tmdlearn.synth.campaign import write_mos2_campaign

    write_mos2_campaign(tmp_path / "demo-output" / "data" / "mos2-campaign", samples=40,
                        seed=0, pixels=256, powers=(1.0,), overview_every=3)
    outcome = _run_block("crossmodal", tmp_path, monkeypatch)
    assert outcome.metrics["generation_afm_to_raman_test_pearson"] >= 0.9
