"""`stem train` config `films`: Mo films simulated on every k-th step beside the WS2 model's own
material, in the model's channels (metal, S2, SSe, Se2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tmdlearn.stem.train as stem_train
from tmdlearn.config import merged, validate
from tmdlearn.errors import InputError
from tmdlearn.synth.stem import StemSimConfig, simulate_batch


def _config(**films):
    return merged(stem_train.DEFAULTS, {
        "data": {"material": "ws2", "size_px": 32, "pixel_size_angstrom": 0.15},
        "model": {"depth": 2, "filters": 4}, "threads": 1,
        "train": {"steps": 6, "eval_every": 6, "val_images": 1, "batch_size": 1},
        "films": films})


def test_film_steps_are_every_kth_and_simulate_the_film(tmp_path, monkeypatch):
    drawn = []

    def spy(sim, *args):
        drawn.append((sim.material, sim.monolayer_probability))
        return simulate_batch(sim, *args)

    monkeypatch.setattr(stem_train, "simulate_batch", spy)
    stem_train.train(_config(every=3, monolayer_probability=1.0), tmp_path / "run",
                     log=lambda line: None)
    ws2 = ("ws2", 0.0)
    assert drawn == [ws2, ws2, ("mos2", 1.0), ws2, ws2, ("mos2", 1.0)]


def test_a_film_batch_has_the_models_channels_with_mo_in_the_metal_one():
    every, film = stem_train._film_sim({"material": "mos2", "every": 2,
                                        "monolayer_probability": 1.0},
                                       StemSimConfig(material="ws2", size_px=64,
                                                     pixel_size_angstrom=0.15))
    assert every == 2 and film.species == ("Mo", "S2", "SSe", "Se2")
    images, labels, [sample] = simulate_batch(film, 0, "train", 0, 1)
    assert labels.shape == (1, 8, 64, 64)  # 2 layers x 4 species, as the WS2 model's
    assert labels[0, :4].any() and not labels[0, 4:].any()  # a monolayer: one layer labelled
    assert set(sample.atoms.species) <= {0, 1, 2, 3} and (sample.atoms.species == 0).any()
    metal = labels[0, 0].astype(bool)
    assert images[0][metal].mean() > np.percentile(images[0], 60)  # Mo columns are bright


@pytest.mark.parametrize("change, message", [
    ({"data": {"material": "graphene"}}, "films are for a TMD model"),
    ({"films": {"material": "mose2"}}, "films.material"),
    ({"films": {"monolayer_probability": 1.5}}, "at most 1")])
def test_films_are_refused_where_they_do_not_fit(change, message, tmp_path):
    config = merged(_config(every=2), change)
    with pytest.raises(InputError, match=message):
        validate(config, stem_train.DEFAULTS)  # as `stem train` checks its config
        stem_train.train(config, tmp_path / "run", log=lambda line: None)


def test_a_ws2_model_trains_beside_abtem_mo_film_monolayers(tmp_path):
    """abTEM MoS2(1-x)Se2x monolayers (benchmarks/data/abtem-train-mos2-1L) are taken for a WS2
    model: recorded with Mo as the dose's reference column and labelled in the model's
    channels, layer 0 only, the metal channel on the bright Mo columns."""
    from tmdlearn.stem.abtem_set import FINAL_PX, load_set, training_batch

    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "abtem-train-mos2-1L"
    items = load_set(folder)
    assert items and {i["material"] for i in items} == {"mos2"}
    sim = StemSimConfig(material="ws2", pixel_size_angstrom=0.15,
                        microscope={"dose": [2000, 3000]})
    images, labels = training_batch(items, sim, np.random.default_rng(0), 2)
    assert labels.shape == (2, 8, FINAL_PX, FINAL_PX)
    for image, label in zip(images, labels, strict=True):
        assert label[:4].any() and not label[4:].any()
        assert image[label[0].astype(bool)].mean() > np.percentile(image, 70)
    config = merged(_config(), {"abtem": {"folder": str(folder), "every": 2}})
    assert stem_train.train(config, tmp_path / "run", log=lambda line: None)["step"] == 6


def test_abtem_validation_files_are_left_out_of_training():
    """abtem.validation_every 8 trains on every file but those of index 7 mod 8 (the set's own
    validation images; the README of benchmarks/data/abtem-train-ws2), and the model card
    says so."""
    from tmdlearn.stem.modelstore import stem_card

    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "abtem-train-mos2-1L"
    sim = StemSimConfig(material="ws2", pixel_size_angstrom=0.15)
    every, everything = stem_train._abtem_items({"folder": str(folder), "every": 2}, sim)
    _, kept = stem_train._abtem_items({"folder": str(folder), "every": 2,
                                       "validation_every": 8}, sim)
    names = {i["name"] for i in everything}
    apart = {n for n in names if int(n.split("-")[-1]) % 8 == 7}
    assert every == 2 and len(apart) >= 2
    assert {i["name"] for i in kept} == names - apart
    card = stem_card({"config": {"abtem": {"folder": "F", "every": 2, "validation_every": 8}}})
    assert "abTEM images of F (those of index 7 mod 8 left out)" in card["training"]["data"]
    with pytest.raises(InputError, match="abtem.validation_every"):
        validate(merged(_config(), {"abtem": {"validation_every": -1}}), stem_train.DEFAULTS)


def test_abtem_folder_that_is_not_there_is_named(tmp_path):
    """A missing abtem.folder (e.g. the config's relative one, run from elsewhere) is named as
    missing, not as a folder without images; an empty one as holding none."""
    sim = StemSimConfig(material="ws2", pixel_size_angstrom=0.15)
    with pytest.raises(InputError, match="is not a folder"):
        stem_train._abtem_items({"folder": str(tmp_path / "nowhere"), "every": 2}, sim)
    with pytest.raises(InputError, match="holds no ws2 images"):
        stem_train._abtem_items({"folder": str(tmp_path), "every": 2}, sim)
