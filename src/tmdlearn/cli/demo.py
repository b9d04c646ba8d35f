"""`tmdlearn demo`: run every workflow's demo step on the shipped data and write a report.

The demo is an ordered list of steps. Each step takes the run folder, writes its tables and
figures there and returns one report section ``(heading, items)``; a workflow adds itself
by appending one function to ``STEPS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from tmdlearn.errors import InputError
from tmdlearn.report.html import Section

#: Example instrument files shipped with the repository (tests/data/).
EXAMPLES = Path(__file__).resolve().parents[3] / "tests" / "data"
EXAMPLE_FILES = ("afm-bruker/di-1.di", "afm-bruker/di-5.di",
                 "spectra-wse2mose2/WSe2_Raman.txt", "spectra-wse2mose2/WSe2_PL.txt",
                 "spectra-wse2mose2/MoSe2_Raman.txt", "spectra-wse2mose2/MoSe2_PL.txt")


def inspect_examples(out: Path) -> Section:
    """Read the shipped example files; a table of what they hold and one figure."""
    from tmdlearn.cli.inspect import describe
    from tmdlearn.io import read
    from tmdlearn.report.figures import save_figure
    from tmdlearn.report.tables import write_table

    missing = [name for name in EXAMPLE_FILES if not (EXAMPLES / name).is_file()]
    if missing:
        raise InputError(f"example files missing: {missing} (run from a clone of tmdlearn)",
                         EXAMPLES)
    items = {name: read(EXAMPLES / name) for name in EXAMPLE_FILES}
    rows = []
    for name in EXAMPLE_FILES:
        first, *details = describe(EXAMPLES / name)
        rows.append({"file": name, "content": first.split(": ", 1)[1],
                     "details": "; ".join(line.strip() for line in details)})
    table = pd.DataFrame(rows)
    write_table(table, out / "inspect")

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    hm = items["afm-bruker/di-1.di"]
    size_um = hm.scan_size_um
    image = axes[0].imshow(hm.height_nm - np.median(hm.height_nm), cmap="afmhot",
                           extent=(0, size_um, size_um, 0))
    fig.colorbar(image, ax=axes[0], label="height (nm)")
    axes[0].set(title="di-1.di (raw height)", xlabel="x (µm)", ylabel="y (µm)")
    for name in ("WSe2", "MoSe2"):
        raman, pl = items[f"spectra-wse2mose2/{name}_Raman.txt"], \
            items[f"spectra-wse2mose2/{name}_PL.txt"]
        axes[1].plot(raman.axis, raman.intensity[0], label=name)
        axes[2].plot(pl.axis, pl.intensity[0], label=name)
    axes[1].set(title="Raman", xlabel="Raman shift (cm⁻¹)", ylabel="counts")
    axes[2].set(title="Photoluminescence", xlabel="photon energy (eV)", ylabel="counts")
    for ax in axes[1:]:
        ax.legend()
    save_figure(fig, out / "examples.png")
    return ("Example files", ["The instrument files shipped in tests/data, read with "
                              "tmdlearn.io.read.", Path("inspect.md"), Path("examples.png")])


#: The demo, in order; each workflow appends its step.
STEPS: list[Callable[[Path], Section]] = [inspect_examples]


def demo(out: Path = typer.Option(Path("demo-output"), help="Run folder to write.")) -> None:
    """Run every workflow on the embedded data and write a report."""
    from tmdlearn.progress import track
    from tmdlearn.report.html import write_report
    from tmdlearn.report.run import write_run_json

    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    sections = [step(out) for step in track(STEPS, "demo")]
    write_run_json(out, {"steps": [step.__name__ for step in STEPS]}, started)
    report = write_report(out, "tmdlearn demo", sections)
    typer.echo(f"wrote {report}")
