"""Reading tmdlearn's old pickle-based model files once, to convert them to model folders.

Before model folders (:mod:`tmdlearn.models.store`), tmdlearn saved models with
``torch.save``: STEM models and checkpoints and the explain CNN as plain dicts of tensors,
crossmodal models as dicts holding scikit-learn estimators and small torch modules. Such a
file is a pickle, and unpickling can run code, so no loader opens one. :func:`read_old` is the
only place that does, for ``tmdlearn models convert``, and it never runs the full unpickler:
``torch.load(weights_only=True)`` (torch's restricted unpickler) with the exact classes
tmdlearn wrote added (:func:`base_globals` and the workflows' own). A file naming any other
class or function (a hidden callable among them) is refused before anything in it is built.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tmdlearn.errors import InputError


def base_globals() -> list:
    """numpy's array helpers and the torch modules of old tmdlearn files.

    Workflows add their own classes, e.g. :data:`tmdlearn.crossmodal.saved.old_classes`.

    Returns
    -------
    list
        Classes and functions for ``torch.serialization.safe_globals``.
    """
    import numpy as np
    from torch import nn

    from tmdlearn.models.autoencoders import ACTIVATIONS, RegressionMLP

    core = getattr(np, "_core", None) or np.core
    return [np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar,
            *{type(np.dtype(kind)) for kind in "?bhilqBHILQefdgFDGU"}, bytes,
            nn.Sequential, nn.Linear, nn.BatchNorm1d, nn.Dropout, *ACTIVATIONS.values(),
            RegressionMLP]


def read_old(path: str | Path, allowed: list):
    """The object in an old tmdlearn ``.pt`` file, unpickled with torch's restricted unpickler.

    The names a file uses are listed first from its opcodes, without running any
    (``torch.serialization.get_unsafe_globals_in_checkpoint``); only then is it loaded.

    Parameters
    ----------
    path : str or Path
        The old model file.
    allowed : list
        The only classes and functions it may name (:func:`base_globals` plus a workflow's).

    Returns
    -------
    object
        The unpickled object, tensors on the CPU.

    Raises
    ------
    InputError
        For a file naming anything else (nothing built), or not a torch file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    known = {_name(g) for g in allowed}
    try:
        unknown = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(path)) - known)
    except Exception as err:  # not a torch zip file: nothing tmdlearn wrote
        raise InputError(f"not a tmdlearn model file ({err.__class__.__name__})",
                         path) from None
    if unknown:
        raise InputError(f"refused: not a known tmdlearn model structure (it names "
                         f"{', '.join(unknown)})", path)
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the restricted unpickler refused it, or a damaged file
        raise InputError(f"refused: not a known tmdlearn model structure "
                         f"({err.__class__.__name__})", path) from None


def _name(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"
