"""The grades of the STEM self-check (:mod:`tmdlearn.stem.quality`): how each measured figure
maps to a grade in [0, 1], and the calibrated anchors of every check.

Every figure is graded (:class:`Grade`): 1 at or better than its ``good`` value, 0.5 at its
``doubtful`` threshold, 0.25 at its ``fail`` threshold, 0 well beyond. The thresholds are
calibrated on simulated images (``benchmarks/stem_quality.py``, docs/stem.md "Self-check").
Lengths in Å or in bonds of the material.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tmdlearn.constants import METALS

#: A window holds a layer when it holds this fraction of the layer's expected atoms.
PRESENT = 0.5
#: Distance (bonds) within which an atom counts as on its layer's fitted honeycomb.
ON_SITE_BONDS = 0.25
#: Distance (bonds) within which an atom sits on top of another layer's atom (a twisted
#: bilayer has about 5 % of its atoms so by chance).
STACKED_BONDS = 0.15


class Grade(NamedTuple):
    """Anchors of one check's grade: the value graded 1 (``good``), 0.5 (``doubtful``) and
    0.25 (``fail``); the grade falls to 0 at ``fail + 2 (fail - doubtful)``. ``good > fail``
    means larger is better."""

    good: float
    doubtful: float
    fail: float

    def __call__(self, value: float) -> float:
        """The grade in [0, 1] of ``value`` (NaN grades 0)."""
        if not np.isfinite(value):
            return 0.0
        sign = 1.0 if self.fail > self.good else -1.0
        far = self.fail + 2 * (self.fail - self.doubtful)
        points = sign * np.array([self.good, self.doubtful, self.fail, far])
        return float(np.interp(sign * value, points, [1.0, 0.5, 0.25, 0.0]))


#: R² of the rendering against the (low-passed, background-free) input, whole image. Lenient:
#: true atoms under thick amorphous carbon (30-40 % of the field) explain only 0.1-0.2.
RENDER_R2 = Grade(0.3, 0.1, 0.03)
#: Fraction of pixels at the image's maximum value (a saturated or clipped detector).
SATURATED = Grade(0.0005, 0.005, 0.05)
#: |mean of the two nearest-neighbour distances / bond - 1|, per layer. Passes: the pixel size
#: calibration (a few %), scan distortion (up to 5 %) and the bias of the two shortest of three
#: bonds under position noise σ (about -0.67 σ: -5 % at σ = 0.1 Å); 30 % off fails.
BOND_MEAN = Grade(0.05, 0.1, 0.15)
#: FWHM of the nearest-neighbour distances / bond, per layer (true atoms of realistic images:
#: up to 0.18 on small fields; the issue's real image, 0.41 Å for graphene: 0.29, a fail).
BOND_FWHM = Grade(0.15, 0.22, 0.28)
#: A layer of at least this many atoms has its FWHM graded by BOND_FWHM_PRECISE: the robust σ
#: of n distances scatters by about 1.16/√n (5 % at 500 atoms; 20 % at the 33 atoms of a
#: 96 px field, where correct predictions reach 0.19 bonds by that scatter alone).
PRECISE_ATOMS = 500
#: BOND_FWHM for a layer of PRECISE_ATOMS or more: good up to issue #18's bar for a real
#: graphene image (FWHM 0.15 Å = 0.106 bonds), doubtful at 0.12 (that bar plus twice the 5 %
#: scatter of the estimate at 500 atoms). Good predictions of its 512 px real-like image reach
#: 0.10 (``benchmarks/stem_real_like_diagnose.py``, the session-11 model); a defocused,
#: astigmatic probe there scatters the atoms to 0.12-0.16 (RMS error 0.15 Å): doubtful.
BOND_FWHM_PRECISE = Grade(0.106, 0.12, 0.28)
#: Fraction of a layer's atoms within ON_SITE_BONDS of its fitted honeycomb.
ON_LATTICE = Grade(0.8, 0.55, 0.4)
#: RMS distance (bonds) of those atoms to their sites.
LATTICE_RMS = Grade(0.11, 0.15, 0.2)
#: |fraction of metal columns - 1/2| in a layer of a TMD (2H in projection: one metal and one
#: chalcogen column per cell; a model at the wrong scale finds the metal columns only), for a
#: layer of at most METAL_ATOMS atoms; larger layers: :func:`metal_balance`.
METAL_BALANCE = Grade(0.08, 0.15, 0.25)
#: The two sublattices of a correctly found layer differ by its edge in the field, which grows
#: as the field's side: their imbalance shrinks as 1/√n with the layer's atoms n. On 384 px
#: fields (350-800 atoms a layer) correct predictions stay within 0.05 of 1/2, while a
#: near-aligned bilayer whose chalcogen columns the model left on the other layer's reached
#: 0.10 (``benchmarks/stem_quality.py --size 384 --twist 0 6``, docs/stem.md).
METAL_ATOMS = 100
#: The smallest fraction of METAL_BALANCE's good and doubtful anchors :func:`metal_balance` uses.
METAL_FLOOR = 0.5


def metal_balance(atoms: int) -> Grade:
    """METAL_BALANCE for a layer of ``atoms`` atoms: its good and doubtful anchors shrink as
    1/√atoms above METAL_ATOMS atoms, to METAL_FLOOR of them (0.04 and 0.075 from 400 atoms);
    the fail anchor stays.

    Parameters
    ----------
    atoms : int
        Atoms of the layer.

    Returns
    -------
    Grade
        The grade of |W fraction - 1/2|.
    """
    factor = float(np.clip(np.sqrt(METAL_ATOMS / max(atoms, 1)), METAL_FLOOR, 1.0))
    return Grade(METAL_BALANCE.good * factor, METAL_BALANCE.doubtful * factor,
                 METAL_BALANCE.fail)
#: The metal column species of each TMD model's films (graphene has none).
METAL = {"ws2": METALS}
#: Atoms per nm² of a layer over the windows that hold it / the lattice's (too many: false or
#: doubled atoms; too few is what edges and holes do, left to ALL_LAYERS).
DENSITY = Grade(1.15, 1.3, 1.6)
#: The same over the whole field for a layer that no window holds (too few atoms everywhere, or
#: a patch smaller than a window): doubtful at worst (0 grades 0.33), as ALL_LAYERS.
DENSITY_NOWHERE = Grade(0.6, 0.45, -0.2)
#: Fraction of a layer's atoms within STACKED_BONDS of another layer's: one layer found twice
#: (a bilayer model on a monolayer); AB (Bernal) stacking puts half of them there.
STACKED = Grade(0.2, 0.35, 0.6)
#: Fraction of the field's windows holding every layer of the model (a bilayer model on a
#: monolayer finds one layer, or splits the monolayer into patches). Doubtful at worst (0 grades
#: 0.375): a true bilayer may cover little of the field.
ALL_LAYERS = Grade(0.25, 0.1, -0.1)
#: Angle (°) between a clear lattice of the image's Fourier transform
#: (:func:`tmdlearn.stem.fourier.fft_lattices`, at least FOURIER_SPOTS spots) and the nearest
#: found layer's honeycomb (bond orientation): scan distortion turns spots by a few degrees.
FOURIER_ANGLE = Grade(4.0, 8.0, 15.0)
#: Spots (of six) a lattice of the Fourier transform needs to be judged against the layers.
FOURIER_SPOTS = 4
#: Relative distance of the given pixel size from the one the image's own lattice implies for
#: the material (:func:`tmdlearn.stem.fourier.lattice_spacing_px`; a range for the WS2 model's
#: 3.15-3.29 Å lattices): a calibration a few % off is common, 30 % off is a wrong pixel size.
PIXEL_SIZE = Grade(0.10, 0.15, 0.25)
#: The grade of a Mo film whose chalcogen / Mo contrast no detector gives for the film named
#: (:func:`tmdlearn.stem.films.film_species`' doubts): doubtful, not fail.
FILM_CONTRAST = 0.4
#: ``trust`` of a score: above OK_ABOVE ok, at or below FAIL_AT fail, doubtful between.
OK_ABOVE, FAIL_AT = 0.5, 0.25
