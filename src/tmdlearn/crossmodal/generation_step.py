"""The generation step of the cross-modal workflow: spectra generated from other modalities
(Table 4), with the read-outs of their features (Table 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmdlearn.crossmodal import figures
from tmdlearn.crossmodal.data import TASKS, CrossModalData
from tmdlearn.crossmodal.generate import (
    fit_generator,
    kind_of,
    spectrum_scores,
    tune_generator,
)
from tmdlearn.crossmodal.published import published_value
from tmdlearn.crossmodal.readout import read_feature
from tmdlearn.crossmodal.readout_step import readout_row
from tmdlearn.crossmodal.tasks import modality_axis, study_name, task_split
from tmdlearn.engine import Engine
from tmdlearn.errors import InputError
from tmdlearn.learn.regression import pearson_rows
from tmdlearn.outcome import Outcome


def run_generation(data: CrossModalData, cfg: dict, held_out: np.ndarray, storage,
                   outcome: Outcome, engine: Engine) -> None:
    """Spectrum generation (Table 4) and its read-outs (Table 6): per task, a generator tuned,
    refitted and scored on the held-out samples, and the output's feature read from its
    spectra.

    Parameters
    ----------
    data : CrossModalData
        Keys with the input and output spectra of each task (``TASKS``).
    cfg : dict
        The merged workflow config; ``generation.tasks`` lists the tasks, ``heads`` the
        feature heads of the read-outs.
    held_out : array
        Samples whose keys form every task's test rows.
    storage : optuna storage or None
        Optuna storage of the generator searches (one study per task); None: in memory.
    outcome : Outcome
        Filled in place: tables ``table4_generation`` and ``table6_readouts``, metrics,
        models, figures and each task's chosen parameters.
    engine : Engine
        Where the folds of the generator search run.
    """
    gen, seed = cfg["generation"], int(cfg["seed"])
    truth = {}
    score_rows, readout_rows = [], []
    for task in gen["tasks"]:
        if task not in TASKS:
            raise InputError(f"unknown generation task {task!r}: use {list(TASKS)}")
        inputs, output = TASKS[task]
        train, test, folds = task_split(data, [*inputs, output], held_out, gen["folds"], seed)
        x = np.hstack([data.inputs(m) for m in inputs]).astype(np.float32)
        y = data.inputs(output).astype(np.float32)
        in_dims = tuple(data.inputs(m).shape[1] for m in inputs)
        kind = kind_of(inputs)
        params, scores, epochs = tune_generator(
            kind, in_dims, x[train], y[train], folds, x[test], y[test], gen["space"][kind],
            gen["trials"], epochs=gen["epochs"], patience=gen["patience"], seed=seed,
            storage=storage, study_name=study_name(cfg, f"generation-{task}-s{seed}"),
            device=cfg["device"], engine=engine)
        final, _ = fit_generator(kind, in_dims, x[train], y[train], params, epochs=epochs,
                                 seed=seed, device=cfg["device"])
        generated = final.predict(x[test])
        outcome.models[f"generator_{task}"] = final
        final_scores = spectrum_scores(y[test], generated)
        score_rows += _generation_rows(task, scores, final_scores)
        key = task.replace("->", "_to_").replace("+", "_")
        # the saved model on the held-out samples; the fold models' spread beside it
        outcome.metrics[f"generation_{key}_test_pearson"] = final_scores["pearson"]
        outcome.metrics[f"generation_{key}_test_rmse"] = final_scores["rmse"]
        outcome.metrics[f"generation_{key}_fold_mean"] = float(np.mean(scores["test"]["pearson"]))
        outcome.metrics[f"generation_{key}_fold_std"] = float(np.std(scores["test"]["pearson"]))
        axis = modality_axis(data, output)
        outcome.figures[f"generated_{key}"] = figures.generated(
            axis, y[test], generated, pearson_rows(y[test], generated), gen["n_figure"],
            title=task, unit="cm-1" if output == "raman" else "eV")
        # read-outs: the output's physical feature fitted on generated and on true spectra
        include = gen["readout_include"].get(output, [])
        if output not in truth:
            truth[output] = np.full(len(data), np.nan)
            rows = data.rows([output])
            truth[output][rows] = read_feature(data.inputs(output)[rows], axis, output,
                                               include=include)
        readout_rows.append(readout_row(task, truth[output], read_feature(
            generated, axis, output, include=include), x, train, test, cfg, outcome))
        outcome.info[f"generation_{task}"] = {"params": params, "epochs": epochs,
                                              "n_train": len(train), "n_test": len(test)}
    outcome.tables["table4_generation"] = pd.DataFrame(score_rows)
    outcome.tables["table6_readouts"] = pd.DataFrame(readout_rows)


def _generation_rows(task: str, scores: dict, final_scores: dict) -> list[dict]:
    """Rows of table4 for one task: mean and spread of each metric of the fold models per
    split beside the published value, then the final model on the test samples."""
    rows = []
    for split_name, metrics in scores.items():
        row = {"task": task, "split": split_name}
        for metric, values in metrics.items():
            row[f"{metric}_mean"], row[f"{metric}_std"] = np.mean(values), np.std(values)
            row[f"published_{metric}"] = published_value("generation", task, split_name,
                                                          metric)
        rows.append(row)
    rows.append({"task": task, "split": "test (final model)",
                 "rmse_mean": final_scores["rmse"], "pearson_mean": final_scores["pearson"]})
    return rows
