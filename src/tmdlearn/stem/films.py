"""The 2H TMD films the WS2 model reads, and the column species of Mo-based films.

The shipped TMD model was trained on WS2(1-x)Se2x, where the W columns are by far the
brightest (S2 : SSe : Se2 ≈ 0.18 : 0.44 : 0.67 of W at 70-200 mrad). It finds the columns of
MoS2 and MoSe2 films as well, but Mo (Z 42) is much dimmer than W (74): in MoS2 the S2 columns
are about 0.4 of Mo, which the model calls SSe, and in MoSe2 the Se2 columns outshine Mo
(about 1.7 ×), so the model calls the Se2 sublattice "W" and the Mo one "Se2". For a Mo film
the species are therefore re-read from the image (:func:`film_species`): each layer's two
sublattices (its fitted honeycomb), each column's height by a joint Gaussian fit at the found
positions (:func:`tmdlearn.stem.refine.column_heights`), the Mo sublattice the brighter one in
a sulphide film (``mos2``), the dimmer one in a selenide (``mose2``) unless that one's heights
scatter like an alloy's chalcogens (:data:`MIXED_SPREAD`) and, in an alloy (``mos2-mose2``),
the one whose heights scatter less while the other's sit nearer the chalcogen levels; each
chalcogen column's species from its height against the layer's median Mo height, at the
levels the simulator's abTEM-calibrated Z contrast gives (:data:`MO_LEVELS`), raised to the
power γ that puts a pure film's own chalcogen at its measured ratio (:data:`GAMMA_RANGE`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmdlearn.constants import METALS
from tmdlearn.errors import InputError
from tmdlearn.stem.honeycomb import fit_honeycomb
from tmdlearn.stem.refine import column_heights
from tmdlearn.synth.specimen import (
    SPECIES,
    WS2_METAL_Z_OFFSET,
    WS2_Z_EXPONENT,
    column_weights,
)


@dataclass(frozen=True)
class Film:
    """A TMD film: its metal ("W" or "Mo") and its nominal Se fraction (0 a sulphide, 1 a
    selenide, None an alloy of unknown composition)."""

    metal: str
    se_fraction: float | None


#: Film names ``--material`` takes besides "graphene" and "ws2" (all read by the WS2 model).
FILMS = {"ws2": Film("W", 0.0), "wse2": Film("W", 1.0), "ws2-wse2": Film("W", None),
         "mos2": Film("Mo", 0.0), "mose2": Film("Mo", 1.0), "mos2-mose2": Film("Mo", None)}
#: Fewest well-fitted columns a sublattice needs for its median height.
MIN_COLUMNS = 5
#: Interquartile range / median of a sublattice's column heights above which it holds columns
#: of several kinds (an alloy's chalcogens): on simulated monolayers a metal sublattice scatters
#: 0.06-0.15, a pure chalcogen one 0.09-0.27, an alloy's 0.3-1.5.
MIXED_SPREAD = 0.35
#: Bounds of the contrast exponent γ (:func:`_contrast`): a detector's non-linear response or
#: another annular range raises the chalcogen/Mo ratios to a power (abTEM over 50-90 mrad inner
#: angles: S2/Mo 0.34-0.57, Se2/Mo 1.37-1.95, γ 0.58-1.34 of the middle levels; the simulator's
#: pure films 0.78-1.37; the real ones 0.55 and 1.18). A pure film named as the other one reads
#: γ × 0.67 (a MoSe2 named mos2) or × 1.49 (a MoS2 named mose2): outside, it is said.
GAMMA_RANGE = (0.45, 1.5)
#: A column on its honeycomb site lies within this many bonds of it.
ON_SITE_BONDS = 0.3


def _levels(metal: str) -> dict[str, float]:
    """Chalcogen column heights relative to the metal's, at the middle of the simulator's
    abTEM-calibrated Z exponents (:data:`WS2_Z_EXPONENT`, :data:`WS2_METAL_Z_OFFSET`)."""
    n = float(np.mean(WS2_Z_EXPONENT))
    weights = column_weights(np.arange(4), n, n - float(np.mean(WS2_METAL_Z_OFFSET)), metal)
    return dict(zip(SPECIES["ws2"][1:], weights[1:] / weights[0], strict=True))


#: Chalcogen column height / Mo column height of S2, SSe and Se2 (about 0.43, 1.06, 1.69).
MO_LEVELS = _levels("Mo")


def film_of(material: str | None) -> Film | None:
    """The film that ``--material`` names (None for graphene or no name).

    Parameters
    ----------
    material : str or None
        A material name, any case.

    Returns
    -------
    Film or None
    """
    return FILMS.get(str(material).lower()) if material else None


def model_material(material: str | None) -> str | None:
    """The shipped model's material for ``material``: "ws2" for every TMD film, else as
    given (lower case; None stays None).

    Parameters
    ----------
    material : str or None
        "graphene" or a film name of :data:`FILMS`.

    Returns
    -------
    str or None
    """
    if material is None:
        return None
    return "ws2" if film_of(material) else str(material).lower()


def check_material(material: str | None) -> None:
    """InputError unless ``material`` is None, graphene or a film of :data:`FILMS`.

    Parameters
    ----------
    material : str or None
        The ``--material`` value.
    """
    if material is not None and str(material).lower() not in ("graphene", *FILMS):
        raise InputError(f"model.material (--material) must be graphene or one of "
                         f"{', '.join(FILMS)}, got {material!r}")


def _sublattices(layer: pd.DataFrame) -> np.ndarray:
    """0 for the columns on the model's metal sublattice, 1 for the other: the layer's fitted
    honeycomb sites where a column sits on one (labelled to agree with the model's metal
    columns), the model's labels elsewhere or when no honeycomb fits."""
    model_metal = layer.species.isin(METALS).to_numpy()
    fallback = (~model_metal).astype(int)
    xy = layer[["x_px", "y_px"]].to_numpy(float)
    fit = fit_honeycomb(xy) if len(xy) >= 10 else None
    if fit is None:
        return fallback
    dist, frac = fit.sites(xy)
    on = dist < ON_SITE_BONDS * fit.bond_px
    second = (np.round(3 * frac[:, 0]).astype(int) % 3 != 0).astype(int)
    if on.any() and np.mean(model_metal[on] == (second[on] == 0)) < 0.5:
        second = 1 - second
    return np.where(on, second, fallback)


def _log_distances(ratio: np.ndarray, levels: dict[str, float]) -> np.ndarray:
    """Distances (n, levels) in log ratio of chalcogen/Mo height ratios (n,) from ``levels``
    (NaN for NaN or non-positive ratios)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(np.log(ratio)[:, None] - np.log(list(levels.values()))[None, :])


def _misfit(ratio: np.ndarray) -> float:
    """Median distance in log ratio of chalcogen/Mo height ratios from the nearest level."""
    return float(np.median(_log_distances(ratio, MO_LEVELS).min(axis=1)))


def _spread(heights: np.ndarray) -> float:
    """Interquartile range of heights over their median."""
    return float(np.subtract(*np.percentile(heights, [75, 25])) / np.median(heights))


def _chalcogen(ratio: np.ndarray, levels: dict[str, float]) -> np.ndarray:
    """S2, SSe or Se2 for chalcogen/Mo height ratios: the nearest of ``levels`` in log ratio
    (NaN or non-positive ratios: "")."""
    nearest = np.nan_to_num(_log_distances(ratio, levels), nan=np.inf).argmin(axis=1)
    return np.where(np.isfinite(ratio) & (ratio > 0), np.array(list(levels))[nearest], "")


def _metal_sublattice(film: Film, median: np.ndarray, spread: np.ndarray,
                      found: list[np.ndarray]) -> tuple[int, str]:
    """Which sublattice (0, 1) holds Mo (module doc), and a clause on any doubt."""
    bright = int(np.argmax(median))
    if film.se_fraction is None:
        cost = [_misfit(found[1 - k] / median[k]) + spread[k] for k in (0, 1)]
        return int(np.argmin(cost)), (
            "; both sublattices are uniform, as in a pure sulphide or selenide, which look "
            "alike here: name the film (--material mos2 or mose2)"
            if spread.max() < MIXED_SPREAD else "")
    metal = bright if film.se_fraction < 0.5 else 1 - bright
    if spread[metal] > MIXED_SPREAD and spread[metal] > 2 * spread[1 - metal]:
        pure = "MoS2" if film.se_fraction < 0.5 else "MoSe2"
        return 1 - metal, (f"; not the sublattice a pure {pure} would give: its columns have "
                           "several brightnesses (an alloy's chalcogens)")
    return metal, ""


def _contrast(se_fraction: float | None, contrast: float, spread: float) -> float | None:
    """The exponent γ that takes the Z-contrast levels to this image's (levels ** γ): a pure
    film's uniform chalcogen sublattice is its nominal column (S2 below ``se_fraction`` 0.5,
    else Se2) at ``contrast`` × Mo; None for an alloy or a mixed sublattice (no reference)."""
    if se_fraction is None or spread > MIXED_SPREAD or not contrast > 0:
        return None
    nominal = MO_LEVELS["S2" if se_fraction < 0.5 else "Se2"]
    return float(np.log(contrast) / np.log(nominal))


def _implausible(film: Film, contrast: float, gamma: float) -> str:
    """Why a pure film's contrast γ outside :data:`GAMMA_RANGE` doubts the reading: another
    film named (the other pure one, when its γ would fit) or a wrong pixel size."""
    low, high = GAMMA_RANGE
    named, other = ("MoS2", "mose2") if film.se_fraction < 0.5 else ("MoSe2", "mos2")
    theirs = _contrast(1 - film.se_fraction, 1 / contrast, 0.0)
    hint = (f"another film (--material {other})" if theirs is not None and low <= theirs <= high
            else "not a Mo film")
    return (f"chalcogen columns {contrast:.2f} × Mo: no detector gives that for {named} "
            f"(contrast γ {gamma:.2f}, outside {low:g}-{high:g}): {hint}, or a wrong pixel size")


def film_species(image: np.ndarray, atoms: pd.DataFrame, pixel_size_angstrom: float,
                 film: Film | None) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``atoms`` with the species of a Mo film read from the image (module doc); a W film's,
    or any other material's (``film`` None), as the model found them.

    Parameters
    ----------
    image : (ny, nx) array
        The HAADF image (counts or any linear unit).
    atoms : DataFrame
        The model's atoms: x_px, y_px (px of ``image``), layer and species (W, S2, SSe, Se2).
    pixel_size_angstrom : float
        Pixel size, Å.
    film : Film or None
        The film (:data:`FILMS`; :func:`film_of`).

    Returns
    -------
    atoms, notes, doubts
        The atoms with species Mo, S2, SSe or Se2 (a chalcogen column whose height is
        ill-posed, e.g. one overlapping another layer's, gets its layer's most common
        chalcogen species), one note per layer on what was decided, and why the reading is
        doubtful (a pure film's contrast no detector gives: :func:`_implausible`), if it is.
    """
    if film is None or film.metal != "Mo" or atoms.empty:
        return atoms, [], []
    heights = column_heights(image, atoms, pixel_size_angstrom)
    out, notes, doubts = atoms.copy(), [], []
    for layer, index in atoms.groupby("layer").groups.items():
        sub, h = _sublattices(atoms.loc[index]), heights[atoms.index.get_indexer(index)]
        found = [h[(sub == k) & np.isfinite(h) & (h > 0)] for k in (0, 1)]
        if min(len(f) for f in found) < MIN_COLUMNS:
            out.loc[index, "species"] = np.where(sub == 0, "Mo",
                                                 out.loc[index, "species"].to_numpy())
            notes.append(f"layer {layer}: too few well-fitted columns to tell Mo from the "
                         f"chalcogens by brightness: the model's labels kept (W read as Mo)")
            continue
        median = np.array([np.median(f) for f in found])
        spread = np.array([_spread(f) for f in found])
        metal, doubt = _metal_sublattice(film, median, spread, found)
        contrast = median[1 - metal] / median[metal]
        raw = None if doubt else _contrast(film.se_fraction, contrast, spread[1 - metal])
        gamma = 1.0 if raw is None else float(np.clip(raw, *GAMMA_RANGE))
        if raw is not None and raw != gamma:
            doubts.append(f"layer {layer}: " + _implausible(film, contrast, raw))
        levels = {k: v ** gamma for k, v in MO_LEVELS.items()}
        chalcogen = _chalcogen(h / median[metal], levels)
        clear = chalcogen[(sub != metal) & (chalcogen != "")]
        common = pd.Series(clear).mode().iloc[0] if len(clear) else "S2"
        out.loc[index, "species"] = np.where(sub == metal, "Mo",
                                             np.where(chalcogen == "", common, chalcogen))
        side = "brighter" if metal == int(np.argmax(median)) else "dimmer"
        notes.append(f"layer {layer}: Mo on the {side} sublattice; chalcogen columns "
                     f"{contrast:.2f} × Mo; levels S2 {levels['S2']:.2f}, SSe "
                     f"{levels['SSe']:.2f}, Se2 {levels['Se2']:.2f}"
                     + (f" (detector contrast γ {gamma:.2f} from the film's own columns)"
                        if gamma != 1.0 else "") + doubt)
    return out, notes, doubts
