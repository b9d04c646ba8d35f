"""Peak models: named peaks in fit windows, loaded from the shipped presets or a YAML file.

A model is one or more *regions*; each region is a window of the spectral axis (in the axis
unit, cm⁻¹ or eV) fitted on its own with its peaks and a constant or linear background.
A preset or user YAML file looks like::

    name: mos2-raman
    unit: cm-1
    regions:
      - window: [355, 480]
        background: linear          # none | constant | linear
        peaks:
          - {name: E2g, center: 385, fwhm: 4, max_shift: 6}
          - {name: sapphire, center: 418, fwhm: 2, optional: true}
    features:
      - {name: split_A1g_E2g, difference: [A1g_center, E2g_center]}
      - {name: ratio_2LA_A1g, ratio: [2LA_height, A1g_height]}
    vector: [E2g_center, A1g_center]   # optional: the study's feature vector
    verdict: {main: [E2g], weak_snr: 5}  # optional: options of tmdlearn.spectra.quality

Peak keys: ``name``, ``center`` (initial position), ``fwhm`` (initial full width at half
maximum), ``shape`` (lorentzian, gaussian, pseudo_voigt), ``max_shift`` (the centre stays
within ± this of its initial value; default 2 x fwhm), ``fwhm_min`` / ``fwhm_max`` (defaults
fwhm/10 and 5 x fwhm), ``optional`` (left out unless asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tmdlearn.errors import InputError

SHAPES = ("lorentzian", "gaussian", "pseudo_voigt")
BACKGROUNDS = ("none", "constant", "linear")
PRESETS = ("mos2-raman", "mos2-pl", "mose2-raman", "mose2-pl", "wse2-raman", "wse2-pl")


@dataclass(frozen=True)
class Peak:
    """One line shape: initial ``center`` and ``fwhm`` in the axis unit, and its bounds."""

    name: str
    center: float
    fwhm: float
    shape: str = "lorentzian"
    max_shift: float | None = None
    fwhm_min: float | None = None
    fwhm_max: float | None = None
    optional: bool = False

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise InputError(f"peak {self.name!r}: shape must be one of {SHAPES}")
        if not self.fwhm > 0:
            raise InputError(f"peak {self.name!r}: fwhm must be positive")

    @property
    def center_bounds(self) -> tuple[float, float]:
        """(low, high) of the centre, axis unit: ± ``max_shift`` (default 2 x fwhm)."""
        shift = 2.0 * self.fwhm if self.max_shift is None else self.max_shift
        return self.center - shift, self.center + shift

    @property
    def fwhm_bounds(self) -> tuple[float, float]:
        """(low, high) of the FWHM, axis unit (defaults fwhm/10 and 5 x fwhm)."""
        low = self.fwhm / 10.0 if self.fwhm_min is None else self.fwhm_min
        high = self.fwhm * 5.0 if self.fwhm_max is None else self.fwhm_max
        return low, high

    @property
    def n_params(self) -> int:
        """Fitted parameters: 3 (height, centre, FWHM), 4 with pseudo-Voigt's eta."""
        return 4 if self.shape == "pseudo_voigt" else 3


@dataclass(frozen=True)
class Region:
    """A fit window ``(low, high)`` in the axis unit, its peaks and its background."""

    window: tuple[float, float]
    peaks: tuple[Peak, ...]
    background: str = "linear"

    def __post_init__(self):
        if self.background not in BACKGROUNDS:
            raise InputError(f"background must be one of {BACKGROUNDS}")
        if not self.window[0] < self.window[1]:
            raise InputError(f"window {self.window} must be (low, high) with low < high")

    @property
    def n_background(self) -> int:
        """Background parameters: 0 none, 1 constant, 2 linear."""
        return BACKGROUNDS.index(self.background)

    @property
    def n_params(self) -> int:
        """Fitted parameters of the region's peaks and background."""
        return sum(p.n_params for p in self.peaks) + self.n_background


@dataclass(frozen=True)
class PeakModel:
    """A named set of fit regions plus derived features (see the module docstring)."""

    name: str
    regions: tuple[Region, ...]
    unit: str = "cm-1"
    features: tuple[dict[str, Any], ...] = ()
    vector: tuple[str, ...] = ()
    description: str = ""
    verdict: dict[str, Any] = field(default_factory=dict)
    #: Optional peaks :meth:`select` left out (the verdict names one where the fit misses a
    #: peak, e.g. WSe2's 250 cm⁻¹ line in a MoSe2/WSe2 heterostructure: ``--with`` it).
    left_out: tuple[Peak, ...] = ()

    @property
    def peaks(self) -> tuple[Peak, ...]:
        """Every region's peaks, in order."""
        return tuple(p for region in self.regions for p in region.peaks)

    def select(self, include: list[str] | tuple[str, ...] = ()) -> PeakModel:
        """The model without its optional peaks, except those named in ``include``.

        Parameters
        ----------
        include : list of str
            Optional peaks to keep.

        Returns
        -------
        PeakModel
        """
        known = {p.name for p in self.peaks if p.optional}
        unknown = set(include) - known
        if unknown:
            raise InputError(
                f"model {self.name!r} has no optional peak {sorted(unknown)}; "
                f"optional peaks: {sorted(known) or 'none'}"
            )
        regions = tuple(
            replace(r, peaks=tuple(p for p in r.peaks if not p.optional or p.name in include))
            for r in self.regions
        )
        left_out = tuple(p for p in self.peaks if p.optional and p.name not in include)
        return replace(self, regions=tuple(r for r in regions if r.peaks),
                       left_out=self.left_out + left_out)

    @classmethod
    def from_dict(cls, spec: dict[str, Any], source: str | Path | None = None) -> PeakModel:
        """Build a model from a parsed YAML mapping; mistakes raise ``InputError``.

        Parameters
        ----------
        spec : dict
            The mapping (module docstring).
        source : str or Path, optional
            Where it came from, for errors and the default name.

        Returns
        -------
        PeakModel
        """
        try:
            regions = tuple(
                Region(
                    window=(float(r["window"][0]), float(r["window"][1])),
                    background=str(r.get("background", "linear")),
                    peaks=tuple(_peak(p) for p in r["peaks"]),
                )
                for r in spec["regions"]
            )
            model = cls(
                name=str(spec.get("name", Path(source).stem if source else "model")),
                regions=regions,
                unit=str(spec.get("unit", "cm-1")),
                features=tuple(spec.get("features", ()) or ()),
                vector=tuple(spec.get("vector", ()) or ()),
                description=str(spec.get("description", "")),
                verdict=dict(spec.get("verdict") or {}),
            )
        except InputError as err:
            raise InputError(err.problem, source) from None
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise InputError(f"not a valid peak model ({err.__class__.__name__}: {err})",
                             source) from None
        names = [p.name for p in model.peaks]
        if len(set(names)) != len(names):
            raise InputError("peak names must be unique", source)
        return model


def _peak(spec: dict[str, Any]) -> Peak:
    allowed = {"name", "center", "fwhm", "shape", "max_shift", "fwhm_min", "fwhm_max",
               "optional"}
    unknown = set(spec) - allowed
    if unknown:
        raise InputError(f"peak {spec.get('name')!r}: unknown keys {sorted(unknown)}")
    values = {k: (float(v) if k in {"center", "fwhm", "max_shift", "fwhm_min", "fwhm_max"}
                  and v is not None else v) for k, v in spec.items()}
    values["name"] = str(values["name"])
    return Peak(**values)


def load_model(name_or_path: str | Path, include: list[str] | tuple[str, ...] = ()) -> PeakModel:
    """A shipped preset by name (``mos2-raman``, ``mos2-pl``, ``mose2-raman``, ``mose2-pl``,
    ``wse2-raman``, ``wse2-pl``: :data:`PRESETS`) or a YAML file by path.

    Parameters
    ----------
    name_or_path : str or Path
        Preset name or YAML path.
    include : list of str
        Optional peaks to keep (the others are dropped).

    Returns
    -------
    PeakModel
    """
    text: str
    source: str | Path
    if str(name_or_path) in PRESETS:
        source = f"preset {name_or_path}"
        text = (resources.files("tmdlearn.spectra") / "presets" / f"{name_or_path}.yaml"
                ).read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        source = path
        if not path.is_file():
            raise InputError(f"not a preset ({', '.join(PRESETS)}) nor a YAML file", path)
        text = path.read_text(encoding="utf-8")
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"not valid YAML ({err.__class__.__name__})", source) from None
    if not isinstance(spec, dict):
        raise InputError("a peak model must be a YAML mapping", source)
    return PeakModel.from_dict(spec, source).select(include)
