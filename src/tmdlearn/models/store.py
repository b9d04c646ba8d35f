"""Saving and loading models as data, never code.

A saved model is a folder:

- ``model.json``: the card (:mod:`tmdlearn.models.card`) with the sha256 of every other file;
- ``weights.safetensors``: every tensor and numeric array of the model (network state dicts,
  standardisation vectors), read with :mod:`safetensors` (no code can be stored in it);
- ``parameters.json``: everything else (architecture arguments, settings, names), with
  placeholders where the tensors and estimators go;
- ``estimators.skops``: scikit-learn estimators, if any, through :mod:`skops.io`, loaded only
  when every type in the file is in skops' own trusted list or in :data:`TRUSTED_TYPES`.

:func:`write_model` takes a plain tree (dicts, lists, numbers, strings, tensors, arrays,
estimators) and writes the folder atomically; :func:`read_model` checks the card first and
returns the same tree. Pickle-based files (the ``.pt`` files of tmdlearn before 0.2) are never
opened by a loader: they are refused with the one command that converts them
(:mod:`tmdlearn.models.convert`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tmdlearn.errors import InputError
from tmdlearn.io.digest import sha256
from tmdlearn.models.card import CARD_NAME, read_card, verify

WEIGHTS = "weights.safetensors"
PARAMETERS = "parameters.json"
ESTIMATORS = "estimators.skops"
#: File endings of pickle-based model files: refused by every loader (see module docstring).
OLD_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".joblib", ".bin", ".ckpt")

#: Types beyond skops' defaults that an ``estimators.skops`` file may hold: tmdlearn's own
#: scikit-learn estimators (plain numpy state) and the numpy/scikit-learn helpers they use.
TRUSTED_TYPES = (
    "tmdlearn.classify.heads.FeatureTransform",
    "tmdlearn.classify.heads._PlattSVC",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "numpy.dtypes.StrDType",
    "builtins.tuple",
)


def old_format_error(path: str | Path) -> InputError:
    """The error for a pickle-based model file: never opened, converted once.

    Parameters
    ----------
    path : str or Path
        The old model file.

    Returns
    -------
    InputError
        Naming the file and the ``tmdlearn models convert`` command.
    """
    return InputError("old-format model file (a pickle; not opened, as it could run code): "
                      f"convert it once with `tmdlearn models convert {path}`", path)


def model_folder(path: str | Path) -> Path:
    """The model folder that ``path`` names: the folder, its ``model.json`` or a file in it.

    Parameters
    ----------
    path : str or Path
        A model folder or a file in it.

    Returns
    -------
    Path
        The model folder.

    Raises
    ------
    InputError
        For a pickle-based file, or a folder holding only such files
        (:func:`old_format_error`), or no model there.
    """
    path = Path(path)
    if path.is_dir():
        if (path / CARD_NAME).is_file():
            return path
        old = sorted(p for p in path.iterdir() if p.suffix.lower() in OLD_SUFFIXES)
        if old:
            raise old_format_error(old[0])
        raise InputError(f"not a tmdlearn model folder: no model card ({CARD_NAME})", path)
    if path.is_file():
        if path.name == CARD_NAME or path.name in (WEIGHTS, PARAMETERS, ESTIMATORS):
            return path.parent
        if path.suffix.lower() in OLD_SUFFIXES:
            raise old_format_error(path)
        raise InputError(f"not a tmdlearn model: give its folder (with {CARD_NAME})", path)
    raise InputError("model not found", path)


def model_record(folder: str | Path, run_dir: str | Path, role: str) -> dict[str, Any]:
    """The ``run.json`` entry of a model a run saved or loaded.

    Parameters
    ----------
    folder : str or Path
        The model folder.
    run_dir : str or Path
        The run folder.
    role : str
        "saved" or "loaded".

    Returns
    -------
    dict
        ``path``: relative to ``run_dir`` for a model inside it, else absolute; ``role``;
        ``workflow``, ``task``, ``material``, ``tmdlearn_version`` from its card; ``weights``:
        the file holding its fitted parameters (``weights.safetensors``, else
        ``estimators.skops``) and ``sha256``: that file's hash as the card lists it.
    """
    folder = Path(folder).resolve()
    card = read_card(folder)
    try:
        path = str(folder.relative_to(Path(run_dir).resolve()))
    except ValueError:
        path = str(folder)
    weights = next((name for name in (WEIGHTS, ESTIMATORS) if name in card["files"]), None)
    return {"path": path, "role": role,
            **{key: card.get(key) for key in ("workflow", "task", "material",
                                              "tmdlearn_version")},
            "weights": weights, "sha256": card["files"].get(weights)}


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit")


def _encode(value: Any, key: str, tensors: dict, estimators: dict) -> Any:
    """``value`` as JSON, its tensors, arrays and estimators moved out under ``key``."""
    if isinstance(value, torch.nn.Module):
        raise TypeError(f"{key}: save the module's state_dict(), not the module")
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
            return {"__array__": key}
        return {"__strings__": value.astype(str).tolist()}
    if _is_estimator(value):
        estimators[key] = value
        return {"__estimator__": key}
    if isinstance(value, dict):
        encoded = {str(k): _encode(v, f"{key}/{k}", tensors, estimators) for k, v in value.items()}
        if value and all(isinstance(k, int) for k in value):
            return {"__intkeys__": encoded}
        return encoded
    if isinstance(value, list | tuple):
        return [_encode(v, f"{key}/{i}", tensors, estimators) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{key}: cannot store a {type(value).__name__} as data")


def _decode(value: Any, tensors: dict, estimators: dict) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors, estimators) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__array__" in value:
        return tensors[value["__array__"]].numpy()
    if "__strings__" in value:
        return np.array(value["__strings__"], dtype=str)
    if "__estimator__" in value:
        return estimators[value["__estimator__"]]
    if "__intkeys__" in value:
        return {int(k): _decode(v, tensors, estimators) for k, v in value["__intkeys__"].items()}
    return {k: _decode(v, tensors, estimators) for k, v in value.items()}


def write_model(folder: str | Path, tree: dict[str, Any], card: dict[str, Any]) -> Path:
    """Write ``tree`` and its ``card`` as a model folder, atomically.

    A temporary folder is renamed onto ``folder`` when complete.

    Parameters
    ----------
    folder : str or Path
        The model folder (replaced if it exists).
    tree : dict
        Plain tree: dicts, lists, numbers, strings, tensors, arrays, estimators.
    card : dict
        The card (:func:`tmdlearn.models.card.make_card`); the files' sha256 are added.

    Returns
    -------
    Path
        ``folder``.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    tensors: dict[str, torch.Tensor] = {}
    estimators: dict[str, Any] = {}
    skeleton = _encode(tree, "", tensors, estimators)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / PARAMETERS).write_text(json.dumps(skeleton, indent=1) + "\n", encoding="utf-8")
        if tensors:
            save_file(tensors, str(tmp / WEIGHTS))
        if estimators:
            import skops.io as sio

            sio.dump(estimators, tmp / ESTIMATORS)
        for path in tmp.iterdir():
            os.chmod(path, 0o666 & ~_umask())  # the usual mode (writers may make 0600)
        files = {p.name: sha256(p) for p in sorted(tmp.iterdir())}
        (tmp / CARD_NAME).write_text(json.dumps({**card, "files": files}, indent=2,
                                                default=_plain) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / folder.name)
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _load_estimators(path: Path) -> dict[str, Any]:
    """The estimators of a skops file whose every untrusted type is in TRUSTED_TYPES."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
        refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if refused:
            raise InputError(f"refused: the estimators file holds types outside tmdlearn's "
                             f"trusted list: {', '.join(refused)}", path)
        return sio.load(path, trusted=list(untrusted))
    except InputError:
        raise
    except Exception as err:  # a damaged zip or skops schema: one line, not a traceback
        raise InputError(f"unreadable estimators file ({err.__class__.__name__})",
                         path) from None


def read_model(path: str | Path, expect: dict[str, Any] | None = None,
               trust_mismatch: bool = False, warn: Callable[[str], None] | None = None
               ) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The tree, card and folder of the model at ``path``.

    The card is checked first (:func:`tmdlearn.models.card.verify`); any problem raises
    InputError naming the file.

    Parameters
    ----------
    path : str or Path
        A model folder or a file in it (:func:`model_folder`).
    expect : dict, optional
        Card entries the model must have (:func:`~tmdlearn.models.card.verify`).
    trust_mismatch : bool
        Load files whose sha256 differs from the card's, with a warning.
    warn : callable, optional
        ``warn(line)`` for that warning; default: print to standard error.

    Returns
    -------
    tree : dict
        As written by :func:`write_model`, tensors on the CPU.
    card : dict
    folder : Path
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = model_folder(path)
    card = read_card(folder)
    verify(folder, card, expect, trust_mismatch, warn)
    try:
        skeleton = json.loads((folder / PARAMETERS).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"unreadable model parameters ({err.__class__.__name__})",
                         folder / PARAMETERS) from None
    tensors = {}
    if (folder / WEIGHTS).is_file():
        try:
            tensors = load_file(str(folder / WEIGHTS), device="cpu")
        except (SafetensorError, OSError, ValueError) as err:
            raise InputError(f"unreadable weight file ({err.__class__.__name__})",
                             folder / WEIGHTS) from None
    estimators = _load_estimators(folder / ESTIMATORS) if (folder / ESTIMATORS).is_file() else {}
    try:
        tree = _decode(skeleton, tensors, estimators)
    except KeyError as err:
        raise InputError(f"the weights lack the entry {err.args[0]!r} the parameters name",
                         folder / WEIGHTS) from None
    return tree, card, folder
