"""The specimens `benchmarks/stem_abtem.py` hands to abTEM (built with ase; abTEM itself is not
needed here): 2H WS2(1-x)Se2x and MoS2(1-x)Se2x layers at their Vegard lattice constants, each
column's kind as tmdlearn's species index."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

pytest.importorskip("ase")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import stem_abtem  # noqa: E402  (a benchmark script beside the tests)
from tmdlearn.constants import VEGARD_ANGSTROM  # noqa: E402


@pytest.mark.parametrize("material, metal", [("ws2", "W"), ("mos2", "Mo")])
@pytest.mark.parametrize("x", [0.0, 1.0])
def test_a_monolayer_has_its_metal_lattice_and_chalcogen_columns(material, metal, x):
    atoms, cols, drawn = stem_abtem.structure(material, np.random.default_rng(0), 30.0,
                                              layers=1, se=(x,))
    assert drawn["layers"] == 1 and set(cols["layer"]) == {0}
    symbols = set(atoms.get_chemical_symbols())
    assert symbols == {metal, "Se" if x else "S"}
    metal_xy = cols["xy"][cols["species"] == 0]
    inner = (np.abs(metal_xy - 15) < 10).all(axis=1)
    d, _ = cKDTree(metal_xy).query(metal_xy[inner], k=2)
    a = VEGARD_ANGSTROM[metal][int(x)]
    np.testing.assert_allclose(d[:, 1], a, atol=2e-4)  # the lattice constant (xy to 1e-4 Å)
    chalcogen = cols["species"][cols["species"] > 0]
    assert set(chalcogen) == {3 if x else 1}  # Se2 or S2 columns: two atoms each
    assert np.isclose(len(chalcogen), (cols["species"] == 0).sum(), rtol=0.1)


def test_a_bilayer_stacks_two_layers_at_the_interlayer_distance():
    atoms, cols, drawn = stem_abtem.structure("mos2", np.random.default_rng(1), 30.0,
                                              layers=2, se=(0.5, 0.5))
    z = atoms.positions[:, 2][np.array(atoms.get_chemical_symbols()) == "Mo"]
    assert np.allclose(np.unique(np.round(z, 6)), [6.15 / 2, 6.15 * 1.5])
    assert set(cols["layer"]) == {0, 1} and set(cols["species"]) == {0, 1, 2, 3}
