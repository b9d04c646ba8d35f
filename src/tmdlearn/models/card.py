"""Model cards: the ``model.json`` beside every saved model's weights.

A card says what a model is for and how far to trust it: tmdlearn version, workflow and task,
material, inputs with their units and the grid they were trained on, training data, metrics
with their intervals, seed, license, and the sha256 of each file of the model. Loading checks
the card (:func:`verify`) before any weight is read: a changed file, a model for another
material or input grid, or a card from a newer major version is refused with one line naming
the file (:class:`~tmdlearn.errors.InputError`, exit code 2 on the command line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tmdlearn import __version__
from tmdlearn.config import is_number
from tmdlearn.errors import InputError
from tmdlearn.io.digest import sha256

#: File name of the card inside a model folder.
CARD_NAME = "model.json"
#: Card layout version; a reader refuses cards of a newer major version.
CARD_FORMAT = 1
#: Keys every card has.
REQUIRED = ("format", "tmdlearn_version", "workflow", "task", "files")



def make_card(workflow: str, task: str, *, material: str | None = None,
              inputs: dict | None = None, training: dict | None = None,
              metrics: dict | None = None, seed: int | None = None,
              license: str = "BSD-3-Clause", **extra: Any) -> dict[str, Any]:
    """A card without its ``files`` (:func:`tmdlearn.models.store.write_model` adds them).

    Parameters
    ----------
    workflow, task : str
        What the model is for.
    material : str, optional
        Material trained on.
    inputs : dict, optional
        Modality, units and the grid trained on (e.g. ``window``, ``points``, ``unit`` for
        spectra; ``pixel_size_angstrom`` / ``pixel_size_nm`` and ``image_size_px`` for images).
    training : dict, optional
        Data source, ``manifest_sha256``, ``n_samples``.
    metrics : dict, optional
        Numbers, with ``_low`` / ``_high`` interval bounds where known.
    seed : int, optional
        Training seed.
    license : str
        License of the model.
    **extra
        More card entries.

    Returns
    -------
    dict
    """
    return {"format": CARD_FORMAT, "tmdlearn_version": __version__, "workflow": workflow,
            "task": task, "material": material, "inputs": inputs or {},
            "training": training or {}, "metrics": metrics or {}, "seed": seed,
            "license": license, **extra}


def read_card(folder: str | Path) -> dict[str, Any]:
    """The card of the model in ``folder``.

    Parameters
    ----------
    folder : str or Path
        The model folder.

    Returns
    -------
    dict

    Raises
    ------
    InputError
        When the card is missing, unreadable or incomplete.
    """
    path = Path(folder) / CARD_NAME
    if not path.is_file():
        raise InputError(f"no model card ({CARD_NAME}) beside the weights", path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"malformed model card ({err.__class__.__name__})", path) from None
    if not isinstance(card, dict):
        raise InputError("malformed model card (not a JSON object)", path)
    missing = [key for key in REQUIRED if key not in card]
    if missing:
        raise InputError(f"malformed model card: missing {missing}", path)
    if not isinstance(card["files"], dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in card["files"].items()):
        raise InputError("malformed model card: files must map names to sha256", path)
    return card


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def verify(folder: str | Path, card: dict[str, Any], expect: dict[str, Any] | None = None,
           trust_mismatch: bool = False, warn=None) -> None:
    """Check a model folder against its ``card`` before anything is loaded.

    Refused (InputError naming the file): a card of a newer format or newer major tmdlearn
    version; a listed file missing, or a file whose sha256 differs; a card whose entries differ
    from ``expect``.

    Parameters
    ----------
    folder : str or Path
        The model folder.
    card : dict
        Its card (:func:`read_card`).
    expect : dict, optional
        ``workflow``, ``material``, ``task``, and ``inputs``: each key given must be equal, e.g.
        the spectral window and points.
    trust_mismatch : bool
        Turn a differing hash into a warning (a missing file stays an error).
    warn : callable, optional
        ``warn(line)`` for that warning; default: print to standard error.
    """
    folder = Path(folder)
    card_path = folder / CARD_NAME
    if int(card.get("format", 0)) > CARD_FORMAT or _major(card["tmdlearn_version"]) > _major(
            __version__):
        raise InputError(f"model written by tmdlearn {card['tmdlearn_version']} (card format "
                         f"{card.get('format')}), newer than this tmdlearn {__version__}: "
                         "upgrade tmdlearn", card_path)
    for name, digest in card["files"].items():
        path = folder / name
        if Path(name).name != name or not path.is_file():
            raise InputError(f"weight file {name!r} listed in the card is missing", card_path)
        actual = sha256(path)
        if actual != digest:
            message = (f"sha256 {actual[:12]}... differs from the card's {digest[:12]}...: "
                       "the file was changed or truncated")
            if not trust_mismatch:
                raise InputError(message + " (--trust-mismatch loads it anyway)", path)
            (warn or _stderr)(f"WARNING: {path}: {message}; loading it anyway "
                              "(--trust-mismatch)")
    for key, wanted in (expect or {}).items():
        if key == "inputs":
            given = card.get("inputs") or {}
            for sub, value in wanted.items():
                if _plain(given.get(sub)) != _plain(value):
                    raise InputError(f"model trained on inputs with {sub} = {given.get(sub)!r}, "
                                     f"not {value!r}", card_path)
        elif wanted is not None and card.get(key) != wanted:
            raise InputError(f"model for {key} {card.get(key)!r}, not {wanted!r}", card_path)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _plain(value: Any) -> Any:
    """Tuples as lists, numbers as floats: JSON round trips compare equal."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if is_number(value):
        return float(value)
    return value

