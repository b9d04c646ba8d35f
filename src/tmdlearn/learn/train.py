"""A small torch training loop shared by the workflows.

Mini-batch training with a seed, ``device="auto"``, optional class weights or oversampling of
minority classes, optional augmentation of training batches, and early stopping on the loss of
a validation set (the best weights are restored at the end).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tmdlearn.errors import InputError
from tmdlearn.progress import track


@dataclass
class TrainConfig:
    """Training settings (defaults suit small tabular or image sets).

    ``class_weight``: None, "balanced" (weights n / (k · n_c), scikit-learn's rule) or one weight
    per class. ``oversample``: each epoch draws every class up to the size of the largest one.
    ``patience``: epochs without improvement of the validation loss before stopping (None:
    train all ``epochs``).
    """

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int | None = 10
    label_smoothing: float = 0.0
    class_weight: str | list[float] | None = None
    oversample: bool = False
    seed: int = 0
    device: str = "auto"


@dataclass
class History:
    """Losses per epoch and the epoch whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; anything else is passed to ``torch.device``.

    Parameters
    ----------
    device : str or torch.device
        "auto", "cpu", "cuda", "cuda:1"...

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        An unknown device, or CUDA where torch sees no GPU.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}: auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: torch sees no CUDA GPU here (use auto or cpu)")
    return chosen


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: leave torch's setting), then
    restore the previous number.

    Parameters
    ----------
    threads : int, optional
        Torch CPU threads (>= 1) inside the block.

    Yields
    ------
    None
    """
    if threads is None:
        yield
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise InputError(f"threads must be a positive integer or null, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def balanced_class_weights(y, n_classes: int) -> np.ndarray:
    """Weights n / (n_classes · n_c) of each class (0 for a class absent from ``y``).

    Parameters
    ----------
    y : (N,) int array
        Class indices in [0, n_classes).
    n_classes : int
        Number of classes.

    Returns
    -------
    (n_classes,) float array
        Weight of each class (scikit-learn's "balanced" rule).
    """
    counts = np.bincount(np.asarray(y), minlength=n_classes).astype(float)
    return np.divide(len(y), n_classes * counts, out=np.zeros_like(counts), where=counts > 0)


def oversampled_indices(y, rng: np.random.Generator) -> np.ndarray:
    """Indices drawing every class up to the size of the largest (minorities with replacement).

    The largest class appears once per item; the result is shuffled.

    Parameters
    ----------
    y : (N,) array
        Class labels.
    rng : numpy Generator
        Source of the draws and of the shuffle.

    Returns
    -------
    (n_classes * largest,) int array
        Indices into ``y``.
    """
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    top = counts.max()
    parts = []
    for c, n in zip(classes, counts, strict=True):
        members = np.flatnonzero(y == c)
        extra = rng.choice(members, top - n, replace=True) if top > n else members[:0]
        parts.append(np.concatenate([members, extra]))
    return rng.permutation(np.concatenate(parts))


def train_model(model: nn.Module, x, y, *, config: TrainConfig | None = None,
                loss: str | Callable = "cross_entropy", x_val=None, y_val=None,
                augment: Callable | None = None, parameters=None,
                description: str = "training") -> History:
    """Train ``model`` in place on ``(x, y)``; returns the loss history.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of ``x`` to outputs (logits for classification).
    x : array or tensor (N, ...)
        Inputs (features or images).
    y : array (N,) or (N, ...)
        Int class indices (``loss="cross_entropy"``) or float targets (``loss="mse"`` or a
        callable loss).
    config : TrainConfig, optional
        Settings; defaults when None.
    loss : str or callable
        "cross_entropy" (with ``config``'s class weights and label smoothing), "mse", or a
        callable ``loss(output, target) -> scalar tensor``.
    x_val, y_val : array, optional
        Validation set for early stopping (best weights restored).
    augment : callable, optional
        ``augment(batch, generator) -> batch``, applied to training batches only.
    parameters : iterable, optional
        Tensors or AdamW parameter groups (dicts with their own ``lr``) to optimise; default:
        the parameters of ``model`` that require grad.
    description : str
        Label of the progress bar.

    Returns
    -------
    History
        Training (and validation) loss per epoch and the epoch whose weights were kept.
    """
    config = config or TrainConfig()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float32)
    classification = loss == "cross_entropy"
    y_np = np.asarray(y.cpu() if torch.is_tensor(y) else y)
    if len(x) != len(y_np) or len(x) == 0:
        raise InputError(f"x ({len(x)}) and y ({len(y_np)}) must be non-empty and equal length")
    y_t = torch.as_tensor(y_np, dtype=torch.long if classification else torch.float32)
    loss_fn = _loss(loss, config, y_np, model, device)
    model.to(device)
    params = (list(parameters) if parameters is not None
              else [p for p in model.parameters() if p.requires_grad])
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    has_val = x_val is not None and len(x_val) > 0
    if has_val:
        x_val = torch.as_tensor(x_val, dtype=torch.float32)
        y_val = torch.as_tensor(np.asarray(y_val), dtype=y_t.dtype)
    history, best_state, best_loss, waited = History(), None, np.inf, 0
    for epoch in track(range(config.epochs), description, total=config.epochs):
        order = (oversampled_indices(y_np, rng) if config.oversample and classification
                 else rng.permutation(len(x)))
        model.train()
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            index = torch.as_tensor(order[start:start + config.batch_size])
            xb = x[index]
            if augment is not None:
                xb = augment(xb, generator)
            optimiser.zero_grad()
            batch_loss = loss_fn(model(xb.to(device)), y_t[index].to(device))
            batch_loss.backward()
            optimiser.step()
            total += float(batch_loss.detach()) * len(index)
        history.train_loss.append(total / len(order))
        if not has_val:
            history.best_epoch = epoch
            continue
        val_loss = _evaluate(model, x_val, y_val, loss_fn, config.batch_size, device)
        history.val_loss.append(val_loss)
        if val_loss < best_loss - 1e-6:
            best_loss, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            waited += 1
            if config.patience is not None and waited >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def predict(model: nn.Module, x, batch_size: int = 256, device: str = "auto") -> np.ndarray:
    """Outputs of ``model`` (in eval mode, no gradients) for all of ``x``, as a numpy array.

    Parameters
    ----------
    model : nn.Module
        A trained model.
    x : array or tensor (N, ...)
        Inputs.
    batch_size : int
        Items per forward pass.
    device : str
        Torch device, "auto" picks CUDA when available.

    Returns
    -------
    (N, ...) float32 array
        The model's outputs (e.g. logits); (0,) when ``x`` is empty.
    """
    device = resolve_device(device)
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float32)
    model.to(device).eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            outputs.append(model(x[start:start + batch_size].to(device)).float().cpu())
    return torch.cat(outputs).numpy() if outputs else np.empty((0,))


def _loss(loss, config: TrainConfig, y: np.ndarray, model: nn.Module, device) -> Callable:
    if callable(loss):
        return loss
    if loss == "mse":
        return nn.MSELoss()
    if loss != "cross_entropy":
        raise InputError(f"unknown loss {loss!r}: use 'cross_entropy', 'mse' or a callable")
    weight = None
    if config.class_weight is not None:
        n_classes = _n_outputs(model, y)
        if isinstance(config.class_weight, str):
            if config.class_weight != "balanced":
                raise InputError(f"class_weight must be 'balanced' or a list, got "
                                 f"{config.class_weight!r}")
            weight = balanced_class_weights(y, n_classes)
        else:
            weight = np.asarray(config.class_weight, dtype=float)
        weight = torch.as_tensor(weight, dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def _n_outputs(model: nn.Module, y: np.ndarray) -> int:
    n_classes = getattr(model, "n_classes", None) or getattr(model, "out_features", None)
    return int(n_classes) if n_classes else int(np.max(y)) + 1


def _evaluate(model, x, y, loss_fn, batch_size, device) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            total += float(loss_fn(model(xb), yb)) * len(xb)
    return total / len(x)
