"""Paired AFM / Raman / PL measurements for cross-modal learning, with the study's filters.

Rows of a manifest are filtered per modality (AFM: 1 µm scans; Raman and PL: one laser power),
aligned by (sample_id, location), and preprocessed as in the MoS2 study: Raman resampled onto
the fixed 202-point window 360–480 cm⁻¹ (default), PL onto a fixed energy grid, every spectrum
min-max normalised to [0, 1]; AFM height maps levelled with :func:`tmdlearn.afm.level.level`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tmdlearn.afm.level import level
from tmdlearn.data import Dataset, HeightMap
from tmdlearn.errors import InputError
from tmdlearn.io import open_dataset
from tmdlearn.spectra import despike_whitaker_hayes, normalise, resample

MODALITIES = ("afm", "raman", "pl")
#: The pairs of the study: inputs → output (Tables 3–6, S2–S6).
TASKS = {
    "afm->raman": (("afm",), "raman"),
    "afm->pl": (("afm",), "pl"),
    "raman->pl": (("raman",), "pl"),
    "pl->raman": (("pl",), "raman"),
    "afm+pl->raman": (("afm", "pl"), "raman"),
    "afm+raman->pl": (("afm", "raman"), "pl"),
}


@dataclass
class SpectrumGrid:
    """The fixed axis spectra are resampled onto: ``points`` values over ``window`` (unit)."""

    window: tuple[float, float]
    points: int
    unit: str

    @property
    def axis(self) -> np.ndarray:
        """The (points,) axis values, in ``unit``."""
        return np.linspace(self.window[0], self.window[1], self.points)


RAMAN_GRID = SpectrumGrid((360.0, 480.0), 202, "cm-1")
PL_GRID = SpectrumGrid((1.6, 2.2), 200, "eV")


@dataclass
class CrossModalData:
    """Aligned measurements of N (sample, location) keys; a modality absent for a key is NaN.

    ``heights`` holds levelled :class:`HeightMap` (None where absent); ``raman`` (N, 202) and
    ``pl`` (N, L) min-max normalised spectra on ``raman_axis`` (cm⁻¹) / ``pl_axis`` (eV);
    ``groups`` the sample id of each key; ``image_features`` (N, D) when computed.
    """

    keys: list[tuple[str, str]]
    heights: list[HeightMap | None]
    raman: np.ndarray
    pl: np.ndarray
    raman_axis: np.ndarray
    pl_axis: np.ndarray
    files: dict[str, list[str | None]] = field(default_factory=dict)
    image_features: np.ndarray | None = None
    filters: dict = field(default_factory=dict)   # the manifest filters that chose the rows

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def groups(self) -> np.ndarray:
        """The sample id (N,) of each key."""
        return np.asarray([sample for sample, _ in self.keys])

    def present(self, modality: str) -> np.ndarray:
        """Boolean mask (N,) of the keys measured in ``modality``.

        Parameters
        ----------
        modality : str
            "afm" (a height map was read) or "raman" / "pl" (a spectrum without NaN).

        Returns
        -------
        (N,) bool array
        """
        if modality == "afm":
            return np.asarray([h is not None for h in self.heights])
        values = self.raman if modality == "raman" else self.pl
        return np.isfinite(values).all(axis=1)

    def rows(self, modalities) -> np.ndarray:
        """Indices of the keys measured in every one of ``modalities``.

        Parameters
        ----------
        modalities : iterable of str
            Modalities ("afm", "raman", "pl").

        Returns
        -------
        int array
            Sorted key indices.
        """
        mask = np.ones(len(self), dtype=bool)
        for modality in modalities:
            mask &= self.present(modality)
        return np.flatnonzero(mask)

    def inputs(self, modality: str) -> np.ndarray:
        """The model input of a modality: image features (AFM) or the normalised spectra.

        Parameters
        ----------
        modality : str
            "afm", "raman" or "pl".

        Returns
        -------
        (N, D) array
            ``image_features`` (AFM), or the min-max normalised spectra (NaN rows where absent).
        """
        if modality == "afm":
            if self.image_features is None:
                raise InputError("image features are not computed: call embed_images first")
            return self.image_features
        return self.raman if modality == "raman" else self.pl


def preprocess_spectrum(intensity: np.ndarray, axis: np.ndarray, grid: SpectrumGrid,
                        source: str = "", despike: bool = True) -> np.ndarray:
    """One spectrum despiked (Whitaker–Hayes: a cosmic ray would otherwise set the maximum),
    resampled onto ``grid`` and min-max normalised to [0, 1].

    Parameters
    ----------
    intensity : (L,) array
        The spectrum's intensities.
    axis : (L,) array
        Its axis, in ``grid.unit`` (cm⁻¹ or eV); it must cover ``grid.window``.
    grid : SpectrumGrid
        The fixed axis to resample onto.
    source : str
        File named in errors.
    despike : bool
        Remove cosmic-ray spikes first.

    Returns
    -------
    (grid.points,) array
        Normalised intensities in [0, 1].
    """
    values = np.asarray(intensity, dtype=float)[None]
    if despike:
        values = despike_whitaker_hayes(values)
    values = resample(values, axis, grid.axis)
    if not np.isfinite(values).all():
        raise InputError(f"the spectrum axis [{np.min(axis):g}, {np.max(axis):g}] {grid.unit} "
                         f"does not cover the window {list(grid.window)} {grid.unit}", source)
    out = normalise(values, "minmax")[0]
    if not np.isfinite(out).all():
        raise InputError("the spectrum is flat over the window", source)
    return out


def _present_columns(dataset: Dataset, conditions: dict) -> dict:
    """Conditions whose column exists (a manifest without laser powers needs no filter)."""
    return {k: v for k, v in conditions.items()
            if v is not None and k in dataset.table.columns}


def choose_laser_power(dataset: Dataset, modality: str, wanted: float | None) -> float | None:
    """The laser power (mW) to keep for ``modality``: ``wanted``, else the lowest present.

    Parameters
    ----------
    dataset : Dataset
        The manifest's dataset.
    modality : str
        "raman" or "pl".
    wanted : float, optional
        Laser power asked for, mW (InputError when no row has it).

    Returns
    -------
    float or None
        Laser power, mW; None when the manifest has no laser powers.
    """
    if "laser_power_mw" not in dataset.table.columns:
        return None
    rows = dataset.table[dataset.table["modality"] == modality]
    powers = np.unique(rows["laser_power_mw"].dropna().to_numpy(dtype=float))
    if wanted is not None:
        if not np.isclose(powers, wanted).any():
            raise InputError(f"no {modality} rows at laser_power_mw={wanted}; present: "
                             f"{powers.tolist()}", dataset.folder / "manifest.csv")
        return float(wanted)
    return float(powers.min()) if powers.size else None


def load_pairs(folder: str | Path, scan_size_um: float | None = 1.0,
               raman_power_mw: float | None = None, pl_power_mw: float | None = None,
               raman_grid: SpectrumGrid = RAMAN_GRID, pl_grid: SpectrumGrid = PL_GRID,
               modalities=MODALITIES) -> tuple[CrossModalData, dict]:
    """Read a manifest folder into :class:`CrossModalData`; returns it and the filters used.

    AFM rows are kept at ``scan_size_um`` (1 µm in the study); Raman and PL rows at one laser
    power each (the lowest present unless given). Two files left for one key and modality is
    an error (add a filter).

    Parameters
    ----------
    folder : str or Path
        Folder with a manifest.csv.
    scan_size_um : float, optional
        AFM scan size to keep, µm (None: all).
    raman_power_mw, pl_power_mw : float, optional
        Laser power to keep per modality, mW (default: the lowest present).
    raman_grid, pl_grid : SpectrumGrid
        Fixed axes the Raman (cm⁻¹) and PL (eV) spectra are resampled onto.
    modalities : sequence of str
        Modalities to read.

    Returns
    -------
    data : CrossModalData
        The aligned, preprocessed measurements.
    filters : dict
        Filters used per modality (scan_size_um, laser_power_mw).
    """
    dataset = open_dataset(folder)
    filters = {"afm": {"scan_size_um": scan_size_um},
               "raman": {"laser_power_mw": choose_laser_power(dataset, "raman", raman_power_mw)},
               "pl": {"laser_power_mw": choose_laser_power(dataset, "pl", pl_power_mw)}}
    loaded: dict[str, dict] = {}
    for modality in modalities:
        subset = dataset.filter(modality=modality)
        subset = subset.filter(**_present_columns(subset, filters[modality]))
        if len(subset) == 0:
            raise InputError(f"no {modality} rows left after the filters {filters[modality]}",
                             dataset.folder / "manifest.csv")
        pairs = subset.pairs([modality])
        files = pairs.rows[modality]["file"].tolist()
        loaded[modality] = {key: (item, str(dataset.folder / name)) for key, item, name
                            in zip(pairs.keys, pairs.data[modality], files, strict=True)}
    keys = sorted(set().union(*[set(v) for v in loaded.values()]))
    data = CrossModalData(
        keys, [None] * len(keys),
        np.full((len(keys), raman_grid.points), np.nan), np.full((len(keys), pl_grid.points),
                                                                 np.nan),
        raman_grid.axis, pl_grid.axis, files={m: [None] * len(keys) for m in modalities})
    for i, key in enumerate(keys):
        for modality, entries in loaded.items():
            if key not in entries:
                continue
            item, path = entries[key]
            data.files[modality][i] = path
            if modality == "afm":
                data.heights[i] = level(item)
                continue
            grid = raman_grid if modality == "raman" else pl_grid
            spectra = item.to_unit(grid.unit) if item.unit != grid.unit else item
            target = data.raman if modality == "raman" else data.pl
            target[i] = preprocess_spectrum(spectra.intensity.mean(axis=0), spectra.axis, grid,
                                            path)
    used = {m: {k: v for k, v in f.items() if v is not None} for m, f in filters.items()}
    return data, used
