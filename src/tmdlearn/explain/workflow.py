"""The explainable correlative workflow of the WSe2 study, for any pair of Raman / PL maps.

Per map pair (same pixels): flake mask from corner statistics (mean + k·σ), first-difference
despiking, piecewise-linear anchor baseline, batched fits (``wse2-raman``: eight Lorentzians in
two windows; ``wse2-pl``: one Gaussian), the 24-value Raman vector X and 3-value PL vector Y
(position eV, FWHM eV, intensity = height counts). Then a 7:3 random split, the CNN trained on
the 70 % (:class:`~tmdlearn.explain.regressor.RamanPLRegressor`), MAPE and R² of each PL
parameter on both parts and the overfitting verdict, retraining on all pixels, PDPs of all 24
inputs, the ranking of the eight modes, and per-pixel ICE slopes as maps. The split, scores,
overfitting verdict and mode ranking are in :mod:`tmdlearn.explain.scores`; a pair is prepared in
:mod:`tmdlearn.explain.pairs`, analysed in :mod:`tmdlearn.explain.analyse` and reported by
:mod:`tmdlearn.explain.results`.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

from tmdlearn.config import Checked, check_least, check_one_among
from tmdlearn.engine import map_tasks, workflow_engine
from tmdlearn.engine.choice import RUN_HELP, run_section
from tmdlearn.errors import InputError
from tmdlearn.explain.analyse import analyse_pair
from tmdlearn.explain.inputs import load
from tmdlearn.explain.pairs import PairData, PairResult, prepare_pair
from tmdlearn.explain.regressor import CNNSettings
from tmdlearn.explain.results import metrics, metrics_table, save_maps, tables
from tmdlearn.explain.scores import PL_NAMES, RANK_BY
from tmdlearn.learn import torch_threads
from tmdlearn.outcome import Outcome
from tmdlearn.progress import showing

__all__ = ["DEFAULTS", "HELP", "LARGE_PAIRS", "Outcome", "PairData", "PairResult", "analyse_pair",
           "explain_pair", "load", "metrics", "metrics_table", "prepare_pair", "run", "run_pairs",
           "tables"]


def _check(config: dict) -> None:
    """``interpret.mode``: a peak of ``fit.raman_model``."""
    from tmdlearn.spectra import load_model

    model, interp = (config.get("fit") or {}).get("raman_model"), config.get("interpret") or {}
    if model and interp.get("mode") is not None:
        modes = [peak.name for peak in load_model(model).peaks]
        check_one_among(interp, "interpret.", mode=modes)


def _check_model(model: dict) -> None:
    """``model``: the CNN's sizes, counts and rates in range."""
    check_least(model, "model.", n_blocks=1, pool_every=1, width=1, length=2, half_window=1e-9,
                epochs=1, batch_size=1, lr=1e-12, patience=1, dropout=0, ibn_ratio=0,
                early_stopping_fraction=0)


def _check_interpret(interp: dict) -> None:
    """``interpret``: a known target and ranking, counts in range."""
    check_one_among(interp, "interpret.", target=PL_NAMES, rank_by=RANK_BY)
    check_least(interp, "interpret.", grid_resolution=2, pdp_samples=1, ice_curves=1)


DEFAULTS: dict = Checked({
    # pairs: [{name, raman, pl, truth, regions}] of map files; synth: {seed, pixels, shape}
    "data": {"pairs": [], "synth": None},
    "preprocess": {
        "mask_k": 3.0, "corner": 3, "mask_from": "both", "despike": "map",
        "despike_threshold": 5.0, "despike_spatial_k": 6.0,
        "raman_anchors_cm1": [186.0, 316.0, 408.0], "pl_anchors_ev": [1.47, 1.83],
        "anchor_half_width": 2.0,
    },
    "fit": Checked({"raman_model": "wse2-raman", "pl_model": "wse2-pl", "max_iter": 100,
                    "only_ok": True}, check=lambda fit: check_least(fit, "fit.", max_iter=1)),
    # the CNN (:class:`~tmdlearn.explain.regressor.CNNSettings`)
    "model": Checked(asdict(CNNSettings()), check=_check_model),
    "split": {"val_fraction": 0.3, "seed": 0},
    "retrain": True,
    "threads": 1,
    # where the map pairs are fitted, trained and explained, each a task (docs/scale.md)
    "run": run_section(),
    "overfit": {"max_gap": 0.1, "min_val_r2": 0.5},
    "interpret": Checked({"target": "intensity", "mode": "A1p", "label": "A1",
                          "rank_by": "height", "grid_resolution": 20, "pdp_samples": 300,
                          "ice_curves": 60, "seed": 0, "pristine": "pristine",
                          "ignore_regions": ["substrate", "background"]},
                         check=_check_interpret),
}, check=_check)

#: Meaning of config keys, shared by the command-line help and the docs' config table.
HELP = dict(RUN_HELP)
#: ``run.scheduler: auto`` starts a local cluster of processes from this many map pairs on.
LARGE_PAIRS = 4


def run(pairs: list[dict], config: dict, progress: bool | None = None) -> Outcome:
    """The workflow on the pairs of :func:`load`: :func:`run_pairs`, then the run's metrics,
    tables, figures (``fig2_<pair>``, ``fig3_<pair>``), models (``models/cnn_<pair>/``, model
    folders with cards) and maps (``maps/<pair>.npz``); ``details`` holds the
    :class:`PairResult` of each pair.

    Parameters
    ----------
    pairs : list of dict
        The map pairs of :func:`load` (see :func:`run_pairs`).
    config : dict
        The explain config (:data:`DEFAULTS`): fits, CNN, split, engine and interpretation.
    progress : bool, optional
        Progress bars over the map pairs: on, off, or None (on a terminal only).

    Returns
    -------
    Outcome
        Metrics, tables, figures, models and files of the run.
    """
    from tmdlearn.explain import figures

    with showing(progress):
        results = run_pairs(pairs, config)
    headline = metrics(results)
    outcome = Outcome(metrics=headline, tables=tables(results), info={"headline": headline},
                      details=results)
    interp = config["interpret"]
    for result in results:
        name = result.data.name
        outcome.figures[f"fig2_{name}"] = figures.prediction_figure(result)
        outcome.figures[f"fig3_{name}"] = figures.interpretation_figure(
            result, interp["target"], interp["mode"])
        outcome.models[f"cnn_{name}"] = result.final_model
        outcome.files[f"models/cnn_{name}"] = partial(
            result.final_model.save, material=config["fit"]["raman_model"].split("-")[0],
            inputs={k: config["fit"][k] for k in ("raman_model", "pl_model")},
            metrics={k: v for k, v in headline.items() if name in k})
        outcome.files[f"maps/{name}.npz"] = partial(save_maps, result=result)
    return outcome


def run_pairs(pairs: list[dict], config: dict) -> list[PairResult]:
    """Prepare and analyse every pair.

    Parameters
    ----------
    pairs : list of dict
        Dicts with ``name``, ``raman``, ``pl`` (SpectralMaps) and optional ``truth`` (ny, nx)
        labels with ``regions`` {label: name}.
    config : dict
        Workflow configuration (:data:`DEFAULTS`); ``threads`` sets the torch CPU threads,
        ``run.scheduler`` and ``run.workers`` where the pairs run, one task each
        (:func:`explain_pair`; docs/scale.md).

    Returns
    -------
    list of PairResult
        One per pair, in order.
    """
    if not pairs:
        raise InputError("no map pairs: set data.pairs or data.synth in the config")
    with workflow_engine(config.get("run") or {}, len(pairs), LARGE_PAIRS,
                         parallel_threads=False) as engine:
        return map_tasks(engine, explain_pair, [(pair, config) for pair in pairs], "map pairs")


def explain_pair(task: tuple[dict, dict]) -> PairResult:
    """Prepare and analyse one map pair (an engine task) with the config's torch threads.

    Parameters
    ----------
    task : (dict, dict)
        The pair (as in :func:`run_pairs`) and the config.

    Returns
    -------
    PairResult
    """
    pair, config = task
    with torch_threads(config.get("threads", 1)):
        data = prepare_pair(pair["raman"], pair["pl"], config, pair["name"], pair.get("truth"),
                            pair.get("regions"))
        return analyse_pair(data, config)
