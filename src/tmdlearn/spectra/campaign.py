"""The spectra part of a synthetic campaign's check: every Raman spectrum fitted against its
planted truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmdlearn.outcome import Outcome


def campaign_check(folder: str | Path) -> Outcome:
    """Every Raman spectrum of a synthetic MoS2 campaign (``tmdlearn synth``) fitted at once
    with the mos2-raman preset (+ sapphire lines), against its planted truth (``truth.csv``).

    Parameters
    ----------
    folder : str or Path
        The campaign folder.

    Returns
    -------
    Outcome
        Metrics: spectra, converged, ok (verdict), ``median_split_error_cm1`` (|fitted − planted
        A1g–E2g split| over the ok fits) and ``spearman_split_bilayer`` (fitted split vs the
        planted bilayer fraction of the spot); table ``spectra_fits`` (centres and splits in
        cm⁻¹, named so); figures ``spectra_split`` and ``spectra_fit_examples``.
    """
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    from tmdlearn.io import open_dataset
    from tmdlearn.spectra import fit_peaks, load_model
    from tmdlearn.spectra.fit_results import fit_examples_figure, verdict_summary

    folder = Path(folder)
    data = open_dataset(folder).filter(modality="raman")
    truth = pd.read_csv(folder / "truth.csv").set_index("file")
    spectra = [data.load(row) for _, row in data.table.iterrows()]
    model = load_model("mos2-raman", ("sapphire", "sapphire378"))
    intensity = np.vstack([s.intensity for s in spectra])
    fit = fit_peaks(intensity, model, spectra[0].axis)
    table = fit.table()
    table.insert(0, "file", data.table["file"].to_numpy())
    planted = truth.loc[table["file"]]
    table["true_split"] = _planted_split(planted).to_numpy()
    ok = (table["verdict"] == "ok").to_numpy(bool)  # weak, absent and poor fits left out
    error = (table["split_A1g_E2g"] - table["true_split"]).abs()[ok]
    rho = spearmanr(table["split_A1g_E2g"][ok], planted["spot_bilayer_fraction"][ok]).statistic
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    axes[0].scatter(table["true_split"][ok], table["split_A1g_E2g"][ok], s=12)
    lims = [table["true_split"].min() - 0.3, table["true_split"].max() + 0.3]
    axes[0].plot(lims, lims, "k--", lw=0.8)
    axes[0].set(xlabel="planted A1g–E2g split (cm⁻¹)", ylabel="fitted split (cm⁻¹)",
                title=f"median |error| {np.median(error):.2f} cm⁻¹")
    axes[1].scatter(planted["spot_bilayer_fraction"][ok], table["split_A1g_E2g"][ok], s=12)
    axes[1].set(xlabel="planted bilayer fraction of the spot", ylabel="fitted split (cm⁻¹)",
                title=f"Spearman ρ = {rho:.2f}")
    columns = ["file", "E2g_center", "A1g_center", "split_A1g_E2g", "true_split",
               "ratio_2LA_A1g", "r2", "converged", "verdict", "reasons"]
    metrics = {"spectra": len(table), "converged": int(table["converged"].sum()),
               "ok": int(ok.sum()), "median_split_error_cm1": float(np.median(error)),
               "spearman_split_bilayer": float(rho), "verdicts": verdict_summary(table)[0]}
    units = {"E2g_center": "E2g_center_cm1", "A1g_center": "A1g_center_cm1",
             "split_A1g_E2g": "split_A1g_E2g_cm1", "true_split": "planted_split_cm1"}
    return Outcome(metrics=metrics, tables={"spectra_fits": table[columns].rename(columns=units)},
                   figures={"spectra_split": fig, "spectra_fit_examples": fit_examples_figure(
                       [(fit, spectra[0].axis, intensity, "campaign")], "cm-1")})


def _planted_split(truth: pd.DataFrame) -> pd.Series:
    """Height-weighted A1g minus E2g centre over the monolayer and bilayer parts of a spot."""
    def centre(mode: str) -> pd.Series:
        weights = [truth[f"{n}L_{mode}_height"] for n in (1, 2)]
        centres = [truth[f"{n}L_{mode}_center_cm1"] for n in (1, 2)]
        return sum(w * c for w, c in zip(weights, centres, strict=True)) / sum(weights)

    return centre("A1g") - centre("E2g")
