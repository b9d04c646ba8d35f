"""The spectra workflow: read, mask, convert, preprocess and fit spectra and maps.

``DEFAULTS`` (the documented config), ``load(cfg)`` (the model and the spectra of
``data.inputs``) and ``run(inputs, cfg)`` -> :class:`~tmdlearn.outcome.Outcome` whose table
``fits`` has one row per spectrum (and map pixel); :func:`features_table`,
:func:`examples_figure` and :func:`verdict_summary` (:mod:`.fit_results`) read it. The steps
live in :mod:`.inputs`, :mod:`.prepare`, :mod:`.fit_inputs` (in memory), :mod:`.chunked` (zarr
map stores) and :mod:`.campaign`; their public names are re-exported here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tmdlearn.config import Checked, check_least, check_one_among
from tmdlearn.data import Spectra, SpectralMap
from tmdlearn.engine.choice import run_section
from tmdlearn.errors import InputError
from tmdlearn.outcome import Outcome
from tmdlearn.progress import track
from tmdlearn.spectra.campaign import campaign_check
from tmdlearn.spectra.fit_inputs import fit_inputs
from tmdlearn.spectra.fit_results import examples_figure, features_table, verdict_summary
from tmdlearn.spectra.inputs import SPECTRA_SUFFIXES, expand_inputs
from tmdlearn.spectra.prepare import axis_problem, fit_options, in_model_unit, preprocessed
from tmdlearn.spectra.preprocess import DESPIKE, NORMALISE, baseline_methods

__all__ = ["DEFAULTS", "SPECTRA_SUFFIXES", "campaign_check", "examples_figure", "expand_inputs",
           "features_table", "fit_options", "in_model_unit", "load", "preprocessed", "run",
           "verdict_summary"]


def _check_preprocess(pre: dict) -> None:
    """``preprocess``: known despike, normalise and baseline (none or a pybaselines method)."""
    check_one_among(pre, "preprocess.", despike=DESPIKE, normalise=("none", *NORMALISE))
    if pre.get("baseline") != "none":  # pybaselines imported only then
        check_one_among(pre, "preprocess.", baseline=("none", *baseline_methods()))


#: Defaults of ``spectra fit`` / ``spectra features``; any key can be set with ``--set``.
DEFAULTS = {
    # inputs: spectrum / map files, folders, manifests; model: a preset or a peak-model YAML;
    # include: optional peaks of the model (e.g. [sapphire])
    "data": {"inputs": [], "model": None, "include": []},
    "read": Checked({"unit": None, "excitation_nm": None},
                    check=lambda r: check_least(r, "read.", excitation_nm=1.0)),
    # despike: none, difference, whitaker-hayes or map (maps only; spikes confirmed by the 3 x 3
    # neighbours); despike_threshold None: the method's default
    "preprocess": Checked({"despike": "none", "despike_threshold": None,
                           "despike_spatial_k": 6.0, "baseline": "none", "normalise": "none"},
                          check=_check_preprocess),
    "mask": {"method": "none", "k": 3.0, "corner": 3},
    "fit": Checked({"solver": "lm", "backend": "numpy", "device": "auto", "dtype": "float64",
                    "max_iter": None, "position_weight": 0.0, "chunk_size": 65536},
                   check=lambda fit: check_least(fit, "fit.", max_iter=1, chunk_size=1,
                                                 position_weight=0)),
    # None: the model's value or tmdlearn.spectra.quality.DEFAULTS; enabled false skips it
    "verdict": Checked({"enabled": True, "main": None, "unresolved": None, "present_dbic": None,
                        "weak_snr": None, "chi2_max": None, "chi2_min": None,
                        "misfit_max": None, "saturation_run": None, "saturation_snr": None},
                       check=lambda v: check_least(v, "verdict.", present_dbic=float("-inf"),
                                                   weak_snr=0, chi2_max=0, chi2_min=0,
                                                   misfit_max=0, saturation_run=1,
                                                   saturation_snr=0)),
    # zarr map stores only (tmdlearn convert): fitted a chunk at a time into the result store
    # ``store``, resumable; scheduler auto: processes from 200 000 spectra, else threads
    "run": run_section(chunk_pixels=16384, store=None, overwrite=False),
}


def load(config: dict, skipped: list[InputError] | None = None) -> dict:
    """The peak model and the spectra of the config's ``data``.

    Parameters
    ----------
    config : dict
        The workflow's config (:data:`DEFAULTS`).
    skipped : list, optional
        With a list, a file of a folder input that cannot be read is left out and its
        InputError appended (one bad file does not stop a folder), and one on an axis the
        model cannot take is left out into ``other_axis``; without, both are raised, as for a
        file named itself.

    Returns
    -------
    dict
        ``model`` (PeakModel), ``items``: every ``(path, Spectra or SpectralMap)``, or
        ``(path, MapStore)`` for a zarr map store (opened lazily), and ``other_axis``: the
        InputErrors of a folder's files left out because they cannot be put on the model's
        axis (a PL file in a folder fitted with a Raman model).
    """
    from tmdlearn.engine.stores import is_zarr_store
    from tmdlearn.engine.zarrstore import open_map_store
    from tmdlearn.io import read
    from tmdlearn.spectra import load_model

    data = config["data"]
    if not data["model"]:
        raise InputError("no peak model: set data.model (a preset or a peak-model YAML)")
    peak_model = load_model(data["model"], tuple(data["include"] or ()))
    read_options = {k: v for k, v in config["read"].items() if v is not None}
    inputs = [Path(p) for p in data["inputs"]]
    files = [(path, source.is_dir() and not is_zarr_store(source))
             for source in inputs for path in expand_inputs([source])]
    if not files:
        raise InputError("no input files")
    items, other_axis = [], []
    for path, in_folder in track(files, "reading", total=len(files)):
        if is_zarr_store(path):  # read lazily, fitted a chunk at a time
            store = open_map_store(path)
            if store.excitation_nm is None and config["read"]["excitation_nm"] is not None:
                store = replace(store, excitation_nm=float(config["read"]["excitation_nm"]))
            items.append((path, store))
            continue
        try:
            loaded = read(path, **read_options)
            if not isinstance(loaded, Spectra | SpectralMap):
                raise InputError(f"not a spectrum or spectral map ({type(loaded).__name__})",
                                 path)
        except InputError as err:
            if skipped is None or not in_folder:
                raise
            skipped.append(err)
            continue
        problem = axis_problem(loaded, peak_model, path)
        if problem is not None:
            if skipped is None or not in_folder:
                raise problem
            other_axis.append(problem)
            continue
        items.append((path, loaded))
    if not items and (skipped or other_axis):
        raise (skipped or other_axis)[0]
    return {"model": peak_model, "items": items, "other_axis": other_axis}


def run(inputs: dict, config: dict, progress: bool | None = None) -> Outcome:
    """Fit the model to every spectrum and map pixel of ``inputs``.

    Parameters
    ----------
    inputs : dict
        As :func:`load` returns.
    config : dict
        The workflow's config (:data:`DEFAULTS`).
    progress : bool, optional
        Progress bars on, off or on a terminal only (None).

    Returns
    -------
    Outcome
        Table ``fits``: one row per spectrum; ``details``: the model (``model``), up to four
        fits for :func:`examples_figure` (``shown``) and, per map input,
        ``(path, map, mask, fit, config)`` (``maps``). A zarr map store (the only input then)
        is fitted a chunk at a time on the engine into the result store ``run.store``
        (:func:`tmdlearn.spectra.chunked.fit_store`): its Outcome holds counts and the
        store's path, and the table only for a small map.
    """
    from tmdlearn.engine.zarrstore import MapStore

    stores = [(path, data) for path, data in inputs["items"] if isinstance(data, MapStore)]
    if stores:
        from tmdlearn.spectra.chunked import fit_store

        if len(inputs["items"]) != 1:
            raise InputError("a zarr map store is fitted on its own: one input per command",
                             stores[0][0])
        return fit_store(*stores[0], inputs["model"], config, progress)
    return fit_inputs(inputs["items"], inputs["model"], config, progress)
