"""Latent analysis against physical properties on the synthetic five-material set, whose
material habits (nucleation density, edge roughness, bilayers) are planted by the simulator."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kruskal, spearmanr

from tmdlearn.classify.latent import correlate, latent_map, physical_properties
from tmdlearn.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore:.*random initialisation")


@pytest.fixture(scope="module")
def materials(tmp_path_factory):
    import torch

    from tmdlearn.afm.embed import embed
    from tmdlearn.afm.level import level
    from tmdlearn.io import open_dataset
    from tmdlearn.synth.materials import write_tmd_materials

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tmd")
    write_tmd_materials(folder, scale=0.1, pixels=64, seed=0)
    dataset = open_dataset(folder / "manifest.csv").filter(modality="afm")
    maps = [height_map for _, height_map in dataset]
    levelled = [level(m.height_nm) for m in maps]
    properties = physical_properties(levelled, [m.pixel_size_nm for m in maps])
    features = embed(levelled, device="cpu", size=96)  # EfficientNet-Lite0, ImageNet weights
    truth = pd.read_csv(folder / "truth.csv").set_index("file").loc[dataset.table["file"]]
    return properties, features, dataset.table["material"].to_numpy(), truth


def test_a_latent_axis_follows_a_material_dependent_physical_property(materials):
    properties, features, material, truth = materials
    edges = properties["step_edge_length_um"].to_numpy()
    # known answer: the simulator plants material-specific nucleation densities (WS2 1-8,
    # Mo-WSe2 40-200 per µm²); more domains give more step edge per image
    assert kruskal(*[edges[material == m] for m in np.unique(material)]).pvalue < 1e-6
    assert spearmanr(edges, truth["state_nucleation_density_um2"]).statistic > 0.6
    latent = latent_map(features, "pca")
    rng = np.random.default_rng(0)
    table = correlate(latent, properties.assign(random=rng.random(len(properties))))
    on_edges = table[table["property"] == "step_edge_length_um"]
    strongest = on_edges.loc[on_edges["rho"].abs().idxmax()]
    assert abs(strongest["rho"]) > 0.5 and strongest["p_value"] < 1e-6
    assert strongest["rho_low"] <= strongest["rho"] <= strongest["rho_high"]
    assert (table[table["property"] == "random"]["rho"].abs() < 0.3).all()


def test_physical_properties_units(materials):
    properties, *_ = materials
    assert {"coverage", "domain_density_um2", "rms_vs_smoothed_nm", "bilayer_fraction"} <= set(
        properties.columns)
    flat = np.zeros((2, 32, 32))
    flat[:, 8:24, 8:24] = 0.7  # one raised square monolayer island in each image
    in_pixels = physical_properties(flat)
    assert "domain_density_um2" not in in_pixels and "domain_density_per_mpx" in in_pixels
    assert np.allclose(in_pixels["coverage"], 0.25, atol=0.03)
    with pytest.raises(InputError, match="property rows"):
        correlate(np.zeros((3, 2)), in_pixels)
