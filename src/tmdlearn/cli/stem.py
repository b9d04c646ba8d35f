"""`tmdlearn stem`: Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.io.atomic import atomic_path
from tmdlearn.progress import track

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Gomb-Net: per-layer atom identification in twisted bilayers (HAADF-STEM)."""


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    material: str = typer.Option("graphene", help="graphene or ws2."),
    n_train: int = typer.Option(100, help="Training images."),
    n_val: int = typer.Option(20, help="Validation images."),
    n_test: int = typer.Option(20, help="Test images."),
    size: int = typer.Option(256, help="Image size in pixels."),
    pixel_size: float = typer.Option(0.1, help="Nominal pixel size in Å (jittered)."),
    se_scenario: str = typer.Option("random", help="none, sublayer, layer, both or random."),
    seed: int = typer.Option(0, help="Seed: same seed, same images."),
) -> None:
    """Simulate twisted-bilayer HAADF images with per-layer labels and true atom positions.

    Writes OUT/{train,val,test}.npz (image (N, ny, nx) counts, labels (N, layers*species, ny, nx),
    pixel_size_angstrom (N,)) and OUT/{split}_atoms.csv (image, x_px, y_px, layer, species, n_se).
    """
    from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

    cfg = StemSimConfig(material=material, size_px=size, pixel_size_angstrom=pixel_size,
                        se_scenario=se_scenario)
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        if count <= 0:
            continue
        images, labels, pixels, tables = [], [], [], []
        for k in track(range(count), f"simulating {split}"):
            s = simulate_image(cfg, split_seed(seed, split, k))
            images.append(s.image)
            labels.append(s.labels.reshape(-1, size, size))
            pixels.append(s.pixel_size_angstrom)
            tables.append(s.atoms.assign(image=k))
        with atomic_path(out / f"{split}.npz") as tmp:
            np.savez_compressed(tmp, image=np.stack(images),
                                labels=np.stack(labels).astype(np.uint8),
                                pixel_size_angstrom=np.array(pixels),
                                species=np.array(cfg.species))
        atoms = pd.concat(tables, ignore_index=True)
        atoms["species"] = np.array(cfg.species)[atoms["species"]]
        with atomic_path(out / f"{split}_atoms.csv") as tmp:
            atoms[["image", "x_px", "y_px", "layer", "species", "n_se"]].to_csv(tmp, index=False)
        typer.echo(f"{split}: {count} images -> {out / f'{split}.npz'}")
