"""YAML configs whose keys the command line can override (``key.sub=value``)."""

from __future__ import annotations

import copy
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from tmdlearn.errors import InputError


def dataclass_from_mapping(cls: type, values: dict[str, Any] | None, what: str):
    """``cls(**values)`` for a dataclass, lists turned into tuples (YAML has no tuples);
    unknown keys are an InputError naming ``what`` and the known keys."""
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown {what} keys {unknown}; known: {sorted(known)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def load_config(path: str | Path | None, overrides: list[str] | None = None,
                defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, updated by the YAML file at ``path``, updated by ``overrides``.

    Each override is ``dotted.key=value``; the value is parsed as YAML (so ``3``, ``0.5``,
    ``true``, ``[1, 2]`` keep their types).
    """
    config = copy.deepcopy(defaults or {})
    if path is not None:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise InputError("config file not found", path) from None
        except yaml.YAMLError as err:
            raise InputError(f"not valid YAML ({err.__class__.__name__})", path) from None
        if not isinstance(loaded, dict):
            raise InputError("config must be a mapping of keys to values", path)
        _merge(config, loaded)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"override {item!r} is not of the form key.sub=value")
        value = yaml.safe_load(raw) if raw else None
        target = config
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise InputError(f"override {item!r}: {part!r} is not a section")
        target[parts[-1]] = value
    return config


def _merge(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
