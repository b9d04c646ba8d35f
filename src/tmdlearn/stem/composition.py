"""Lattice constants and composition of layer-resolved atoms: the lattice constant (Å) from the
first neighbour shell, the Se fraction of WS2(1-x)Se2x by Vegard's law and counted from the
column species.

Positions come in pixels (x_px, y_px) and are converted with the pixel size in Å.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmdlearn.constants import A_WS2_ANGSTROM, A_WSE2_ANGSTROM
from tmdlearn.stem.bonds import neighbour_distances


def lattice_constant(xy_px: np.ndarray, pixel_size_angstrom: float,
                     sublattice: str = "triangular") -> float:
    """Lattice constant (Å) from the median distance to the first neighbour shell.

    All shell distances count (not only the nearest, which is biased short by position noise);
    distances beyond 1.25 x the median nearest one (missing neighbours at edges and vacancies)
    are dropped.

    Parameters
    ----------
    xy_px : (N, 2) array
        Site positions (px).
    pixel_size_angstrom : float
        Pixel size (Å/px).
    sublattice : str
        "triangular" (one atom per cell: W sites, 6 neighbours at a) or "honeycomb" (graphene
        C sites: 3 neighbours at a / sqrt(3)).

    Returns
    -------
    float
        Lattice constant a (Å); NaN without neighbours.
    """
    k, factor = {"triangular": (6, 1.0), "honeycomb": (3, np.sqrt(3.0))}[sublattice]
    nearest = neighbour_distances(xy_px, pixel_size_angstrom, k=1)
    if not nearest.size:
        return float("nan")
    shell = neighbour_distances(xy_px, pixel_size_angstrom, k=k,
                                max_angstrom=1.25 * float(np.median(nearest)))
    return float(np.median(shell) * factor)


def vegard_se_fraction(a_angstrom: float, a_ws2: float = A_WS2_ANGSTROM,
                       a_wse2: float = A_WSE2_ANGSTROM) -> float:
    """Se fraction x of WS2(1-x)Se2x from its lattice constant by Vegard's law (not clipped).

    Parameters
    ----------
    a_angstrom : float
        Measured lattice constant (Å).
    a_ws2, a_wse2 : float
        Lattice constants of WS2 and WSe2 (Å).

    Returns
    -------
    float
        x (0: WS2, 1: WSe2).
    """
    return (a_angstrom - a_ws2) / (a_wse2 - a_ws2)


#: Se atoms in a chalcogen column of each species (two chalcogen atoms per column).
SE_PER_COLUMN = {"S2": 0, "SSe": 1, "Se2": 2}


def species_se_fraction(species: pd.Series | np.ndarray) -> float:
    """Se fraction x of WS2(1-x)Se2x counted from column species (W, S2, SSe, Se2): Se atoms
    over all chalcogen atoms.

    Parameters
    ----------
    species : Series or array of str
        Column species; W columns do not count.

    Returns
    -------
    float
        x in [0, 1]; NaN without chalcogen columns.
    """
    counts = pd.Series(np.asarray(species)).map(SE_PER_COLUMN).dropna()
    return float(counts.sum() / (2 * len(counts))) if len(counts) else float("nan")
