"""Self-check of a layer-resolved atom prediction: does it explain the image, and does it look
like the material? (a verdict ``ok | doubtful | fail`` with reasons and a score in [0, 1])

Two kinds of evidence, from the image and the found atoms alone:

- **render-back** (the Gomb-Net study's Fig. 3b, :mod:`tmdlearn.stem.render`): a HAADF image
  is rendered from the found atoms (Gaussian spots, one amplitude per species, one width) and
  compared with the input, low-passed and freed of its smooth background alike; the score is
  the R² of the fit over the image and over windows of ``WINDOW_ANGSTROM`` (a map);
- **physics**, per layer (:func:`layer_checks`): the two nearest-neighbour distances of every
  atom against the material's bond (mean and FWHM, as the Gomb-Net study measures them), the
  fraction of atoms on the layer's fitted honeycomb
  (:func:`tmdlearn.stem.honeycomb.fit_honeycomb`) and their RMS distance to it, the atoms per
  nm² against the lattice's column density, and where the layer is present; plus whether all
  layers of the model are found together, and a saturated (clipped) detector.

Every figure is graded (:class:`Grade`): 1 at or better than its ``good`` value, 0.5 at its
``doubtful`` threshold, 0.25 at its ``fail`` threshold, 0 well beyond. The ``score`` is the
lowest grade; ``trust`` is ``ok`` above 0.5, ``fail`` at or below 0.25, ``doubtful`` between;
the ``reasons`` are the checks at or below 0.5, worst first. The thresholds are calibrated on
simulated images (``benchmarks/stem_quality.py``, docs/stem.md "Self-check").
Positions in pixels of the image's own grid, lengths in Å.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import median_abs_deviation

from tmdlearn.constants import LATTICE_ANGSTROM
from tmdlearn.stem.analysis import FWHM_PER_SIGMA, neighbour_distances
from tmdlearn.stem.fourier import angle_between, fft_lattices
from tmdlearn.stem.honeycomb import fit_honeycomb, fit_lattice
from tmdlearn.stem.render import WINDOW_ANGSTROM, Rendering, Windows, image_windows, render_back

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
#: up to 0.18; the issue's real image, 0.41 Å for graphene: 0.29, a fail).
BOND_FWHM = Grade(0.15, 0.22, 0.28)
#: Fraction of a layer's atoms within ON_SITE_BONDS of its fitted honeycomb.
ON_LATTICE = Grade(0.8, 0.55, 0.4)
#: RMS distance (bonds) of those atoms to their sites.
LATTICE_RMS = Grade(0.11, 0.15, 0.2)
#: |fraction of metal columns - 1/2| in a layer of a TMD (2H in projection: one metal and one
#: chalcogen column per cell; a model at the wrong scale finds the metal columns only).
METAL_BALANCE = Grade(0.08, 0.15, 0.25)
#: The metal column species of each TMD material (graphene has none).
METAL = {"ws2": "W"}
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
#: ``trust`` of a score: above OK_ABOVE ok, at or below FAIL_AT fail, doubtful between.
OK_ABOVE, FAIL_AT = 0.5, 0.25


def bond_angstrom(material: str) -> float:
    """Nearest-neighbour distance (Å) of the projected columns: graphene C–C a/√3 = 1.42 Å,
    WS2 W–chalcogen column a/√3 = 1.82 Å.

    Parameters
    ----------
    material : str
        "graphene" or "ws2" (:data:`tmdlearn.constants.LATTICE_ANGSTROM`).

    Returns
    -------
    float
        Bond length (Å).
    """
    return LATTICE_ANGSTROM[material] / np.sqrt(3)


def column_density(material: str) -> float:
    """Projected columns per Å² of one layer: 2 per hexagonal cell of area a²√3/2 (graphene:
    2 C; 2H WS2: 1 W + 1 chalcogen column).

    Parameters
    ----------
    material : str
        "graphene" or "ws2".

    Returns
    -------
    float
        Columns per Å².
    """
    return 2 / (LATTICE_ANGSTROM[material] ** 2 * np.sqrt(3) / 2)


def saturated_fraction(image: np.ndarray) -> float:
    """Fraction of pixels at the image's maximum value (0 for a constant image).

    Parameters
    ----------
    image : (H, W) array
        The HAADF image.

    Returns
    -------
    float
        In [0, 1].
    """
    values = np.asarray(image)
    top = values.max()
    return 0.0 if top == values.min() else float(np.mean(values == top))


def bond_figures(xy_px: np.ndarray, pixel_size_angstrom: float, bond: float
                 ) -> tuple[float, float]:
    """Mean and FWHM (Å) of the distances from every atom to its two nearest neighbours (the
    Gomb-Net study's bond statistic), distances above 1.5 ``bond`` left out (edges, vacancies).

    The FWHM is 2.3548 × the robust σ (1.4826 × the median absolute deviation), the FWHM of a
    Gaussian peak that outliers do not move and that needs no density estimate (the KDE FWHM
    of :func:`tmdlearn.stem.analysis.bond_statistics` takes about 30 ms a layer, as long as
    all the other checks together).

    Parameters
    ----------
    xy_px : (N, 2) array
        One layer's atom positions (px).
    pixel_size_angstrom : float
        Pixel size (Å/px).
    bond : float
        The material's bond length (Å, :func:`bond_angstrom`).

    Returns
    -------
    mean, fwhm : float
        Å; NaN when no distance is kept.
    """
    d = neighbour_distances(xy_px, pixel_size_angstrom, 2, max_angstrom=1.5 * bond)
    if not len(d):
        return float("nan"), float("nan")
    return float(d.mean()), float(FWHM_PER_SIGMA * median_abs_deviation(d, scale="normal"))


def layer_checks(atoms: pd.DataFrame, pixel_size_angstrom: float, material: str,
                 shape: tuple[int, int], layers: int) -> pd.DataFrame:
    """Physics of each layer of found atoms.

    One row per layer with atoms, bond mean and FWHM (Å, the two nearest neighbours of every
    atom, distances above 1.5 bonds left out), on-lattice fraction and RMS distance (bonds) to
    the fitted honeycomb, stacked (fraction within ``STACKED_BONDS`` of another layer's atom),
    metal fraction (TMDs: of the columns; NaN for graphene), density ratio (atoms per nm² over
    the windows holding the layer, or over all windows where none does, / the lattice's), and
    coverage (fraction of windows holding the layer).

    Parameters
    ----------
    atoms : DataFrame
        Found atoms: ``x_px``, ``y_px`` (pixels), ``layer`` and ``species``.
    pixel_size_angstrom : float
        Pixel size, Å.
    material : str
        ``graphene`` or ``ws2`` (:data:`tmdlearn.constants.LATTICE_ANGSTROM`).
    shape : (ny, nx)
        Image size, pixels.
    layers : int
        Layers of the model.

    Returns
    -------
    DataFrame
        One row per layer, with the ``present`` mask of windows (layers, n_y, n_x) in
        ``attrs``.
    """
    pix = float(pixel_size_angstrom)
    windows = image_windows(shape, pix)
    rows_out, present = [], []
    for layer in range(layers):
        row, here = _layer_row(atoms, layer, pix, material, windows)
        rows_out.append(row)
        present.append(here)
    table = pd.DataFrame(rows_out)
    table.attrs["present"] = np.stack(present) if present else \
        np.zeros((0, windows.n_y, windows.n_x), bool)
    return table


def _layer_row(atoms: pd.DataFrame, layer: int, pix: float, material: str, windows: Windows
               ) -> tuple[dict[str, float], np.ndarray]:
    """The figures of one layer (a row of :func:`layer_checks`) and its ``present`` windows."""
    bond = bond_angstrom(material)
    n_y, n_x, window = windows.n_y, windows.n_x, windows.side
    expected = column_density(material) * (window * pix) ** 2
    mine = atoms.layer == layer
    xy = atoms.loc[mine, ["x_px", "y_px"]].to_numpy(float)
    metal = float((atoms.loc[mine, "species"] == METAL[material]).mean()) \
        if material in METAL and mine.any() else float("nan")
    others = atoms.loc[atoms.layer != layer, ["x_px", "y_px"]].to_numpy(float)
    stacked = float(np.mean(cKDTree(others).query(xy)[0] < STACKED_BONDS * bond / pix)) \
        if len(others) and len(xy) else 0.0
    bond_mean, bond_fwhm = bond_figures(xy, pix, bond)
    iy = np.floor((xy[:, 1] - windows.rows.start) / window).astype(int)
    ix = np.floor((xy[:, 0] - windows.cols.start) / window).astype(int)
    inside = (iy >= 0) & (iy < n_y) & (ix >= 0) & (ix < n_x)
    counts = np.bincount(iy[inside] * n_x + ix[inside], minlength=n_y * n_x)
    here = counts.reshape(n_y, n_x) >= PRESENT * expected
    on_fraction, rms = _on_lattice(xy)
    row = {"layer": layer, "atoms": len(xy), "bond_mean_angstrom": bond_mean,
           "bond_fwhm_angstrom": bond_fwhm, "on_lattice": on_fraction,
           "lattice_rms_bonds": rms, "stacked": stacked, "metal_fraction": metal,
           "density_ratio": float(counts.reshape(n_y, n_x)[here].sum() / (here.sum() * expected)
                                  if here.any() else counts.sum() / (n_y * n_x * expected)),
           "coverage": float(here.mean())}
    return row, here


def _on_lattice(xy: np.ndarray) -> tuple[float, float]:
    """Fraction of the atoms ``xy`` (pixels) within ``ON_SITE_BONDS`` of their fitted
    honeycomb and the RMS distance (bonds) of those to their sites (0 and NaN without a fit)."""
    fit = fit_honeycomb(xy)
    on_fraction, rms = 0.0, float("nan")
    if fit is not None:
        dist = fit.sites(xy)[0] / fit.bond_px
        on = dist < ON_SITE_BONDS
        on_fraction = float(on.mean())
        rms = float(np.sqrt(np.mean(dist[on] ** 2))) if on.any() else float("nan")
    return on_fraction, rms


def _fourier_checks(image: np.ndarray, atoms: pd.DataFrame, pix: float, material: str,
                    table: pd.DataFrame) -> list[tuple[str, float, str]]:
    """Every clear lattice of the image's Fourier transform (at least ``FOURIER_SPOTS`` of its
    six spots) against the nearest found layer's honeycomb; none when the transform shows no
    clear lattice (low dose, amorphous). A layer the transform does not show is not judged
    here: a weak layer's spots may be lost in the noise."""
    seen = [f for f in fft_lattices(image, pix, LATTICE_ANGSTROM[material])
            if f.spots >= FOURIER_SPOTS]
    found = [fit_lattice(atoms.loc[atoms.layer == row.layer, ["x_px", "y_px"]].to_numpy(float))
             for row in table.itertuples() if row.atoms >= 10]
    found = [np.degrees(f.angle_rad) % 60 for f in found if f is not None]
    checks = []
    for k, lattice in enumerate(seen if found else []):
        angle = min(angle_between(lattice.angle_deg, layer) for layer in found)
        checks.append((f"fourier{k}", FOURIER_ANGLE(angle),
                       f"the image's Fourier transform shows a lattice {angle:.1f}° from every "
                       "found layer's honeycomb"))
    return checks


@dataclass
class Quality:
    """The self-check of one prediction: ``trust`` (ok | doubtful | fail), ``score`` in
    [0, 1], ``reasons`` (sentences, worst first), the measured ``figures`` (whole image) and
    ``layers`` (per layer), the ``grades`` of every check, and the R² map (windows of
    ``WINDOW_ANGSTROM``)."""

    trust: str
    score: float
    reasons: list[str]
    figures: dict[str, float]
    layers: pd.DataFrame
    grades: dict[str, float]
    r2_map: np.ndarray = field(repr=False)
    rendering: Rendering | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: everything but the rendered image (NaN as None).

        Returns
        -------
        dict
            trust, score, reasons, figures, layers (one dict per layer), grades and the R² map
            with its window side (Å).
        """
        def clean(value):
            if isinstance(value, float) and not np.isfinite(value):
                return None
            return value

        return {"trust": self.trust, "score": round(self.score, 4), "reasons": self.reasons,
                "figures": {k: clean(v) for k, v in self.figures.items()},
                "layers": [{k: clean(v) for k, v in row.items()}
                           for row in self.layers.to_dict("records")],
                "grades": {k: round(v, 4) for k, v in self.grades.items()},
                "r2_map_window_angstrom": WINDOW_ANGSTROM,
                "r2_map": [[clean(round(float(v), 4)) for v in row] for row in self.r2_map]}

    @property
    def main_reason(self) -> str:
        """The worst reason ("" when there is none)."""
        return self.reasons[0] if self.reasons else ""


def _verdict(score: float) -> str:
    return "ok" if score > OK_ABOVE else "fail" if score <= FAIL_AT else "doubtful"


def assess(image: np.ndarray, atoms: pd.DataFrame, pixel_size_angstrom: float,
           material: str = "graphene", layers: int = 2) -> Quality:
    """The self-check of a layer-resolved atom prediction (see module doc).

    Never raises for a bad image or prediction: that is what the verdict says.

    Parameters
    ----------
    image : (ny, nx) array
        The HAADF image the atoms were found in.
    atoms : DataFrame
        Found atoms: ``x_px``, ``y_px`` (pixels), ``layer`` and ``species``.
    pixel_size_angstrom : float
        Pixel size, Å.
    material : str
        The model's material, ``graphene`` or ``ws2``.
    layers : int
        Layers of the model.

    Returns
    -------
    Quality
        ``trust``, ``score`` in [0, 1], the reasons, figures, per-layer table and grades.
    """
    image = np.asarray(image)
    pix = float(pixel_size_angstrom)
    rendering = render_back(image, atoms, pix)
    table = layer_checks(atoms, pix, material, image.shape, layers)
    present = table.attrs["present"]
    figures = {"render_r2": rendering.r2, "render_width_angstrom": rendering.width_angstrom,
               "saturated_fraction": saturated_fraction(image),
               "all_layers_coverage": float(present.all(axis=0).mean()) if layers else 0.0,
               "atoms": len(atoms), "pixel_size_angstrom": pix}
    checks = _image_checks(figures, layers)
    for row in table.itertuples():
        checks += _layer_grades(row, material)
    checks += _fourier_checks(image, atoms, pix, material, table)
    grades = {name: grade for name, grade, _ in checks}
    score = min(grades.values())
    worst = sorted((c for c in checks if c[1] <= OK_ABOVE), key=lambda c: c[1])
    reasons = [reason for _, _, reason in worst]
    lone = _lone_layer(grades, layers)
    if lone is not None:
        reasons.insert(0, f"only layer {lone} looks like a crystal layer: a monolayer, or the "
                          "other layer not resolved")
    return Quality(_verdict(score), float(score), reasons, figures, table, grades,
                   rendering.r2_map, rendering)


def _image_checks(figures: dict[str, float], layers: int) -> list[tuple[str, float, str]]:
    """The whole-image checks (name, grade, reason): render-back R², saturation and, for a
    model of several layers, how much of the field holds them all."""
    r2 = figures["render_r2"]
    checks = [
        ("render_r2", RENDER_R2(r2),
         f"rendered image explains {100 * max(r2, 0):.0f} % of the input (R² {r2:.2f})"),
        ("saturated", SATURATED(figures["saturated_fraction"]),
         f"saturated detector: {100 * figures['saturated_fraction']:.1f} % of the pixels at "
         "the maximum value"),
    ]
    if layers > 1:
        checks.append(("all_layers", ALL_LAYERS(figures["all_layers_coverage"]),
                       f"{'both' if layers == 2 else f'all {layers}'} layers found together "
                       "in only "
                       f"{100 * figures['all_layers_coverage']:.0f} % of the field"))
    return checks


def _layer_grades(row, material: str) -> list[tuple[str, float, str]]:
    """The checks (name, grade, reason) of one row of :func:`layer_checks`."""
    bond = bond_angstrom(material)
    name = f"layer {row.layer}"
    if row.atoms < 10:
        return [(f"layer{row.layer}_atoms", 0.0, f"{name}: {row.atoms} atoms found")]
    deviation = abs(row.bond_mean_angstrom / bond - 1)
    return [
        (f"layer{row.layer}_bond_mean", BOND_MEAN(deviation),
         f"{name}: nearest-neighbour mean {row.bond_mean_angstrom:.2f} Å, expected "
         f"{bond:.2f} ± {BOND_MEAN.doubtful * bond:.2f} Å"),
        (f"layer{row.layer}_bond_fwhm", BOND_FWHM(row.bond_fwhm_angstrom / bond),
         f"{name}: nearest-neighbour FWHM {row.bond_fwhm_angstrom:.2f} Å, expected below "
         f"{BOND_FWHM.doubtful * bond:.2f} Å"),
        (f"layer{row.layer}_on_lattice", ON_LATTICE(row.on_lattice),
         f"{name}: {100 * row.on_lattice:.0f} % of the atoms on a honeycomb"),
        (f"layer{row.layer}_lattice_rms", LATTICE_RMS(row.lattice_rms_bonds),
         f"{name}: atoms {row.lattice_rms_bonds:.2f} bonds (rms) off the fitted honeycomb"),
        (f"layer{row.layer}_stacked", STACKED(row.stacked),
         f"{name}: {100 * row.stacked:.0f} % of the atoms on top of another layer's (one "
         "layer found twice?)"),
        *([(f"layer{row.layer}_metal", METAL_BALANCE(abs(row.metal_fraction - 0.5)),
            f"{name}: {100 * row.metal_fraction:.0f} % {METAL[material]} columns, "
            "expected 50 %")] if material in METAL else []),
        (f"layer{row.layer}_density", DENSITY(row.density_ratio) if row.coverage > 0
         else min(DENSITY(row.density_ratio), DENSITY_NOWHERE(row.density_ratio)),
         f"{name}: {100 * row.density_ratio:.0f} % of the expected atoms per nm²"
         + (" where found" if row.coverage > 0 else "")),
    ]


def _lone_layer(grades: dict[str, float], layers: int) -> int | None:
    """The one layer whose checks all pass while every other layer fails one (a bilayer model
    on a monolayer invents or splits the second layer), else None."""
    per_layer = [min((g for name, g in grades.items() if name.startswith(f"layer{k}_")),
                     default=0.0) for k in range(layers)]
    passing = [k for k, g in enumerate(per_layer) if g > OK_ABOVE]
    if layers > 1 and len(passing) == 1 and all(g <= FAIL_AT for k, g in enumerate(per_layer)
                                                 if k != passing[0]):
        return passing[0]
    return None
