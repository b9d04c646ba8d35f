"""A crossmodal run's models as model folders (:mod:`tmdlearn.models.store`): data, never code.

``models/<name>/`` per model: regression bundles (``regression_<modality>``: scikit-learn
Ridge/SVR pipelines through skops, the MLP as a state dict), generators
(``generator_<task>``), feature heads (``head_<task>``) and the training inputs' domains
(``domain_<modality>``, :mod:`tmdlearn.crossmodal.domain`), each with a ``model.json`` card
giving the spectral grids and AFM embedding it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmdlearn.crossmodal.domain import Domain, domain_from_state
from tmdlearn.crossmodal.generate import Generator, generator_from_state
from tmdlearn.crossmodal.regress import TorchRegressor, regressor_from_state
from tmdlearn.errors import InputError
from tmdlearn.io.digest import sha256
from tmdlearn.models.card import make_card
from tmdlearn.models.store import OLD_SUFFIXES, old_format_error, read_model, write_model


def old_classes() -> list:
    """Classes besides :func:`tmdlearn.models.convert.base_globals` that the pickle-based
    crossmodal files of earlier tmdlearn versions hold (for ``tmdlearn models convert``).

    Returns
    -------
    list of type
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler
    from sklearn.svm import SVR

    return [Pipeline, StandardScaler, PolynomialFeatures, Ridge, SVR, TransformedTargetRegressor,
            TorchRegressor]


def to_tree(model: Any) -> dict:
    """A generator, MLP head, regression bundle or domain as a plain tree for the store.

    Parameters
    ----------
    model : Generator, TorchRegressor, Domain or dict
        A run's model (a regression bundle is a dict with ``targets``).

    Returns
    -------
    dict
        The model's state with its ``type`` ("generator", "mlp", "regression" or "domain").
    """
    if isinstance(model, Generator):
        return {"type": "generator", **model.state()}
    if isinstance(model, TorchRegressor):
        return {"type": "mlp", **model.state()}
    if isinstance(model, Domain):
        return {"type": "domain", **model.state()}
    if isinstance(model, dict) and "targets" in model:
        return {"type": "regression", **{k: to_tree(v) if isinstance(v, TorchRegressor) else v
                                         for k, v in model.items()}}
    if isinstance(model, dict) and {"kind", "state_dict", "x_mean"} <= set(model):
        return {"type": "generator", **model}  # a generator's state (old files)
    raise InputError(f"not a crossmodal model ({type(model).__name__})")


def from_tree(tree: dict) -> Any:
    """The model of :func:`to_tree`'s tree: Generator, TorchRegressor, Domain or regression
    bundle.

    Parameters
    ----------
    tree : dict
        A tree of :func:`to_tree`.

    Returns
    -------
    Generator, TorchRegressor, Domain or dict
    """
    kind = tree.get("type")
    if kind == "generator":
        return generator_from_state(tree)
    if kind == "mlp":
        return regressor_from_state(tree)
    if kind == "domain":
        return domain_from_state(tree)
    if kind == "regression":
        return {k: from_tree(v) if isinstance(v, dict) and v.get("type") == "mlp" else v
                for k, v in tree.items() if k != "type"}
    raise InputError(f"unknown crossmodal model type {kind!r}")


def grid_inputs(config: dict) -> dict:
    """The inputs a run's models were trained on: spectral grids and AFM embedding.

    Parameters
    ----------
    config : dict
        The run's configuration (``data`` and ``embedding``).

    Returns
    -------
    dict
        raman_window_cm1 (cm⁻¹), raman_points, pl_window_ev (eV), pl_points, scan_size_um
        (µm), afm_backbone, afm_weights and afm_clip_nm (nm).
    """
    d, emb = config["data"], config["embedding"]
    return {"raman_window_cm1": list(d["raman_window_cm1"]), "raman_points": int(d["raman_points"]),
            "pl_window_ev": list(d["pl_window_ev"]), "pl_points": int(d["pl_points"]),
            "scan_size_um": d["scan_size_um"], "afm_backbone": emb["backbone"],
            "afm_weights": emb["weights"], "afm_clip_nm": emb["clip_nm"]}


def _metric_prefix(name: str) -> str:
    kind, _, task = name.partition("_")
    key = task.replace("->", "_to_").replace("+", "_")
    return {"regression": f"regression_{task}_", "generator": f"generation_{key}_",
            "head": f"head_{key}_"}.get(kind, name)


def save_models(folder: str | Path, models: dict, config: dict, metrics: dict,
                n_samples: int | None = None) -> list[Path]:
    """Write each of a run's ``models`` as ``folder/<name>/`` with its card.

    Parameters
    ----------
    folder : str or Path
        The run's ``models`` folder.
    models : dict
        Model name to model (:func:`to_tree`).
    config : dict
        The run's configuration.
    metrics : dict
        The run's metrics; each card gets those of its model.
    n_samples : int, optional
        Number of samples, for the cards.

    Returns
    -------
    list of Path
        The model folders written.
    """
    manifest = Path(config["data"].get("folder") or "") / "manifest.csv"
    training = {"data": str(config["data"].get("folder")),
                "manifest_sha256": sha256(manifest) if manifest.is_file() else None,
                "n_samples": n_samples, "split": config.get("split")}
    written = []
    for name, model in models.items():
        prefix = _metric_prefix(name)
        card = make_card("crossmodal", name, material=config["data"].get("material"),
                         inputs=grid_inputs(config), training=training,
                         metrics={k: v for k, v in metrics.items() if k.startswith(prefix)},
                         seed=config.get("seed"))
        written.append(write_model(Path(folder) / name, to_tree(model), card))
    return written


def load_models(folder: str | Path, config: dict, trust_mismatch: bool = False) -> dict:
    """The models in ``folder`` (a run's ``models/``), each checked against its card and the
    run's grids; a pickle-based file there is refused unopened (ignored once converted).

    Parameters
    ----------
    folder : str or Path
        A run's ``models`` folder.
    config : dict
        The run's configuration (its grids are checked against the cards).
    trust_mismatch : bool
        Load even when a folder's checksums do not match its card.

    Returns
    -------
    dict
        Model name to model (:func:`from_tree`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("the run folder holds no models", folder)
    old = sorted(p for p in folder.iterdir()
                 if p.suffix.lower() in OLD_SUFFIXES and not p.with_suffix("").is_dir())
    if old:
        raise old_format_error(old[0])
    expect = {"workflow": "crossmodal", "inputs": grid_inputs(config)}
    return {path.name: from_tree(read_model(path, expect, trust_mismatch)[0])
            for path in sorted(folder.iterdir()) if path.is_dir()}
