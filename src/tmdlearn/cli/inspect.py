"""`tmdlearn inspect FILE...`: what a file holds, with axes in physical units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError, MissingPixelSize


def describe(path: Path) -> list[str]:
    """Lines describing ``path``: modality, shape, axes with units, key metadata."""
    from tmdlearn.interop.nexus import read_nexus
    from tmdlearn.io import read
    from tmdlearn.io.read import NEXUS_SUFFIXES
    from tmdlearn.spectra.fitmaps import FitMaps

    try:
        item = read_nexus(path) if path.suffix.lower() in NEXUS_SUFFIXES else read(path)
    except MissingPixelSize as err:
        return _bare_image(path, err)
    except InputError as err:
        named = _named_image_archive(path)
        if named is not None:
            return _bare_image(path, named)
        feature_table = _feature_table(path)
        if feature_table is None:
            raise err from None
        return feature_table
    if isinstance(item, FitMaps):
        ny, nx = item.shape
        with_errors = ", ".join(name for name in item.values if name in item.errors)
        return [f"{path}: map fit results (NeXus), {len(item.values)} parameter images",
                f"  shape {ny} x {nx} pixels; step {item.step_um:.4g} µm; "
                f"origin ({item.origin_um[0]:.4g}, {item.origin_um[1]:.4g}) µm",
                f"  standard errors: {with_errors or 'none'}"]
    if isinstance(item, HeightMap):
        ny, nx = item.shape
        height_y, height_x = item.scan_size_nm
        unit = item.metadata.get("unit", "nm")
        return [
            f"{path}: AFM image, channel {item.channel}"
            + (f" ({item.metadata['instrument_channel']})"
               if "instrument_channel" in item.metadata else ""),
            f"  shape {ny} x {nx} pixels; pixel size {item.pixel_size_nm:.4g} nm; "
            f"scan size {height_x / 1000:.4g} x {height_y / 1000:.4g} µm",
            f"  values {np.nanmin(item.height_nm):.4g} .. {np.nanmax(item.height_nm):.4g} {unit}",
        ]
    if isinstance(item, SpectralMap):
        ny, nx = item.shape
        return [
            f"{path}: {_kind(item.axis, item.unit, item.excitation_nm)} map",
            f"  shape {ny} x {nx} pixels x {item.axis.size} points; step {item.step_um:.4g} µm; "
            f"origin ({item.origin_um[0]:.4g}, {item.origin_um[1]:.4g}) µm",
            _axis_line(item.axis, item.unit, item.excitation_nm, item.metadata),
        ] + _extra_lines(item.metadata)
    if isinstance(item, Spectra):
        count = "1 spectrum" if len(item) == 1 else f"{len(item)} spectra"
        return [
            f"{path}: {_kind(item.axis, item.unit, item.excitation_nm)} spectra, {count} x "
            f"{item.n_points} points",
            _axis_line(item.axis, item.unit, item.excitation_nm, item.metadata),
        ] + _extra_lines(item.metadata)
    if isinstance(item, StemImage):
        ny, nx = item.shape
        fov_y, fov_x = item.field_of_view_angstrom
        source = item.metadata.get("pixel_size_source")
        return [
            f"{path}: STEM image" + (f" (array {item.metadata['image_key']!r})"
                                     if "image_key" in item.metadata else ""),
            f"  shape {ny} x {nx} pixels; pixel size {item.pixel_size_angstrom:.4g} Å"
            + (f" (from {source})" if source else "")
            + f"; field of view {fov_x / 10:.4g} x {fov_y / 10:.4g} nm",
        ] + _stem_lines(item.metadata)
    raise TypeError(f"unexpected container {type(item).__name__}")


def _stem_lines(metadata: dict) -> list[str]:
    """What a STEM file says besides the image: its title, the beam, the detector read of
    several, the frames of a stack (one line, none without any)."""
    parts = [f"title {metadata['title']!r}" if metadata.get("title") else "",
             f"beam {metadata['high_tension_v'] / 1000:g} kV"
             if metadata.get("high_tension_v") else "",
             f"detector {metadata['detector']} (of {', '.join(metadata['images_in_file'])})"
             if metadata.get("detector") and metadata.get("images_in_file") else "",
             f"first of {metadata['frames']} frames (stem predict --frames mean averages them)"
             if metadata.get("frames", 1) > 1 else ""]
    parts = [p for p in parts if p]
    return ["  " + "; ".join(parts)] if parts else []


#: Largest Raman shift (cm-1) a wavelength axis just beyond the laser line may be read as.
RAMAN_MAX_CM1 = 4000.0


def _raman_range(axis: np.ndarray, unit: str, excitation_nm: float | None):
    """The Raman shifts (cm-1) of a wavelength axis lying just beyond the laser line (within
    RAMAN_MAX_CM1), else None: a spectrograph camera records Raman lines in nm."""
    if unit != "nm" or not excitation_nm or axis.min() <= excitation_nm:
        return None
    shifts = 1e7 / excitation_nm - 1e7 / np.array([axis.min(), axis.max()])
    return shifts if shifts[1] <= RAMAN_MAX_CM1 else None


def _kind(axis: np.ndarray, unit: str, excitation_nm: float | None) -> str:
    if unit == "cm-1":
        return "Raman"
    return "Raman or PL" if _raman_range(axis, unit, excitation_nm) is not None else "PL"


def _axis_line(axis: np.ndarray, unit: str, excitation_nm: float | None, metadata: dict) -> str:
    name = {"cm-1": "Raman shift", "eV": "photon energy", "nm": "wavelength"}[unit]
    source = metadata.get("unit_source")
    low, high = metadata.get("value_range", (axis[0], axis[-1]))
    said = {None: "", "option": " (given as an option)", "header": " (from the file header)",
            "value range": f" (inferred from range {low:.4g}-{high:.4g})"}
    line = f"  axis: {name}, {unit}{said.get(source, f' (from the {source})')}: "
    line += f"{axis[0]:.6g} .. {axis[-1]:.6g} {unit}"
    if "axis_converted" in metadata:
        line += f"; converted: {metadata['axis_converted']}"
    if excitation_nm:
        line += f"; excitation {excitation_nm:.6g} nm"
    shifts = _raman_range(axis, unit, excitation_nm)
    if shifts is not None:
        line += f"; as Raman shift {shifts[0]:.0f} .. {shifts[1]:.0f} cm-1"
    return line


def _extra_lines(metadata: dict) -> list[str]:
    """Intensity unit (SPC), map position unit and scattered measurement sites."""
    lines = []
    if "y_unit" in metadata:
        lines.append(f"  intensity: {metadata['y_unit']}")
    if "xy_unit" in metadata:
        lines.append(f"  positions: X, Y columns in {metadata['xy_unit']}, stored in µm")
    if "x_um" in metadata:
        x, y = np.asarray(metadata["x_um"]), np.asarray(metadata["y_um"])
        lines.append(f"  {x.size} sites not on a grid: X {x.min():.6g} .. {x.max():.6g} µm, "
                     f"Y {y.min():.6g} .. {y.max():.6g} µm")
    return lines


def _bare_image(path: Path, missing: MissingPixelSize) -> list[str]:
    """Lines for an image file without a pixel size: its size and values, and how to give
    one."""
    from tmdlearn.io import read
    from tmdlearn.stem.fourier import lattice_hint

    values = read(path, modality="stem", pixel_size_angstrom=1.0).intensity
    ny, nx = values.shape
    hint = lattice_hint(values)
    return [f"{path}: image without a pixel size (AFM or STEM)",
            f"  shape {ny} x {nx} pixels, values {np.min(values):.6g} .. "
            f"{np.max(values):.6g}",
            f"  {missing.problem}",
            *([f"  if it is a STEM image, {hint}"] if hint else [])]


def _named_image_archive(path: Path) -> MissingPixelSize | None:
    """The reader's error for an .npz that names an image array (``im_array``, ``haadf``, ...:
    :data:`tmdlearn.io.stem.IMAGE_KEYS`) but no pixel size, else None."""
    from tmdlearn.io import read
    from tmdlearn.io.stem import IMAGE_KEYS

    if path.suffix.lower() != ".npz":
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not set(archive.files) & set(IMAGE_KEYS):
                return None
        read(path, modality="stem")
    except MissingPixelSize as err:
        return err
    except Exception:  # noqa: BLE001 - anything else: the reader's own error stands
        return None
    return None


def _feature_table(path: Path) -> list[str] | None:
    """A one-line description of a .npz that is a feature table, not an instrument file
    (None for an archive naming a pixel size: an image the reader refused for a reason)."""
    from tmdlearn.io.stem import pixel_size_key_unit

    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            shapes = {key: archive[key].shape for key in archive.files}
    except Exception:  # noqa: BLE001 - not a readable archive: report the reader's error
        return None
    if any(pixel_size_key_unit(key)[0] for key in shapes):
        return None
    arrays = ", ".join(f"{key} {'x'.join(map(str, shape))}" for key, shape in shapes.items())
    return [f"{path}: feature table (not an instrument file): {arrays}"]


def inspect(files: list[Path] = typer.Argument(..., help="Instrument files to describe.")) -> None:
    """Print modality, shape, axes with units and key metadata of each file.

    A file that cannot be read gives one ``error:`` line; the others are still described and
    the command exits with code 2.
    """
    failed = 0
    for path in files:
        try:
            typer.echo("\n".join(describe(path)))
        except InputError as err:
            if len(files) == 1:
                raise
            typer.echo(f"error: {err}", err=True)
            failed += 1
    if failed:
        raise typer.Exit(2)
