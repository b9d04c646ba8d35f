"""Read-outs of a spectra run's ``fits`` table: the feature vectors, the verdict counts and the
figure of example fits."""

from __future__ import annotations

import pandas as pd

from tmdlearn.errors import InputError
from tmdlearn.outcome import Outcome


def features_table(outcome: Outcome) -> pd.DataFrame:
    """The model's feature vector per spectrum (e.g. the WSe2 study's 24 Raman values), then
    ``converged`` and ``verdict``.

    Parameters
    ----------
    outcome : Outcome
        A spectra run (:func:`tmdlearn.spectra.workflow.run`): its ``fits`` table and model.

    Returns
    -------
    DataFrame
        Identifier columns (source, spectrum, map position), the feature vector and the status.
    """
    from tmdlearn.spectra import vector_columns

    table, peak_model = outcome.tables["fits"], outcome.details["model"]
    ids = [c for c in ("source", "spectrum", "x_um", "y_um") if c in table.columns]
    columns = ids + vector_columns(peak_model) + ["converged"]
    columns += [c for c in ("verdict",) if c in table.columns]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"model {peak_model.name!r}: feature columns {missing} are not "
                         "produced by its peaks or features")
    return table[columns]


def verdict_summary(table: pd.DataFrame, top: int = 3) -> list[str]:
    """Lines counting the verdicts and the ``top`` most frequent reasons of a fit table, e.g.
    ``383 of 401 spectra: no E2g/A1g peak (ΔBIC ≤ 10)``.

    Parameters
    ----------
    table : DataFrame
        A fit table.
    top : int

    Returns
    -------
    list of str
    """
    if "verdict" not in table.columns:
        return []
    from tmdlearn.spectra import VERDICTS

    counts = table["verdict"].value_counts()
    lines = ["verdicts: " + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in VERDICTS)]
    reasons = table["reasons"].fillna("").astype(str)  # an ok spectrum may carry a note
    frequent = reasons.str.split("; ").explode()
    # a number in a reason (reduced χ² 14) is dropped so that alike reasons are counted together
    frequent = frequent.str.replace(r"^reduced χ² .*$", "reduced χ²", regex=True).str.replace(
        r"^background \S+ below", "background below", regex=True)
    for reason, count in frequent[frequent != ""].value_counts().head(top).items():
        lines.append(f"{count} of {len(table)} spectra: {reason}")
    return lines


def examples_figure(outcome: Outcome):
    """Four spectra of a single input, or the first spectrum of each of up to four inputs, with
    their fitted components and residuals.

    Parameters
    ----------
    outcome : Outcome
        A spectra run; the fits it kept to show (``details["shown"]``) are drawn.

    Returns
    -------
    Figure
    """
    return fit_examples_figure(outcome.details["shown"], outcome.details["model"].unit)


def fit_examples_figure(shown: list, unit: str):
    """Example fits with their components and residuals: four spread spectra of one fit, or the
    first spectrum of each of several.

    Parameters
    ----------
    shown : list of (PeakFit, (L,) array, (N, L) array, str)
        Fits with their axis, their fitted intensities and a name for the panel titles.
    unit : str
        The axis unit (cm-1, eV or nm).

    Returns
    -------
    Figure
    """
    from tmdlearn.spectra.fit_figure import fit_figure, spread_indices

    if len(shown) == 1:
        result, axis, intensity, name = shown[0]
        panels = [(result, axis, intensity, i, f"{name} #{i}") for i in spread_indices(result)]
    else:
        panels = [(result, axis, intensity, 0, name) for result, axis, intensity, name in shown]
    return fit_figure(panels, unit)
