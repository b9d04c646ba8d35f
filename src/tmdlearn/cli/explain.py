"""`tmdlearn explain`: Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""

from __future__ import annotations

from pathlib import Path

import typer

from tmdlearn.cli import common

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Raman->PL CNN explained with PDP, ICE and ICE-slope maps."""


def _report(outcome, out: Path) -> None:
    """The run folder and the headline metrics."""
    typer.echo(f"wrote {out}")
    shown = ("r2_val_intensity", "pdp_rank", "pixels_", "overfit_", "ice_slope_pristine_vs")
    for key in sorted(k for k in outcome.metrics if k.startswith(shown)):
        if key.startswith("overfit_") and key.count("_") > 1:
            continue
        typer.echo(f"  {key} = {outcome.metrics[key]}")


common.add_run_command(
    app, "tmdlearn.explain.workflow", "Fit, train, score and explain every Raman/PL map pair "
    "of the config (data.pairs, or the embedded synthetic WSe2 maps with data.synth).", _report)
