"""Self-check of a layer-resolved atom prediction: does it explain the image, and does it look
like the material? (a verdict ``ok | doubtful | fail`` with reasons and a score in [0, 1])

Two kinds of evidence, from the image and the found atoms alone:

- **render-back** (the Gomb-Net study's Fig. 3b, :mod:`tmdlearn.stem.render`): a HAADF image
  is rendered from the found atoms (Gaussian spots, one amplitude per species, one width) and
  compared with the input, low-passed and freed of its smooth background alike; the score is
  the R² of the fit over the image and over windows of ``WINDOW_ANGSTROM`` (a map);
- **physics**, per layer (:func:`~tmdlearn.stem.layer_checks.layer_checks`): the two
  nearest-neighbour distances of every atom against the material's bond (mean and FWHM, as the
  Gomb-Net study measures them), the fraction of atoms on the layer's fitted honeycomb
  (:func:`tmdlearn.stem.honeycomb.fit_honeycomb`) and their RMS distance to it, the atoms per
  nm² against the lattice's column density, and where the layer is present; plus whether all
  layers of the model are found together, and a saturated (clipped) detector.

Every figure is graded (:class:`~tmdlearn.stem.grades.Grade`, with the anchors of every check
in :mod:`tmdlearn.stem.grades`; the names of that module and of
:mod:`tmdlearn.stem.layer_checks` are importable from here too): 1 at or better than its
``good`` value, 0.5 at its ``doubtful`` threshold, 0.25 at its ``fail`` threshold, 0 well
beyond. The ``score`` is the lowest grade; ``trust`` is ``ok`` above 0.5, ``fail`` at or below
0.25, ``doubtful`` between; the ``reasons`` are the checks at or below 0.5, worst first. The
thresholds are calibrated on simulated images (``benchmarks/stem_quality.py``, docs/stem.md
"Self-check").
Positions in pixels of the image's own grid, lengths in Å.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tmdlearn.constants import LATTICE_ANGSTROM
from tmdlearn.stem.fourier import (
    MATERIAL_NAMES,
    angle_between,
    fft_lattices,
    fft_twist_deg,
    implied_pixel_sizes,
    lattice_spacing_px,
    pixel_size_text,
)
from tmdlearn.stem.grades import (
    ALL_LAYERS,
    BOND_FWHM,
    BOND_FWHM_PRECISE,
    BOND_MEAN,
    DENSITY,
    DENSITY_NOWHERE,
    FAIL_AT,
    FILM_CONTRAST,
    FOURIER_ANGLE,
    FOURIER_SPOTS,
    LATTICE_RMS,
    METAL,
    METAL_BALANCE,
    OK_ABOVE,
    ON_LATTICE,
    ON_SITE_BONDS,
    PIXEL_SIZE,
    PRECISE_ATOMS,
    PRESENT,
    RENDER_R2,
    SATURATED,
    STACKED,
    STACKED_BONDS,
    Grade,
    metal_balance,
)
from tmdlearn.stem.honeycomb import fit_lattice
from tmdlearn.stem.layer_checks import bond_angstrom, bond_figures, column_density, layer_checks
from tmdlearn.stem.render import WINDOW_ANGSTROM, Rendering, render_back

__all__ = ["ALL_LAYERS", "BOND_FWHM", "BOND_FWHM_PRECISE", "BOND_MEAN", "DENSITY",
           "DENSITY_NOWHERE", "FAIL_AT", "FOURIER_ANGLE", "FOURIER_SPOTS", "LATTICE_RMS",
           "METAL", "METAL_BALANCE", "OK_ABOVE", "ON_LATTICE", "ON_SITE_BONDS", "PIXEL_SIZE",
           "PRECISE_ATOMS",
           "PRESENT", "RENDER_R2", "SATURATED", "STACKED", "STACKED_BONDS", "WINDOW_ANGSTROM",
           "FILM_CONTRAST", "Grade", "Quality", "assess", "bond_angstrom", "bond_figures",
           "column_density", "layer_checks", "metal_balance", "render_back",
           "saturated_fraction"]


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


def _fourier_checks(image: np.ndarray, atoms: pd.DataFrame, pix: float, material: str,
                    table: pd.DataFrame) -> tuple[list[tuple[str, float, str]], dict[str, float]]:
    """Every clear lattice of the image's Fourier transform (at least ``FOURIER_SPOTS`` of its
    six spots) against the nearest found layer's honeycomb; none when the transform shows no
    clear lattice (low dose, amorphous). A layer the transform does not show is not judged
    here: a weak layer's spots may be lost in the noise. Also the figures ``twist_deg``
    (between the first two found layers' honeycombs) and ``fft_twist_deg`` (between the
    transform's two strongest clear lattices), degrees, NaN where there are not two."""
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
    twist = angle_between(*found[:2]) if len(found) >= 2 else float("nan")
    return checks, {"twist_deg": twist, "fft_twist_deg": fft_twist_deg(seen)}


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
           material: str = "graphene", layers: int = 2,
           film_doubts: Sequence[str] = ()) -> Quality:
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
    film_doubts : sequence of str
        Why a Mo film's species reading is doubtful (:func:`tmdlearn.stem.films.film_species`):
        each a check ``film_contrast`` graded :data:`FILM_CONTRAST`.

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
    checks = _pixel_size_checks(image, pix, material, figures) + _image_checks(figures, layers)
    hint = _first_order_hint(figures, pix, material)
    for row in table.itertuples():
        checks += _layer_grades(row, material, hint)
    checks += [("film_contrast", FILM_CONTRAST, doubt + hint) for doubt in film_doubts]
    fourier, twists = _fourier_checks(image, atoms, pix, material, table)
    checks += fourier
    figures.update(twists)
    grades = {name: grade for name, grade, _ in checks}
    score = min(grades.values())
    # a wrong pixel size misleads every other check: its reason first
    worst = sorted((c for c in checks if c[1] <= OK_ABOVE),
                   key=lambda c: (c[0] != "pixel_size", c[1]))
    reasons = [reason for _, _, reason in worst]
    lone = _lone_layer(grades, layers)
    if lone is not None:
        reasons.insert(0, f"only layer {lone} looks like a crystal layer: a monolayer (predict "
                          "it as one: --monolayer, find.monolayer), or the other layer not "
                          "resolved")
    return Quality(_verdict(score), float(score), reasons, figures, table, grades,
                   rendering.r2_map, rendering)


def _pixel_size_checks(image: np.ndarray, pix: float, material: str,
                       figures: dict) -> list[tuple[str, float, str]]:
    """The given pixel size against the one the image's own lattice implies for the material
    (its strongest spots taken as first-order planes, a √3 / 2 apart; a pixel size that reads
    them as second-order, a / 2, passes too); none when the transform shows no lattice. Adds
    the figures ``fft_spacing_px`` and ``fft_pixel_size_angstrom`` (at the material's
    :data:`LATTICE_ANGSTROM`)."""
    lattice = lattice_spacing_px(image, FOURIER_SPOTS)
    if lattice is None:
        return []
    spacing = lattice.spacing_angstrom
    figures.update(fft_spacing_px=spacing,
                   fft_pixel_size_angstrom=LATTICE_ANGSTROM[material] * np.sqrt(3) / 2 / spacing)
    ranges = implied_pixel_sizes(spacing)

    def off(name: str, orders: tuple[float, ...] = (1.0, np.sqrt(3))) -> float:
        low, high = ranges[name]
        return min(max(low / (pix * order) - 1, pix * order / high - 1, 0.0)
                   for order in orders)

    implied = pixel_size_text(*ranges[material])
    other = [m for m in ranges if m != material and off(m, (1.0,)) <= PIXEL_SIZE.good]
    hint = (f", or the material: {other[0]}'s lattice fits the given one (--material "
            f"{MATERIAL_NAMES[other[0]]})" if other else "")
    return [("pixel_size", PIXEL_SIZE(off(material)),
             f"the image's own lattice (Fourier transform, planes {spacing:.1f} px apart) says "
             f"{implied} Å/px for {material}, not the given {pix:.3g}: check --pixel-size"
             + hint)]


def _first_order_hint(figures: dict, pix: float, material: str) -> str:
    """': the image's lattice says 0.134 Å/px, check --pixel-size' when a TMD image's strongest
    Fourier spots, read as first-order planes, give a pixel size over 15 % from ``pix``
    (Å/px); else ''. (The pixel-size check also accepts them as second-order, which they may
    be: a pixel size √3 off passes it, and the density or a Mo film's contrast says so.)"""
    implied = figures.get("fft_pixel_size_angstrom")
    if material == "graphene" or not implied or abs(implied / pix - 1) <= 0.15:
        return ""
    return f": the image's lattice says {implied:.3g} Å/px, check --pixel-size"


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


def _layer_grades(row, material: str, density_hint: str = "") -> list[tuple[str, float, str]]:
    """The checks (name, grade, reason) of one row of :func:`layer_checks`; ``density_hint``
    ends the density's reason."""
    bond = bond_angstrom(material)
    name = f"layer {row.layer}"
    if row.atoms < 10:
        return [(f"layer{row.layer}_atoms", 0.0, f"{name}: {row.atoms} atoms found")]
    deviation = abs(row.bond_mean_angstrom / bond - 1)
    fwhm_grade = BOND_FWHM_PRECISE if row.atoms >= PRECISE_ATOMS else BOND_FWHM
    metal_grade = metal_balance(row.atoms)
    return [
        (f"layer{row.layer}_bond_mean", BOND_MEAN(deviation),
         f"{name}: nearest-neighbour mean {row.bond_mean_angstrom:.2f} Å, expected "
         f"{bond:.2f} ± {BOND_MEAN.doubtful * bond:.2f} Å"),
        (f"layer{row.layer}_bond_fwhm", fwhm_grade(row.bond_fwhm_angstrom / bond),
         f"{name}: nearest-neighbour FWHM {row.bond_fwhm_angstrom:.2f} Å, expected below "
         f"{fwhm_grade.doubtful * bond:.2f} Å"),
        (f"layer{row.layer}_on_lattice", ON_LATTICE(row.on_lattice),
         f"{name}: {100 * row.on_lattice:.0f} % of the atoms on a honeycomb"),
        (f"layer{row.layer}_lattice_rms", LATTICE_RMS(row.lattice_rms_bonds),
         f"{name}: atoms {row.lattice_rms_bonds:.2f} bonds (rms) off the fitted honeycomb"),
        (f"layer{row.layer}_stacked", STACKED(row.stacked),
         f"{name}: {100 * row.stacked:.0f} % of the atoms on top of another layer's (one "
         "layer found twice?)"),
        *([(f"layer{row.layer}_metal", metal_grade(abs(row.metal_fraction - 0.5)),
            f"{name}: {100 * row.metal_fraction:.0f} % metal ({' or '.join(METAL[material])}) "
            f"columns, "
            f"expected 50 ± {100 * metal_grade.doubtful:.0f} %")] if material in METAL else []),
        (f"layer{row.layer}_density", DENSITY(row.density_ratio) if row.coverage > 0
         else min(DENSITY(row.density_ratio), DENSITY_NOWHERE(row.density_ratio)),
         f"{name}: {100 * row.density_ratio:.0f} % of the expected atoms per nm²"
         + (" where found" if row.coverage > 0 else "") + density_hint),
    ]


def _lone_layer(grades: dict[str, float], layers: int) -> int | None:
    """The one layer that fails no check (at worst doubtful: a real monolayer's positions may
    scatter) while every other layer fails one (a bilayer model on a monolayer invents or
    splits the second layer), else None."""
    per_layer = [min((g for name, g in grades.items() if name.startswith(f"layer{k}_")),
                     default=0.0) for k in range(layers)]
    passing = [k for k, g in enumerate(per_layer) if g > FAIL_AT]
    if layers > 1 and len(passing) == 1 and all(g <= FAIL_AT for k, g in enumerate(per_layer)
                                                 if k != passing[0]):
        return passing[0]
    return None
