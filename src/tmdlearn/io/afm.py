"""AFM readers: instrument files through SurfaceTopography, plus .tif/.npy/.npz arrays.

Heights are converted to nm from the unit SurfaceTopography reports; the image is returned
as (ny, nx) rows of the slow scan axis (SurfaceTopography stores (nx, ny)); rows spaced
unlike the pixels along a line are interpolated to square pixels (:func:`square_rows`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import HeightMap
from tmdlearn.errors import InputError, MissingPixelSize
from tmdlearn.io.arrays import as_image

#: What a bare image (array, plain TIFF) without a pixel size is told.
NO_PIXEL_SIZE = ("the file stores no pixel size: give it (--pixel-size of the afm commands, stem "
                 "predict or convert: nm for AFM, Å for STEM; pixel_size_nm= or "
                 "pixel_size_angstrom= in Python)")
#: File extensions handed to SurfaceTopography, with its format name (None: let it detect).
AFM_FORMATS = {
    ".spm": "di", ".di": "di", ".gwy": "gwy", ".nid": "ezd", ".ezd": "ezd", ".ibw": "ibw",
    ".jpk": "jpk", ".jpk-qi-image": "jpk", ".mdt": "mdt", ".stp": "wsxm", ".top": "wsxm",
    ".cur": "wsxm", ".tom": "wsxm", ".sdf": "sdf", ".x3p": "x3p", ".opd": "opd", ".opdx": "opdx",
    ".datx": "datx", ".sur": "sur", ".plu": "plu", ".plux": "plux", ".mi": "mi",
    ".al3d": "al3d", ".lext": "lext", ".vk4": "vk", ".vk6": "vk", ".vk7": "vk",
    ".zon": "zon", ".frt": "frt", ".mnt": "mnt", ".nms": "nms", ".bcr": "bcr", ".xyz": "xyz",
}
#: Text height exports SurfaceTopography reads: Gwyddion's ASCII matrix ("# Channel:",
#: "# Width: 1.000 µm" ... header lines) and x y z point lists.
TEXT_AFM_HEADERS = (b"# Channel:", b"# Width:")
NANOSCOPE_NUMBERED = re.compile(r"^\.\d{3}$")  # NanoScope .000, .001, ...
NANOSCOPE_MAGIC = b"\\*File list"
GWY_MAGIC = b"GWYP"
#: What a file without an image channel in length units (a force curve, a thermal tune,
#: unitless data) is told.
NO_IMAGE_CHANNEL = ("the file holds no image channel with a length unit (a force curve, a "
                    "spectrum or a thermal tune is no height map)")
#: Channel names that hold the topography, in order of preference (spaces removed).
HEIGHT_SYNONYMS = ("height", "zsensor", "heightsensor", "topography", "topo", "z")


def afm_format(path: Path, head: bytes = b"") -> str | None | bool:
    """SurfaceTopography format name for ``path`` (None: autodetect; False: not AFM).

    Parameters
    ----------
    path : Path
        The file; its extension is checked.
    head : bytes
        The file's first bytes (NanoScope and Gwyddion magic numbers); empty to go by the
        extension only.

    Returns
    -------
    str, None or False
        The format name, None to let SurfaceTopography detect it, or False when the file is
        not an AFM instrument file.
    """
    suffix = path.suffix.lower()
    if head.startswith(NANOSCOPE_MAGIC) or NANOSCOPE_NUMBERED.match(suffix):
        return "di"
    if head.startswith(GWY_MAGIC):
        return "gwy"
    if head.lstrip(b"\xef\xbb\xbf").startswith(TEXT_AFM_HEADERS):
        return "asc"
    return AFM_FORMATS.get(suffix, False)


def read_afm_instrument(
    path: Path, channel: str | int = "height", pixel_size_nm: float | None = None,
    format: str | None = None,
) -> HeightMap:
    """Read one channel of an AFM instrument file with SurfaceTopography.

    Parameters
    ----------
    path : Path
        The instrument file.
    channel : str or int
        A channel name (case-insensitive; the first match, so "height" is the trace height
        channel of a NanoScope file) or an index.
    pixel_size_nm : float, optional
        Pixel size (nm/px); required when the file stores no scan size, and overriding the
        file's value otherwise.
    format : str, optional
        SurfaceTopography format name (:func:`afm_format`); None autodetects.

    Returns
    -------
    HeightMap
        Heights in nm (ny, nx); other channels keep their unit (``metadata["unit"]``).

    Raises
    ------
    InputError
        When the file cannot be parsed, has no such channel or stores no scan size.
    """
    from SurfaceTopography import open_topography

    try:
        reader = open_topography(str(path), format=format)
        names = [c.name for c in reader.channels]
        if not names:
            raise InputError(NO_IMAGE_CHANNEL, path)
        index = _channel_index(path, names, channel)
        info = reader.channels[index]
        kwargs = {}
        if info.physical_sizes is None:
            if pixel_size_nm is None:
                raise InputError("the file stores no scan size: pass pixel_size_nm=", path)
            nx, ny = info.nb_grid_pts
            kwargs = {"physical_sizes": (nx * pixel_size_nm, ny * pixel_size_nm), "unit": "nm"}
        topography = reader.topography(channel_index=index, **kwargs)
        values = np.asarray(topography.heights(), dtype=float).T
        unit = topography.unit
        sizes = topography.physical_sizes
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as an AFM file: {_first_line(err)}", path) from err
    stated = unit is not None and "unit" not in kwargs
    if unit is None:  # x y z text without a header: SI metres when sizes are below 1 mm
        if max(sizes) >= 1e-3:
            raise InputError("the file states no length unit: export it with its units", path)
        unit = "m"
    lateral_nm = _to_nm(unit, path)
    ny, nx = values.shape
    pixel_x_nm, pixel_y_nm = sizes[0] * lateral_nm / nx, sizes[1] * lateral_nm / ny
    if pixel_size_nm is not None:
        pixel_x_nm = pixel_y_nm = float(pixel_size_nm)
    resampled = None
    if not np.isclose(pixel_y_nm, pixel_x_nm, rtol=1e-3):
        resampled = {"rows": ny, "pixel_size_y_nm": float(pixel_y_nm)}
        values = square_rows(values, pixel_x_nm, pixel_y_nm)
        pixel_y_nm = pixel_x_nm
    lowered = names[index].lower().replace(" ", "")
    is_height = any(w in lowered for w in HEIGHT_SYNONYMS) or [
        n.lower() for n in names] == ["default"]  # an unnamed height export (x y z text)
    metadata = {
        "unit": "nm" if is_height else str(unit), "channels": names,
        "format": format or "auto", "pixel_size_y_nm": float(pixel_y_nm),
        "instrument_channel": names[index],
    }
    if resampled:
        metadata["resampled_rows"] = resampled
    if is_height and not stated:
        tiny = float(np.nanmax(np.abs(values))) < 1e-5 if values.size else False
        if tiny and lateral_nm == 1.0:  # heights given as metres beside a pixel size in nm
            lateral_nm = 1e9
        metadata["unit_source"] = ("assumed m: the file states no unit and its values are "
                                   "below 1e-5" if tiny else
                                   f"assumed {unit}: the file states no unit")
    if not np.all(np.isfinite(values)):
        metadata["undefined_pixels"] = int(np.sum(~np.isfinite(values)))
    instrument = reader.channels[index].info.get("instrument")
    if instrument:
        metadata["instrument"] = {k: str(v) for k, v in instrument.items()}
    return HeightMap(
        values * lateral_nm if is_height else values, pixel_x_nm,
        channel="height" if is_height else names[index].lower(),
        source=path, metadata=metadata,
    )


def square_rows(values: np.ndarray, pixel_x_nm: float, pixel_y_nm: float) -> np.ndarray:
    """Resample the rows (slow axis) of a map so that its pixels are square.

    Parameters
    ----------
    values : (ny, nx) array
        Heights on pixels of ``pixel_x_nm`` along a row and ``pixel_y_nm`` between rows.
    pixel_x_nm, pixel_y_nm : float
        Pixel size along the fast and the slow axis (nm).

    Returns
    -------
    (my, nx) array
        Linearly interpolated rows ``pixel_x_nm`` apart over the same scan height
        (``my = round(ny * pixel_y_nm / pixel_x_nm)``).
    """
    ny = values.shape[0]
    rows = max(1, round(ny * pixel_y_nm / pixel_x_nm))
    centres = (np.arange(rows) + 0.5) * (ny / rows) - 0.5  # in old row units
    centres = np.clip(centres, 0, ny - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, ny - 1)
    weight = (centres - low)[:, None]
    return values[low] * (1 - weight) + values[high] * weight


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _to_nm(unit, path: Path) -> float:
    from SurfaceTopography.Support.UnitConversion import length_units

    if isinstance(unit, tuple):
        unit = unit[0]
    if unit not in length_units:
        raise InputError(f"unknown length unit {unit!r} in the file", path)
    return length_units[unit] / length_units["nm"]


def _channel_index(path: Path, names: list[str], channel: str | int) -> int:
    if isinstance(channel, int) or str(channel).isdigit():
        index = int(channel)
        if not 0 <= index < len(names):
            raise InputError(f"channel {index} out of range: the file has {names}", path)
        return index
    wanted = str(channel).lower()
    synonyms = HEIGHT_SYNONYMS if wanted == "height" else (wanted,)
    lowered = [name.lower().replace(" ", "") for name in names]
    for word in synonyms:
        for i, name in enumerate(lowered):
            if name == word:
                return i
    for word in synonyms:
        for i, name in enumerate(lowered):
            if word in name:
                return i
    if wanted == "height" and lowered == ["default"]:  # an unnamed height export (x y z text)
        return 0
    raise InputError(f"no channel {channel!r}: the file has {names}", path)


def height_map_from_array(path: Path, values: np.ndarray, pixel_size_nm: float | None,
                          channel: str = "height", unit_stated: bool = False) -> HeightMap:
    """A HeightMap from a plain array file; the pixel size must come from the caller.

    Parameters
    ----------
    path : Path
        The file the values came from (named in errors).
    values : (H, W) array
        Heights (nm); an RGB(A) image becomes its channel mean.
    pixel_size_nm : float or None
        Pixel size (nm/px); None raises an InputError.
    channel : str
        Name of the recorded signal.
    unit_stated : bool
        The file says the values are nm (tmdlearn's .npz); otherwise nm is assumed and
        ``metadata["unit_source"]`` says so.

    Returns
    -------
    HeightMap
    """
    if pixel_size_nm is None:
        raise MissingPixelSize(NO_PIXEL_SIZE, path)
    values = as_image(path, values)
    if not float(pixel_size_nm) > 0:
        raise InputError(f"pixel_size_nm must be positive, got {pixel_size_nm}", path)
    metadata = {"unit": "nm"} if unit_stated else {
        "unit": "nm", "unit_source": "assumed: the file states no height unit"}
    return HeightMap(values, float(pixel_size_nm), channel=channel, source=path,
                     metadata=metadata)


def height_map_from_npz(path: Path, arrays: dict, pixel_size_nm: float | None = None
                        ) -> HeightMap:
    """A HeightMap from tmdlearn's .npz (keys height_nm, pixel_size_nm, channel, metadata).

    Parameters
    ----------
    path : Path
        The .npz file, the map's ``source``.
    arrays : dict
        Its arrays: ``height_nm`` and optional ``pixel_size_nm``, ``channel``, ``metadata``.
    pixel_size_nm : float, optional
        Pixel size (nm/px) overriding the stored one.

    Returns
    -------
    HeightMap
        With the stored metadata.
    """
    stored = npz_scalar(path, arrays, "pixel_size_nm")
    channel = str(arrays["channel"]) if "channel" in arrays else "height"
    hm = height_map_from_array(path, arrays["height_nm"], pixel_size_nm or stored, channel,
                               unit_stated=True)
    hm.metadata.update(npz_metadata(path, arrays))
    return hm


def npz_scalar(path: Path, arrays: dict, key: str) -> float | None:
    """The number stored under ``key`` in an .npz (None when absent).

    Parameters
    ----------
    path : Path
        The .npz file, named when the value is not one number.
    arrays : dict
        Its arrays by key.
    key : str
        The key of the number.

    Returns
    -------
    float or None
    """
    if key not in arrays:
        return None
    value = np.asarray(arrays[key])
    if value.size != 1 or not np.issubdtype(value.dtype, np.number):
        raise InputError(f"{key} must be one number, got {value.dtype} {value.shape}", path)
    return float(value.reshape(()))


def npz_metadata(path: Path, arrays: dict) -> dict:
    """The JSON metadata dictionary stored in an .npz (empty when absent).

    Parameters
    ----------
    path : Path
        The .npz file, named when the metadata is not a JSON object.
    arrays : dict
        Its arrays by key; the JSON text under ``"metadata"``.

    Returns
    -------
    dict
    """
    if "metadata" not in arrays:
        return {}
    try:
        metadata = json.loads(str(arrays["metadata"]))
    except ValueError as err:
        raise InputError(f"metadata is not valid JSON: {err}", path) from err
    if not isinstance(metadata, dict):
        raise InputError("metadata must be a JSON object", path)
    return metadata
