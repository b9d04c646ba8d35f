"""What each cross-modal task trains and tests on: the held-out samples, the task's rows and
grouped folds, its spectral axis and the name of its Optuna study."""

from __future__ import annotations

import numpy as np

from tmdlearn.crossmodal.data import CrossModalData
from tmdlearn.data import grouped_holdout, grouped_kfold
from tmdlearn.errors import InputError


def held_out_samples(groups, test_size: float, seed: int) -> np.ndarray:
    """The sample ids held out for testing (about ``test_size`` of the samples).

    Parameters
    ----------
    groups : (N,) array
        Sample id of each key.
    test_size : float
        Share of the samples held out, in (0, 1).
    seed : int
        Seed of the split.

    Returns
    -------
    array
        Sorted held-out sample ids.
    """
    groups = np.asarray(groups)
    _, test = grouped_holdout(groups, test_size=test_size, seed=seed)
    return np.unique(groups[test])


def task_split(data: CrossModalData, modalities, held_out: np.ndarray, n_folds: int,
               seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Train rows, test rows and grouped folds (positions in train) of the keys measured in
    every one of ``modalities``; test rows are those of the ``held_out`` samples.

    Parameters
    ----------
    data : CrossModalData
        The paired dataset.
    modalities : sequence of str
        Modalities a key must have.
    held_out : array
        Held-out sample ids (:func:`held_out_samples`).
    n_folds : int
        Folds wanted (at most the number of training samples).
    seed : int
        Seed of the folds.

    Returns
    -------
    train, test : int array
        Key indices.
    folds : list of (train, val) index arrays
        Grouped folds, as positions in ``train``.
    """
    rows = data.rows(modalities)
    is_test = np.isin(data.groups[rows], held_out)
    train, test = rows[~is_test], rows[is_test]
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"{'+'.join(modalities)}: no train or no test rows "
                         f"({len(train)} / {len(test)})")
    n = min(n_folds, np.unique(data.groups[train]).size)
    return train, test, grouped_kfold(data.groups[train], n_splits=n, seed=seed)


def study_name(cfg: dict, name: str) -> str:
    """The study name of one of the run's searches in its Optuna storage.

    Parameters
    ----------
    cfg : dict
        The merged config (its ``optuna.study``, a prefix or None).
    name : str
        The search's own name, e.g. ``regression-raman-s0``.

    Returns
    -------
    str
        ``<optuna.study>/<name>``, or ``name`` without a prefix.
    """
    prefix = cfg["optuna"]["study"]
    return f"{prefix}/{name}" if prefix else name


def modality_axis(data: CrossModalData, modality: str) -> np.ndarray | None:
    """The spectral axis of a modality's inputs.

    Parameters
    ----------
    data : CrossModalData
        The paired dataset.
    modality : str
        ``raman``, ``pl`` or ``afm``.

    Returns
    -------
    (L,) array or None
        The Raman shift (cm⁻¹) or PL energy (eV) axis; None for ``afm``.
    """
    return {"raman": data.raman_axis, "pl": data.pl_axis}.get(modality)
