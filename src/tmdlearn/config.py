"""YAML configs whose keys the command line can override (``key.sub=value``), checked against
a workflow's ``DEFAULTS``: a misspelt key is an InputError naming it and the closest known key.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from tmdlearn.errors import InputError


def dataclass_from_mapping(cls: type, values: dict[str, Any] | None, where: str):
    """``cls(**values)`` for a dataclass, lists turned into tuples (YAML has no tuples).

    Parameters
    ----------
    cls : type
        The dataclass.
    values : dict, optional
        Field values by name.
    where : str
        Dotted prefix of the fields' config keys in messages, e.g. ``"data."``.

    Returns
    -------
    object
        The ``cls`` instance.

    Raises
    ------
    InputError
        For an unknown key, naming it and the closest known key; for a field whose default is
        a number or a range that gets neither (a number or a pair of numbers).
    """
    values = dict(values or {})
    check_keys(values, [f.name for f in fields(cls)], where)
    for field in fields(cls):
        if field.name in values and _is_range(field.default) \
                and not _is_range(values[field.name]):
            raise InputError(f"config key '{where}{field.name}' must be a number or a pair of "
                             f"numbers (lo, hi), got {values[field.name]!r}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (an int or a float; true / false are not).

    Parameters
    ----------
    value : object
        A config value.

    Returns
    -------
    bool
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_range(value: Any) -> bool:
    """A real number, or a pair of them (lo, hi)."""
    if isinstance(value, (list, tuple)):
        return len(value) == 2 and all(is_number(v) for v in value)
    return is_number(value)


class Checked(dict):
    """A section of DEFAULTS (or DEFAULTS itself, for top-level keys and checks across
    sections) that :func:`validate` checks as any other (keys, kinds) and then hands to
    ``check`` (ranges, names), so that the InputError it raises names the config file and
    comes before any work."""

    def __init__(self, values: dict[str, Any] | None = None,
                 check: Callable[[Any], Any] | None = None):
        super().__init__(values or {})
        self.check = check


class Open(Checked):
    """A section of DEFAULTS whose keys are free (a search space, a section another function
    checks): :func:`validate` takes any keys there, and calls ``check`` (given) with the
    section's value."""


def check_least(values: dict[str, Any], where: str, **least: float) -> None:
    """InputError for the first of ``least``'s keys whose value in ``values`` is not a number
    or is below its bound (a null value passes: keys whose default is null reach here
    unchecked by :func:`validate`).

    Parameters
    ----------
    values : dict
        A config section.
    where : str
        Dotted prefix of its keys in the message, e.g. ``"fit."``.
    **least
        Key = the least value it may take.
    """
    for key, low in least.items():
        value = values.get(key)
        if value is None:
            continue
        if not is_number(value):
            raise InputError(f"config key '{where}{key}' must be a number, got {value!r}")
        if not value >= low:
            raise InputError(f"config key '{where}{key}' must be at least {low:g}, "
                             f"got {value!r}")


def check_among(values: dict[str, Any], where: str, **choices: Iterable[str]) -> None:
    """InputError for the first of ``choices``' keys whose value in ``values`` is not a list of
    names among its choices (a lone name too: "must be a list of names, e.g. [name]"); for a
    key that takes one name, :func:`check_one_among`.

    Parameters
    ----------
    values : dict
        A config section.
    where : str
        Dotted prefix of its keys in the message.
    **choices
        Key = the names it may take.
    """
    _check_names(values, where, choices, many=True)


def check_one_among(values: dict[str, Any], where: str, **choices: Iterable[str]) -> None:
    """InputError for the first of ``choices``' keys whose value in ``values`` is not one name
    among its choices (a list too: "must be one name"); :func:`check_among` for lists.

    Parameters
    ----------
    values : dict
        A config section.
    where : str
        Dotted prefix of its keys in the message.
    **choices
        Key = the names it may take.
    """
    _check_names(values, where, choices, many=False)


def _check_names(values: dict[str, Any], where: str, choices: dict[str, Iterable[str]],
                 many: bool) -> None:
    """:func:`check_among` (``many``: lists of names) or :func:`check_one_among` (one name);
    a null value passes."""
    for key, allowed in choices.items():
        value, allowed = values.get(key), tuple(allowed)
        if value is None:
            continue
        if isinstance(value, (list, tuple)) != many:
            shape = f"a list of names, e.g. [{allowed[0]}]" if many else \
                f"one name, e.g. {allowed[0]}"
            raise InputError(f"config key '{where}{key}' must be {shape}, got {value!r}")
        unknown = [n for n in (value if many else [value]) if n not in allowed]
        if unknown:
            raise InputError(f"config key '{where}{key}': unknown {unknown[0]!r}; one of "
                             f"{', '.join(map(str, allowed))}")


def check_keys(values: Iterable[str], known: Iterable[str], where: str = "",
               path: str | Path | None = None) -> None:
    """InputError for the first of ``values`` not in ``known``: one line with the key and the
    closest known key.

    Parameters
    ----------
    values : iterable of str
        Keys to check.
    known : iterable of str
        Allowed keys.
    where : str
        Prefix of the key in the message, e.g. ``"preprocess."``.
    path : str or Path, optional
        File the keys came from, named by the error.
    """
    known = list(known)
    unknown = [key for key in values if key not in known]
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.0)
    hint = f"; did you mean '{where}{close[0]}'?" if close else ""
    more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    raise InputError(f"unknown config key '{where}{key}'{more}{hint}", path)


def validate(config: dict[str, Any], defaults: dict[str, Any], path: str | Path | None = None,
             where: str = "") -> None:
    """Check every key of ``config`` against ``defaults``, section by section; a section whose
    default is not a mapping (None, a list) or is :class:`Open` takes any keys. A value must be
    of its default's kind (:func:`_wanted`: a section, a number, a flag); then the ``check`` of
    every :class:`Checked` section (and of ``defaults``, when it is one) runs.

    Parameters
    ----------
    config : dict
        The config to check.
    defaults : dict
        The workflow's ``DEFAULTS``.
    path : str or Path, optional
        File the config came from, named by the error.
    where : str
        Dotted prefix of ``config``'s keys (for a section).
    """
    check_keys(config, defaults, where, path)
    for key, value in config.items():
        default = defaults[key]
        value = config[key] = _yaml_number(value, default)
        wanted = _wanted(value, default)
        if wanted:
            raise InputError(f"config key '{where}{key}' must be {wanted}, got {value!r}", path)
        if isinstance(default, int) and not isinstance(default, bool) and value is not None:
            value = config[key] = int(value)
        if isinstance(default, Open) and value is not None:
            _run_check(default, value, path)
        elif isinstance(value, dict) and isinstance(default, dict):
            validate(value, default, path, f"{where}{key}.")
    _run_check(defaults, config, path)


def _run_check(defaults: dict[str, Any], value: Any, path: str | Path | None) -> None:
    """``defaults.check(value)`` of a :class:`Checked` section, its InputError naming ``path``."""
    if not isinstance(defaults, Checked) or defaults.check is None:
        return
    try:
        defaults.check(value)
    except InputError as err:
        if err.path is not None or path is None:
            raise
        raise InputError(err.problem, path) from None


def _yaml_number(value: Any, default: Any) -> Any:
    """``value`` as a number where the default is one and it is a string that reads as one:
    YAML 1.1 (PyYAML) reads ``1e-3`` (no decimal point) as the string "1e-3"."""
    if isinstance(value, str) and is_number(default):
        try:
            number = float(value)
        except ValueError:
            return value
        if isinstance(default, int) and number.is_integer():
            return int(number)
        return number
    return value


def _wanted(value: Any, default: Any) -> str:
    """What a value must be where the default is ``default``, if ``value`` is not that ("" when
    it is): a section (mapping) where the default is one, a whole number where it is an int, a
    number where it is a float, true or false where it is a flag. Null passes everywhere (off,
    or the built-in choice); lists and strings are left to the workflow (several take
    either)."""
    if value is None:
        return ""
    if isinstance(default, dict):
        return "" if isinstance(value, dict) else "a section of key: value lines"
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "true or false"
    if isinstance(default, int):  # a count (epochs, folds, seed, px): 2.0 is 2, 2.5 is not
        return "" if is_number(value) and float(value).is_integer() else "a whole number"
    if isinstance(default, float):
        return "" if is_number(value) else "a number"
    return ""


def load_config(path: str | Path | None, overrides: list[str] | None = None,
                defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, updated by the YAML file at ``path``, updated by ``overrides``. Plain dicts out
    (no :class:`Open`), so a config can be saved with a model.

    Parameters
    ----------
    path : str or Path, optional
        YAML file (a mapping); None for the defaults alone.
    overrides : list of str, optional
        Items ``dotted.key=value``; the value is parsed as YAML (so ``3``, ``0.5``, ``true``,
        ``[1, 2]`` keep their types).
    defaults : dict, optional
        The workflow's ``DEFAULTS``; when given, every key is checked against them
        (:func:`validate`).

    Returns
    -------
    dict
        The config.
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
        config = merged(config, _beside(loaded, path.parent))
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
    if defaults is not None:
        try:
            validate(config, defaults, path)
        except InputError as err:  # a key set on the command line: name the --set, not the file
            for item in overrides or []:
                if f"'{item.partition('=')[0]}'" in err.problem:
                    raise InputError(f"--set {item}: {err.problem}") from None
            raise
    return _plain(config)


def _beside(values: Any, folder: Path) -> Any:
    """``values`` of a config file with every relative path that names nothing from the
    working folder but a file or folder beside the config (``folder``) made to point there,
    so a config's data paths hold wherever the command runs."""
    if isinstance(values, dict):
        return {key: _beside(value, folder) for key, value in values.items()}
    if isinstance(values, list):
        return [_beside(value, folder) for value in values]
    if isinstance(values, str) and ("/" in values or "." in values) and len(values) < 4096:
        relative = Path(values)
        if not relative.is_absolute() and not relative.exists() \
                and (folder / relative).exists():
            return os.path.normpath(folder / relative)
    return values


def markdown_table(defaults: dict[str, Any], meanings: dict[str, str] | None = None) -> str:
    """The config table of the docs: one row per dotted key, its default (YAML) and its meaning.

    Parameters
    ----------
    defaults : dict
        A workflow's ``DEFAULTS``.
    meanings : dict, optional
        Meaning by dotted key (written by hand in the docs).

    Returns
    -------
    str
        The Markdown table.
    """
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, value in flat_keys(defaults).items():
        shown = yaml.dump(_plain(value), Dumper=_Dumper, default_flow_style=True,
                          width=10_000).strip()
        shown = shown.removesuffix("\n...").replace("|", "\\|")
        rows.append(f"| `{key}` | `{shown}` | {(meanings or {}).get(key, '')} |")
    return "\n".join(rows)


def flat_keys(defaults: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Dotted key -> default of every leaf of ``defaults`` (:class:`Open` sections as leaves).

    Parameters
    ----------
    defaults : dict
        Nested defaults.
    where : str
        Dotted prefix of the keys.

    Returns
    -------
    dict
        Default by dotted key.
    """
    out = {}
    for key, value in defaults.items():
        if isinstance(value, dict) and value and not isinstance(value, Open):
            out.update(flat_keys(value, f"{where}{key}."))
        else:
            out[f"{where}{key}"] = value
    return out


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # a shared list written out each time
        return True


def _plain(value: Any) -> Any:
    """``value`` with :class:`Open` sections as plain dicts (for YAML)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` updated section by section (at every depth) by ``update``.

    Parameters
    ----------
    base : dict
        E.g. a workflow's ``DEFAULTS``; not changed.
    update : dict
        A possibly partial config; its values replace those of ``base`` except where both
        hold a section (dict), which is merged in turn.

    Returns
    -------
    dict
        A new dict sharing nothing mutable with ``base`` or ``update``.
    """
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_TABLE = re.compile(r"(<!-- config: ([\w.]+) -->\n).*?(<!-- /config -->)", re.S)


def fill_config_tables(text: str) -> str:
    """``text`` (Markdown) with every block ``<!-- config: module -->`` ... ``<!-- /config -->``
    holding the config table of that module's ``DEFAULTS`` (:func:`markdown_table`).

    The meaning column is the module's ``HELP`` (dotted key -> text, shared with the
    command-line help) where it has one, else kept from the block as it was. ``python -m
    tmdlearn.config docs/*.md`` rewrites the pages; a test checks that they match.

    Parameters
    ----------
    text : str
        A Markdown page.

    Returns
    -------
    str
        The page with its config tables filled.
    """
    def table(match: re.Match) -> str:
        module = importlib.import_module(match.group(2))
        meanings = {}
        for row in match.group(0).splitlines():
            cells = row.split(" | ")
            if len(cells) >= 3 and row.startswith("| `"):
                for key in re.findall(r"`([^`]+)`", cells[0]):
                    meanings[key] = cells[-1].removesuffix("|").strip()
        body = markdown_table(module.DEFAULTS, meanings | getattr(module, "HELP", {}))
        return f"{match.group(1)}{body}\n{match.group(3)}"

    return _TABLE.sub(table, text)


if __name__ == "__main__":
    import sys

    from tmdlearn.config import fill_config_tables as fill  # the imported module's Open class

    for page in map(Path, sys.argv[1:]):
        page.write_text(fill(page.read_text(encoding="utf-8")), encoding="utf-8")
