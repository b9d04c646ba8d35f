"""The inputs of the explain workflow: Raman / PL map pairs from files or from the synthetic
WSe2 generator (the config's ``data``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmdlearn.errors import InputError


def load(config: dict) -> list[dict]:
    """The map pairs of the config's ``data`` (:func:`load_pairs`).

    Parameters
    ----------
    config : dict
        Workflow configuration with a ``data`` section.

    Returns
    -------
    list of dict
        The map pairs, as :func:`load_pairs` returns them.
    """
    return load_pairs(config["data"])


def load_pairs(data: dict) -> list[dict]:
    """Map pairs from files (``pairs``: name, raman, pl, optional truth .npy and regions) or
    from the synthetic WSe2 generator (``synth``).

    Parameters
    ----------
    data : dict
        The config's ``data`` section: ``synth`` (seed, pixels, shape) or ``pairs`` (a list of
        dicts with name, raman and pl map paths, optional truth .npy path and regions
        {label: name}).

    Returns
    -------
    list of dict
        One dict per pair: name, raman and pl (SpectralMap), and truth ((ny, nx) int labels)
        with regions when given.
    """
    from tmdlearn.data.containers import SpectralMap
    from tmdlearn.io import read

    if data.get("synth"):
        return _synth_pairs(data["synth"])
    pairs = []
    for i, entry in enumerate(data.get("pairs") or []):
        if not isinstance(entry, dict) or not {"raman", "pl"} <= set(entry):
            raise InputError(f"data.pairs[{i}] needs keys raman and pl (map files)")
        pair = {"name": str(entry.get("name", f"pair{i}"))}
        for key in ("raman", "pl"):
            loaded = read(entry[key])
            if not isinstance(loaded, SpectralMap):
                raise InputError(f"not a spectral map ({type(loaded).__name__})", entry[key])
            pair[key] = loaded
        if entry.get("truth"):
            path = Path(entry["truth"])
            pair["truth"], named = _truth_labels(path)
            pair["regions"] = {int(k): str(v) for k, v in
                               (entry.get("regions") or named).items()}
        pairs.append(pair)
    return pairs


def _truth_labels(path: Path) -> tuple[np.ndarray, dict]:
    """The label map of a ``.npy`` file, or of the ``regions`` array of an ``.npz`` (as
    ``tmdlearn synth wse2-maps`` writes it, with its ``region_names``), and the names."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return loaded, {}
        with loaded:
            if "regions" not in loaded.files:
                raise InputError(f"the truth archive has no 'regions' label map (keys: "
                                 f"{', '.join(loaded.files)})", path)
            names = loaded["region_names"] if "region_names" in loaded.files else []
            return loaded["regions"], {i: str(n) for i, n in enumerate(names)}
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the truth labels: {err}", path) from None


def _synth_pairs(settings: dict) -> list[dict]:
    """The embedded synthetic WSe2 flake under resonant (2.33 eV) and non-resonant (1.96 eV)
    excitation, with its truth regions (``tmdlearn.synth.maps``)."""
    from tmdlearn.config import check_keys
    from tmdlearn.synth import maps

    settings = dict(settings) if isinstance(settings, dict) else {}
    check_keys(settings, ("seed", "pixels", "shape"), "data.synth.")
    seed, pixels = int(settings.get("seed", 0)), int(settings.get("pixels", 48))
    shape = str(settings.get("shape", "triangle"))
    if pixels < 16 or shape not in ("triangle", "star"):
        raise InputError("data.synth needs pixels >= 16 and shape triangle or star")
    rng = np.random.default_rng(seed)
    fields = maps.flake_fields(pixels, shape, rng)
    regions = dict(enumerate(maps.REGIONS))
    pairs = []
    for name, ev in (("resonant", 2.33), ("nonresonant", 1.96)):
        flake = maps.flake_maps(pixels, shape, ev, rng, fields=fields)
        pairs.append({"name": name, "raman": flake.raman, "pl": flake.pl,
                      "truth": flake.regions, "regions": regions})
    return pairs
