"""`tmdlearn explain`: Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from tmdlearn.cli.common import (
    CONFIG_OPTION,
    OVERWRITE_OPTION,
    SCHEDULER_OPTION,
    SET_OPTION,
    WORKERS_OPTION,
    config_from_cli,
    set_engine,
)
from tmdlearn.report.outdir import prepare_out

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""


@app.command("run")
def run(
    config: Path | None = CONFIG_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    overwrite: bool = OVERWRITE_OPTION,
    overrides: list[str] | None = SET_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    workers: int | None = WORKERS_OPTION,
) -> None:
    """Fit, train, score and explain every Raman/PL map pair of the config (data.pairs, or the
    embedded synthetic WSe2 maps with data.synth)."""
    from tmdlearn.explain import workflow
    from tmdlearn.report.run import write_outcome

    started = time.time()
    cfg = set_engine(config_from_cli(config, overrides, workflow.DEFAULTS), scheduler, workers)
    prepare_out(out, overwrite)
    outcome = workflow.run(workflow.load(cfg), cfg)
    write_outcome(out, outcome, cfg, started)
    typer.echo(f"wrote {out}")
    shown = ("r2_val_intensity", "pdp_rank", "pixels_", "overfit_", "ice_slope_pristine_vs")
    for key in sorted(k for k in outcome.metrics if k.startswith(shown)):
        if key.startswith("overfit_") and key.count("_") > 1:
            continue
        typer.echo(f"  {key} = {outcome.metrics[key]}")
