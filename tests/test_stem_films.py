"""Mo films read with the WS2 model: the species from the column brightness, against the
simulator's planted columns (MoS2, MoSe2 and their alloy), and the metal's Vegard ends."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from tmdlearn.cli import main
from tmdlearn.constants import A_MOS2_ANGSTROM, A_MOSE2_ANGSTROM
from tmdlearn.errors import InputError
from tmdlearn.stem.analysis import analyse_atoms
from tmdlearn.stem.films import FILMS, MO_LEVELS, check_material, film_species, model_material
from tmdlearn.stem.workflow import analyse, analysis_warnings, material_of
from tmdlearn.synth.specimen import column_weights
from tmdlearn.synth.stem import simulate_image
from tmdlearn.synth.stem_files import simulation_config


def _monolayer(se_fraction: float, seed: int, size: int = 384, pixel_angstrom: float = 0.1):
    """A simulated Mo film monolayer of the realistic microscope at a good dose."""
    cfg = replace(simulation_config("mos2", size, pixel_angstrom, "both"), layers=1,
                  se_fraction=(se_fraction, se_fraction),
                  microscope={"dose": (1000.0, 1000.0)})
    return simulate_image(cfg, seed=seed)


def _as_the_model_reads(sample) -> pd.DataFrame:
    """The planted columns labelled as the WS2 model labels a Mo film: its brightest
    sublattice "W" (Se2 in MoSe2), the other by brightness against it (S2 in MoS2 as SSe)."""
    atoms = sample.atoms
    metal = atoms.species.to_numpy() == 0
    se2_brighter = atoms.n_se[~metal].mean() > 1
    labels = np.where(metal, "Se2" if se2_brighter else "W", "W" if se2_brighter else "SSe")
    return atoms.assign(species=labels)


def _accuracy(sample, atoms: pd.DataFrame) -> tuple[float, float]:
    """Fraction of the planted metal and chalcogen columns given their true species."""
    truth = np.array(sample.species)[sample.atoms.species]
    found = atoms.species.to_numpy()
    metal = truth == "Mo"
    return float(np.mean(found[metal] == "Mo")), float(np.mean(found[~metal] == truth[~metal]))


def test_mo_levels_follow_the_calibrated_contrast():
    # Se2 outshines Mo, S2 is well below it: the WS2 model's W-brightest picture fails
    assert MO_LEVELS["S2"] < 0.6 < 1.0 < MO_LEVELS["SSe"] < MO_LEVELS["Se2"]
    w = column_weights(np.arange(4), 1.8, 1.8, "W")
    assert w[3] / w[0] < 1  # in a W film every chalcogen column is dimmer than W


@pytest.mark.parametrize("film,se,seed", [("mos2", 0.0, 1), ("mose2", 1.0, 2)])
def test_pure_films_get_mo_on_the_right_sublattice(film, se, seed):
    sample = _monolayer(se, seed)
    model = _as_the_model_reads(sample)
    assert _accuracy(sample, model)[0] == 0.0  # the model's labels: no column called Mo
    atoms, notes, doubts = film_species(sample.image, model, sample.pixel_size_angstrom,
                                        FILMS[film])
    metal, chalcogen = _accuracy(sample, atoms)
    assert metal > 0.98 and chalcogen > 0.95
    assert notes[0].startswith("layer 0: Mo on the " + ("brighter" if se == 0 else "dimmer"))


def test_a_heavily_substituted_sulphide_is_read_as_an_alloy():
    """x = 0.7 Se named mos2: the brighter sublattice is the chalcogens', and it says so."""
    sample = _monolayer(0.7, 3)
    atoms, notes, doubts = film_species(sample.image, _as_the_model_reads(sample),
                                sample.pixel_size_angstrom, FILMS["mos2"])
    metal, chalcogen = _accuracy(sample, atoms)
    assert metal > 0.98 and chalcogen > 0.9
    assert "not the sublattice a pure MoS2 would give" in notes[0]


def test_an_alloy_of_unknown_composition():
    sample = _monolayer(0.5, 4)
    atoms, notes, doubts = film_species(sample.image, _as_the_model_reads(sample),
                                sample.pixel_size_angstrom, FILMS["mos2-mose2"])
    metal, chalcogen = _accuracy(sample, atoms)
    assert metal > 0.98 and chalcogen > 0.85
    assert "uniform" not in notes[0]
    # a pure film named as an alloy: told that the composition cannot be read off
    pure = _monolayer(0.0, 5)
    _, notes, _ = film_species(pure.image, _as_the_model_reads(pure), pure.pixel_size_angstrom,
                            FILMS["mos2-mose2"])
    assert "name the film (--material mos2 or mose2)" in notes[0]


def test_w_films_keep_the_model_species():
    atoms = pd.DataFrame({"x_px": [1.0], "y_px": [2.0], "layer": [0], "species": ["SSe"]})
    out, notes, doubts = film_species(np.zeros((8, 8)), atoms, 0.1, FILMS["wse2"])
    assert out is atoms and notes == []


def test_material_names():
    assert model_material("MoSe2") == "ws2" and model_material("graphene") == "graphene"
    assert model_material(None) is None
    with pytest.raises(InputError, match="got 'mote2'"):
        check_material("mote2")
    assert material_of(["Mo", "S2", "Se2"]) == "ws2"  # stem analyze of a Mo film's atoms


def test_vegard_ends_follow_the_metal():
    """A Mo layer's lattice constant halfway between MoS2 and MoSe2 reads x = 0.5; the same
    lattice of W columns reads against WS2 / WSe2."""
    a = (A_MOS2_ANGSTROM + A_MOSE2_ANGSTROM) / 2
    i, j = np.meshgrid(np.arange(12), np.arange(12))
    xy = (i.ravel()[:, None] * [a, 0] + j.ravel()[:, None] * [a / 2, a * np.sqrt(3) / 2]) / 0.1
    chalcogen = xy + np.array([a / 2, a / (2 * np.sqrt(3))]) / 0.1
    for metal, expected in (("Mo", 0.5), ("W", (a - 3.153) / (3.282 - 3.153))):
        atoms = pd.DataFrame({"x_px": np.r_[xy[:, 0], chalcogen[:, 0]],
                              "y_px": np.r_[xy[:, 1], chalcogen[:, 1]], "layer": 0,
                              "species": [metal] * len(xy) + ["SSe"] * len(xy)})
        lattice = analyse_atoms(atoms, 0.1, "ws2", n_boot=10)["lattice"]
        assert lattice.vegard_se_fraction.iloc[0] == pytest.approx(expected, abs=0.01)
        assert lattice.species_se_fraction.iloc[0] == 0.5
    # all Se2 columns on a lattice Vegard reads as x = 0.5 agree; on MoS2's they do not
    for a_lattice, disagree in ((a, False), (A_MOS2_ANGSTROM, True)):
        xy = (i.ravel()[:, None] * [a_lattice, 0]
              + j.ravel()[:, None] * [a_lattice / 2, a_lattice * np.sqrt(3) / 2]) / 0.1
        se2 = xy + np.array([a_lattice / 2, a_lattice / (2 * np.sqrt(3))]) / 0.1
        atoms = pd.DataFrame({"x_px": np.r_[xy[:, 0], se2[:, 0]],
                              "y_px": np.r_[xy[:, 1], se2[:, 1]], "layer": 0,
                              "species": ["Mo"] * len(xy) + ["Se2"] * len(xy)})
        outcome = analyse(atoms, (400, 400), 0.1, "mose2", n_boot=10)
        said = " ".join(analysis_warnings(outcome, "mose2", None, 0.1))
        assert ("the column species say Se fraction 1.00" in said) == disagree, said
    # and which pixel size would make the lattice the species say: 0.1 x 3.288 / 3.160
    assert "(0.104 Å/px would give the 3.288 Å the species say)" in said


def test_predict_a_mose2_monolayer_end_to_end(tmp_path, capsys):
    """`stem predict --material mose2 --monolayer`: the shipped WS2 model's columns, Mo on
    the dimmer sublattice, a note saying so, and `stem analyze` reads Vegard against MoSe2."""
    sample = _monolayer(1.0, 6)
    path = tmp_path / "mose2.npy"
    np.save(path, sample.image)
    out = tmp_path / "pred"
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "predict", str(path), "--pixel-size", f"{sample.pixel_size_angstrom}",
              "--material", "MoSe2", "--monolayer", "--out", str(out)])
    assert exit_.value.code in (0, None)
    assert "Mo on the dimmer sublattice" in capsys.readouterr().err
    atoms = pd.read_csv(out / "atoms.csv")
    truth = sample.atoms
    d, j = cKDTree(atoms[["x_px", "y_px"]]).query(truth[["x_px", "y_px"]])
    hit = d < 0.5 / sample.pixel_size_angstrom
    assert hit.mean() > 0.9
    found = atoms.species.to_numpy()[j[hit]]
    planted = np.array(sample.species)[truth.species.to_numpy()[hit]]
    assert np.mean(found == planted) > 0.95
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "analyze", str(out), "--out", str(tmp_path / "ana"), "--n-boot", "10"])
    assert exit_.value.code in (0, None)
    assert "material mose2 from the stem predict run" in capsys.readouterr().out
    lattice = pd.read_csv(tmp_path / "ana" / "lattice.csv")
    assert lattice.vegard_se_fraction.iloc[0] == pytest.approx(1.0, abs=0.35)
    assert lattice.species_se_fraction.iloc[0] > 0.9
    assert (lattice.vegard_a_s2_angstrom.iloc[0], lattice.vegard_a_se2_angstrom.iloc[0]) == \
        (A_MOS2_ANGSTROM, A_MOSE2_ANGSTROM)


REAL_MOSE2 = (Path(__file__).resolve().parents[2] / "shared" / "data" / "stem-real-tmd"
              / "MoSe2_80K_samll_region.tif")


@pytest.mark.skipif(not REAL_MOSE2.exists(), reason="../shared/data/stem-real-tmd is absent")
def test_a_real_mose2_named_mos2_is_doubtful_and_says_which(tmp_path, capsys):
    """The real 80 kV MoSe2 monolayer named mos2: its chalcogen columns 0.75 x the brighter
    sublattice are no MoS2 contrast; the verdict is doubtful and names mose2. Named mose2: ok."""
    for film, trust in (("mos2", "doubtful"), ("mose2", "ok")):
        out = tmp_path / film
        with pytest.raises(SystemExit) as exit_:
            main(["stem", "predict", str(REAL_MOSE2), "--pixel-size", "0.078", "--material",
                  film, "--monolayer", "--out", str(out)])
        assert exit_.value.code in (0, None)
        quality = json.loads((out / "quality.json").read_text())
        assert quality["trust"] == trust, quality["reasons"]
    assert "another film (--material mose2)" in quality_of(tmp_path / "mos2")


def quality_of(folder: Path) -> str:
    """The reasons of a prediction's self-check, joined."""
    return " ".join(json.loads((folder / "quality.json").read_text())["reasons"])


def test_a_pixel_size_root3_off_is_named_by_the_lattice(tmp_path):
    """A TMD image whose pixel size is given √3 too small: its strongest Fourier spots then
    read as second-order planes, which the pixel-size check accepts, but the atoms per nm² are
    off, and their reason gives the pixel size the lattice says (first-order)."""
    sample = _monolayer(0.0, 7, 256, 0.15)  # the given one then stays within 2.5x the model's
    path = tmp_path / "mos2.npy"
    np.save(path, sample.image)
    given = sample.pixel_size_angstrom / np.sqrt(3)
    with pytest.raises(SystemExit) as exit_:
        main(["stem", "predict", str(path), "--pixel-size", f"{given:.4f}", "--material",
              "mos2", "--monolayer", "--out", str(tmp_path / "p")])
    assert exit_.value.code in (0, None)
    reasons = quality_of(tmp_path / "p")
    said = float(reasons.split("the image's lattice says ")[1].split(" Å/px")[0])
    assert said == pytest.approx(sample.pixel_size_angstrom, rel=0.05), reasons
