"""The read-out step of the cross-modal workflow: a generated spectrum's physical feature and a
feature head's prediction, both against the feature of the true spectrum (Table 6)."""

from __future__ import annotations

import numpy as np

from tmdlearn.crossmodal.data import TASKS
from tmdlearn.crossmodal.published import published_value
from tmdlearn.crossmodal.readout import READOUTS
from tmdlearn.crossmodal.regress import fit_mlp
from tmdlearn.learn.regression import r2
from tmdlearn.outcome import Outcome


def readout_row(task: str, true_feature: np.ndarray, from_generated: np.ndarray,
                x: np.ndarray, train: np.ndarray, test: np.ndarray, cfg: dict,
                outcome: Outcome) -> dict:
    """Row of table6 for one task: R² of the output's feature fitted on the generated test
    spectra and of a feature head (an MLP on the inputs) against the feature fitted on the
    true spectra.

    Parameters
    ----------
    task : str
        A generation task, e.g. ``raman->pl``.
    true_feature : (N,) array
        The output's feature fitted on every key's true spectrum (NaN without an ok fit).
    from_generated : (n_test,) array
        The same feature fitted on the generated test spectra.
    x : (N, D) array
        The task's inputs, on which the feature head is trained.
    train, test : int array
        Key indices of the task's train and test rows.
    cfg : dict
        The merged workflow config (``heads``, ``device``, ``seed``).
    outcome : Outcome
        Gets the head (``head_<task>``) and the two R² metrics.

    Returns
    -------
    dict
        The table6 row, with the published values beside.
    """
    heads, seed = cfg["heads"], int(cfg["seed"])
    head_rows = train[np.isfinite(true_feature[train])]
    head, _ = fit_mlp(x[head_rows], true_feature[head_rows], heads["params"],
                      epochs=heads["epochs"], seed=seed, device=cfg["device"])
    outcome.models[f"head_{task}"] = head
    head_pred = head.predict(x[test])[:, 0]
    feature = READOUTS[TASKS[task][1]][1]
    r2_readout = r2(true_feature[test], from_generated)
    r2_head = r2(true_feature[test], head_pred)
    key = task.replace("->", "_to_").replace("+", "_")
    outcome.metrics[f"readout_{key}_{feature}_r2"] = r2_readout
    outcome.metrics[f"head_{key}_{feature}_r2"] = r2_head
    return {"task": task, "feature": feature,
            "r2_fitted_on_generated": r2_readout, "r2_feature_head": r2_head,
            "n_test": len(test),
            # test spectra without an ok fit (true / generated): left out
            "n_not_ok_true": int(np.isnan(true_feature[test]).sum()),
            "n_not_ok_generated": int(np.isnan(from_generated).sum()),
            "published_r2_fitted_on_generated": published_value(
                "readout", task, feature, "generated"),
            "published_r2_feature_head": published_value("readout", task, feature, "head")}
