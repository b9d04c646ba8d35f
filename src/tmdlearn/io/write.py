"""Writers of the formats tmdlearn reads: test fixtures, synthetic data and exchange files.

Every writer is atomic (a crash never leaves a half-written file) and its output reads back
through :func:`tmdlearn.io.read` into an equal container (values, axes, units).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError
from tmdlearn.io.atomic import atomic_path

#: How LabSpec 6 writes each axis unit in its ``#Range (...)=`` header key.
LABSPEC_UNIT_LABELS = {"cm-1": "cm-\u00b9", "eV": "eV", "nm": "nm"}


def metadata_json(metadata: dict[str, Any]) -> str:
    """JSON text of a metadata dict; arrays and numpy scalars become lists and numbers.

    Parameters
    ----------
    metadata : dict
        The metadata; values JSON cannot hold otherwise become strings.

    Returns
    -------
    str
    """
    return json.dumps(metadata, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))


def _target(path: str | Path, suffixes: tuple[str, ...], refusal: str) -> tuple[Path, str]:
    """``path`` as a Path and its lower-case suffix, refused unless one of ``suffixes``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise InputError(refusal, path)
    return path, suffix


def _write_npz(path: Path, metadata: dict[str, Any], **arrays) -> Path:
    """Write ``arrays`` and ``metadata`` (as a JSON string, the last key) to a compressed .npz."""
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays, metadata=np.str_(metadata_json(metadata)))
    return path


def write_height_map(path: str | Path, hm: HeightMap) -> Path:
    """Write an AFM height map to ``path``: ``.npz`` (compressed) or ``.gwy`` (Gwyddion).

    Parameters
    ----------
    path : str or Path
        The file. The ``.npz`` holds ``height_nm`` (float32, ny × nx), ``pixel_size_nm``,
        ``channel`` and ``metadata`` (a JSON string). The ``.gwy`` is a Gwyddion native file
        with one channel in metres, readable by Gwyddion and SurfaceTopography.
    hm : HeightMap
        Heights (nm) and pixel size (nm/px).

    Returns
    -------
    Path
        ``path``.
    """
    path, suffix = _target(path, (".npz", ".gwy"), "height maps are written as .npz or .gwy")
    if suffix == ".gwy":
        from tmdlearn.io.gwy import gwy_bytes

        payload = gwy_bytes(hm.height_nm * 1e-9, hm.pixel_size_nm * 1e-9, hm.channel)
        with atomic_path(path) as tmp:
            tmp.write_bytes(payload)
        return path
    return _write_npz(path, hm.metadata, height_nm=np.asarray(hm.height_nm, dtype=np.float32),
                      pixel_size_nm=np.float64(hm.pixel_size_nm), channel=np.str_(hm.channel))


def write_stem(path: str | Path, img: StemImage) -> Path:
    """Write a STEM image to ``.npz`` (``intensity``, ``pixel_size_angstrom``) or ``.tif``.

    Parameters
    ----------
    path : str or Path
        The file. The TIFF is float32 with the pixel size in its JSON image description
        (tifffile's shaped metadata) and in the resolution tags (pixels per cm), so the reader
        recovers it.
    img : StemImage
        Intensities and pixel size (Å/px).

    Returns
    -------
    Path
        ``path``.
    """
    path, suffix = _target(path, (".npz", ".tif", ".tiff"),
                           "STEM images are written as .npz or .tif")
    if suffix == ".npz":
        return _write_npz(path, img.metadata,
                          intensity=np.asarray(img.intensity, dtype=np.float32),
                          pixel_size_angstrom=np.float64(img.pixel_size_angstrom))
    import tifffile

    pixels_per_cm = 1e8 / img.pixel_size_angstrom
    with atomic_path(path) as tmp:
        tifffile.imwrite(
            tmp,
            np.asarray(img.intensity, dtype=np.float32),
            resolution=(pixels_per_cm, pixels_per_cm),
            resolutionunit="CENTIMETER",
            metadata={"pixel_size_angstrom": float(img.pixel_size_angstrom),
                      "modality": "stem"},
        )
    return path


def _one_line(value: Any) -> str:
    return " ".join(str(value).splitlines())


def write_labspec(
    path: str | Path, data: Spectra | SpectralMap, metadata: dict | None = None
) -> Path:
    """Write spectra as a Horiba LabSpec 6 text export (Latin-1, tab-separated).

    Header lines are ``#Key=<TAB>Value``; the axis unit goes in ``#Range (unit)=`` and the
    excitation in ``#Laser (nm)=``.

    * one spectrum: two columns, axis and intensity;
    * several spectra: first line ``<TAB>axis...``, then ``index<TAB>intensities...``;
    * a map: first line ``<TAB><TAB>axis...``, then ``X<TAB>Y<TAB>intensities...`` with X and
      Y in µm, one line per pixel (rows of constant Y).

    Parameters
    ----------
    path : str or Path
        The text file.
    data : Spectra or SpectralMap
        The spectra, axis in cm⁻¹, eV or nm.
    metadata : dict, optional
        Further header lines (e.g. ``{"Acq. time (s)": 10, "Accumulations": 2,
        "Title": "flake 3"}``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    header = {"Acq. time (s)": 1, "Accumulations": 1}
    header.update(metadata or {})
    header[f"Range ({LABSPEC_UNIT_LABELS[data.unit]})"] = (
        f"{data.axis[0]:.6g}...{data.axis[-1]:.6g}"
    )
    if data.excitation_nm is not None:
        header["Laser (nm)"] = f"{data.excitation_nm:.10g}"
    lines = [f"#{key}=\t{_one_line(value)}" for key, value in header.items()]
    axis = "\t".join(f"{a:.10g}" for a in data.axis)
    if isinstance(data, SpectralMap):
        lines.append("\t\t" + axis)
        x_um, y_um = data.coordinates_um()
        for iy in range(data.shape[0]):
            for ix in range(data.shape[1]):
                values = "\t".join(f"{v:.8g}" for v in data.intensity[iy, ix])
                lines.append(f"{x_um[iy, ix]:.8g}\t{y_um[iy, ix]:.8g}\t{values}")
    elif len(data) == 1:
        pairs = zip(data.axis, data.intensity[0], strict=True)
        lines.extend(f"{a:.10g}\t{v:.8g}" for a, v in pairs)
    else:
        lines.append("\t" + axis)
        for i, row in enumerate(data.intensity):
            lines.append(f"{i}\t" + "\t".join(f"{v:.8g}" for v in row))
    with atomic_path(path) as tmp:
        tmp.write_bytes(("\n".join(lines) + "\n").encode("latin-1", errors="replace"))
    return path
