"""`tmdlearn explain`: Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer

from tmdlearn.cli.common import CONFIG_OPTION, SET_OPTION, config_from_cli
from tmdlearn.errors import InputError

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""


@app.command("run")
def run(
    config: Path | None = CONFIG_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    overrides: list[str] | None = SET_OPTION,
) -> None:
    """Fit, train, score and explain every Raman/PL map pair of the config (data.pairs, or the
    embedded synthetic WSe2 maps with data.synth)."""
    from tmdlearn.explain import workflow

    started = time.time()
    cfg = config_from_cli(config, overrides, workflow.DEFAULTS)
    pairs = load_pairs(cfg["data"])
    results = workflow.run(pairs, cfg)
    write_run(out, cfg, results, started)


def load_pairs(data: dict) -> list[dict]:
    """Map pairs from files (``pairs``: name, raman, pl, optional truth .npy and regions) or
    from the synthetic WSe2 generator (``synth``)."""
    from tmdlearn.data.containers import SpectralMap
    from tmdlearn.io import read

    if data.get("synth"):
        return _synth_pairs(data["synth"])
    pairs = []
    for i, entry in enumerate(data.get("pairs") or []):
        if not isinstance(entry, dict) or not {"raman", "pl"} <= set(entry):
            raise InputError(f"data.pairs[{i}] needs keys raman and pl (map files)")
        pair = {"name": str(entry.get("name", f"pair{i}"))}
        for key in ("raman", "pl"):
            loaded = read(entry[key])
            if not isinstance(loaded, SpectralMap):
                raise InputError(f"not a spectral map ({type(loaded).__name__})", entry[key])
            pair[key] = loaded
        if entry.get("truth"):
            path = Path(entry["truth"])
            try:
                pair["truth"] = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise InputError(f"cannot read the truth labels: {err}", path) from None
            pair["regions"] = {int(k): str(v) for k, v in (entry.get("regions") or {}).items()}
        pairs.append(pair)
    return pairs


def _synth_pairs(settings: dict) -> list[dict]:
    """The embedded synthetic WSe2 flake under resonant (2.33 eV) and non-resonant (1.96 eV)
    excitation, with its truth regions (``tmdlearn.synth.maps``)."""
    from tmdlearn.config import check_keys
    from tmdlearn.synth import maps

    settings = dict(settings) if isinstance(settings, dict) else {}
    check_keys(settings, ("seed", "pixels", "shape"), "data.synth.")
    seed, pixels = int(settings.get("seed", 0)), int(settings.get("pixels", 48))
    shape = str(settings.get("shape", "triangle"))
    if pixels < 16 or shape not in ("triangle", "star"):
        raise InputError("data.synth needs pixels >= 16 and shape triangle or star")
    rng = np.random.default_rng(seed)
    fields = maps.flake_fields(pixels, shape, rng)
    regions = dict(enumerate(maps.REGIONS))
    pairs = []
    for name, ev in (("resonant", 2.33), ("nonresonant", 1.96)):
        flake = maps.flake_maps(pixels, shape, ev, rng, fields=fields)
        pairs.append({"name": name, "raman": flake.raman, "pl": flake.pl,
                      "truth": flake.regions, "regions": regions})
    return pairs


def write_run(out: Path, cfg: dict, results, started: float) -> None:
    """The run folder: metrics.json, tables, figures, models, slope maps and run.json."""
    from tmdlearn.explain import figures, workflow
    from tmdlearn.explain.ice import slope_maps
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.run import write_json, write_run_json
    from tmdlearn.report.tables import write_table

    out.mkdir(parents=True, exist_ok=True)
    metrics = workflow.metrics(results)
    write_json(out / "metrics.json", metrics)
    for name, table in workflow.tables(results).items():
        write_table(table, out / "tables" / name)
    interp = cfg["interpret"]
    for result in results:
        name = result.data.name
        save_figure(figures.prediction_figure(result), out / "figures" / f"fig2_{name}.png")
        save_figure(figures.interpretation_figure(result, interp["target"], interp["mode"]),
                    out / "figures" / f"fig3_{name}.png")
        result.final_model.save(out / "models" / f"cnn_{name}.pt")
        _save_maps(out / "maps" / f"{name}.npz", result, slope_maps)
    write_run_json(out, cfg, started, headline=metrics)
    typer.echo(f"wrote {out}")
    shown = ("r2_val_intensity", "pdp_rank", "pixels_", "overfit_", "ice_slope_pristine_vs")
    for key in sorted(k for k in metrics if k.startswith(shown)):
        if key.startswith("overfit_") and key.count("_") > 1:
            continue
        typer.echo(f"  {key} = {metrics[key]}")


def _save_maps(path: Path, result, slope_maps) -> None:
    from tmdlearn.io.atomic import atomic_path

    data = result.data
    arrays = {"mask": data.mask,
              "ice_slopes": slope_maps(result.slopes, data.mask),      # (ny, nx, 24, 3)
              "raman_vector": slope_maps(data.X, data.mask),
              "pl_vector": slope_maps(data.Y, data.mask),
              "pl_predicted": slope_maps(result.prediction, data.mask),
              "raman_columns": np.asarray(data.columns)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
