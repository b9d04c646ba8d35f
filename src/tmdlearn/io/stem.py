"""STEM readers: .tif/.npy/.npz with a pixel size, and TIA .ser through rosettasciio (GPL,
optional: ``pip install tmdlearn[gpl]``); Gatan .dm3/.dm4 files are read by
:mod:`tmdlearn.io.dm`, Velox and Berkeley .emd by :mod:`tmdlearn.io.velox` and Nion Swift files
by :mod:`tmdlearn.io.nion`, all without GPL packages. A TIFF's pixel size comes from
tmdlearn's description, ImageJ, OME-XML, a Thermo Fisher (FEI) tag or DigitalMicrograph's
export tags (:func:`tiff_pixel_size`). Calibrations in reciprocal units (diffraction patterns,
Fourier transforms) and pixel sizes beyond any microscope image's are refused.

An .npz is read as one 2-D image plus a pixel size (:func:`stem_from_npz`): tmdlearn's own
layout (``intensity``, ``pixel_size_angstrom``, ``metadata``), the Gomb-Net study's
(``im_array`` uint16, ``pixel_size`` a string in metres such as ``'1.062e-11'``) and any
archive that names its image and pixel size in one of the usual ways.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import StemImage
from tmdlearn.errors import InputError, MissingPixelSize
from tmdlearn.io.arrays import as_image
from tmdlearn.io.frames import combine_frames

#: Gatan DigitalMicrograph (:mod:`tmdlearn.io.dm`) and Velox / Berkeley EMD
#: (:mod:`tmdlearn.io.velox`) files, read by tmdlearn.
DM_FORMATS, EMD_FORMATS = (".dm3", ".dm4"), (".emd",)
#: Files read through rosettasciio, the optional GPL extra: TIA .ser.
GPL_FORMATS = (".ser",)
#: Nion Swift files whatever their content (:mod:`tmdlearn.io.nion`; a Swift ``.h5`` is
#: recognised by its layout).
NION_FORMATS = (".nhdf", ".ndata1", ".ndata")
#: Every file suffix the STEM readers take (the GPL ones need the optional extra).
STEM_FORMATS = (".tif", ".tiff", ".npy", ".npz", *NION_FORMATS, *DM_FORMATS, *EMD_FORMATS,
                *GPL_FORMATS)
#: Length units a file may give its pixel size in, in Å (keys: lower-case spellings).
ANGSTROM_PER_UNIT = {
    "pm": 0.01, "a": 1.0, "å": 1.0, "ang": 1.0, "angstrom": 1.0, "angstroms": 1.0, "nm": 10.0,
    "µm": 1e4, "um": 1e4, "micron": 1e4, "microns": 1e4, "m": 1e10, "metre": 1e10,
    "meter": 1e10, "metres": 1e10, "meters": 1e10,
}
#: Names (lower case) an .npz may give its image array, most specific first.
IMAGE_KEYS = ("intensity", "im_array", "image", "haadf", "adf", "img", "im", "data", "signal",
              "array")
#: Names (lower case) an .npz may give its pixel size, alone or followed by ``_<unit>``
#: (``pixel_size_nm``, ``sampling_angstrom``).
PIXEL_SIZE_KEYS = ("pixel_size", "pixelsize", "pixel_spacing", "px_size", "sampling", "scale",
                   "calibration", "pixel")
#: Range (Å) of STEM pixel sizes a bare number (no unit) is accepted in.
PLAUSIBLE_PIXEL_ANGSTROM = (0.005, 5.0)
#: A bare pixel size below this is read as metres, otherwise as Å.
BARE_METRES_BELOW = 1e-6
#: Largest pixel size (Å) of a real-space microscope image: 1 mm. Beyond it a calibration is
#: a diffraction pattern's in reciprocal units read as a length (TIA stores 1/m).
MAX_PIXEL_ANGSTROM = 1e7
#: The DigitalMicrograph export tags of a TIFF saved by DM: x scale and its unit.
DM_TIFF_SCALE, DM_TIFF_UNIT = 65009, 65003
_NUMBER_UNIT = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*")


def angstrom_per_unit(unit: str) -> float | None:
    """Å in one ``unit`` (m, µm, nm, Å, pm in their usual spellings); None if not a length.

    Parameters
    ----------
    unit : str
        A length unit name, any case.

    Returns
    -------
    float or None
        Å per unit (``"nm"`` -> 10).
    """
    unit = unit.strip().lower().replace("\u03bc", "µ").replace("\u212b", "å")
    return ANGSTROM_PER_UNIT.get(unit.replace("\\u00c5", "å"))


def stem_from_array(path: Path, values: np.ndarray, pixel_size_angstrom: float | None,
                    metadata: dict | None = None) -> StemImage:
    """A StemImage from a plain 2-D array; the pixel size must be known. A colour (RGB) image
    is refused: HAADF-STEM is one detector channel, and its mean is not that.

    Parameters
    ----------
    path : Path
        The file the values came from (named in errors).
    values : (H, W) array
        Detector intensities.
    pixel_size_angstrom : float or None
        Pixel size (Å/px); None raises an InputError.
    metadata : dict, optional
        Copied into the image's metadata.

    Returns
    -------
    StemImage
    """
    shape = np.shape(values)
    if len(shape) == 3 and shape[-1] in (3, 4):
        raise InputError(f"colour (RGB) image of shape {shape}: HAADF-STEM needs the "
                         "single-channel detector image", path)
    if pixel_size_angstrom is None:
        raise MissingPixelSize("the file stores no pixel size: give it (--pixel-size, Å; "
                               "pixel_size_angstrom= in Python)", path)
    values = as_image(path, values)
    if not float(pixel_size_angstrom) > 0:
        raise InputError(f"pixel size must be positive, got {pixel_size_angstrom}", path)
    if float(pixel_size_angstrom) > MAX_PIXEL_ANGSTROM:
        raise InputError(f"pixel size {float(pixel_size_angstrom):.3g} Å is beyond any "
                         "microscope image's (1 mm): a diffraction pattern calibrated in "
                         "reciprocal units?", path)
    return StemImage(values, float(pixel_size_angstrom), source=path,
                     metadata=dict(metadata or {}))


def _keys(arrays: dict) -> str:
    return ", ".join(f"{key} {'x'.join(map(str, np.shape(value))) or 'scalar'}"
                     for key, value in arrays.items())


def npz_image_key(path: Path, arrays: dict) -> str:
    """The key of the image in an .npz: its only 2-D numeric array (both sides ≥ 4, so point
    lists of shape (N, 2) don't count), or among several the one named as in
    :data:`IMAGE_KEYS` (earliest name first).

    Parameters
    ----------
    path : Path
        The .npz file, named when no array or several unnamed ones qualify.
    arrays : dict
        Its arrays by key; the image is one of them.

    Returns
    -------
    str

    Raises
    ------
    InputError
        Naming the keys, when no array or several unnamed ones qualify.
    """
    images = [key for key, value in arrays.items()
              if np.ndim(value) == 2 and min(np.shape(value)) >= 4
              and np.asarray(value).dtype.kind in "biuf"]
    if len(images) == 1:
        return images[0]
    named = sorted((IMAGE_KEYS.index(key.lower()), key) for key in images
                   if key.lower() in IMAGE_KEYS)
    if named:
        return named[0][1]
    problem = "no 2-D numeric image" if not images else (
        f"{len(images)} 2-D arrays and none named as the image ({', '.join(IMAGE_KEYS)})")
    raise InputError(f"{problem} in the archive; keys: {_keys(arrays)}", path)


def pixel_size_key_unit(key: str) -> tuple[bool, float | None]:
    """Whether ``key`` names a pixel size (:data:`PIXEL_SIZE_KEYS`), and the Å per unit its
    suffix states.

    Parameters
    ----------
    key : str
        An .npz key, any case.

    Returns
    -------
    names : bool
        Whether it names a pixel size.
    factor : float or None
        Å per unit of its suffix (``pixel_size_nm`` -> 10); None without a unit.
    """
    name = key.lower()
    for base in PIXEL_SIZE_KEYS:
        if name == base:
            return True, None
        if name.startswith(base + "_"):
            factor = angstrom_per_unit(name[len(base) + 1:])
            if factor is not None:
                return True, factor
    return False, None


def _stated_angstrom(path: Path, key: str, value, arrays: dict) -> tuple[float, str]:
    """Pixel size (Å) stated by the entry ``key`` and a note of how it was read.

    The unit is, in order: one written in the value (``'10.62 pm'``), the key's suffix
    (``pixel_size_nm``), else the magnitude: below :data:`BARE_METRES_BELOW` metres, otherwise
    Å, accepted only within :data:`PLAUSIBLE_PIXEL_ANGSTROM`. Two values (y, x) must agree.
    """
    _, key_factor = pixel_size_key_unit(key)
    value = np.asarray(value)

    def refuse(problem: str) -> InputError:
        return InputError(f"pixel size {key}={shown}: {problem}; keys: {_keys(arrays)}", path)

    shown = repr(value.item()) if value.size == 1 else str(value.tolist())
    unit_text = ""
    if value.dtype.kind in "SU" and value.size == 1:
        item = value.item()
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        match = _NUMBER_UNIT.fullmatch(text)
        if match is None:
            raise refuse("not a number with an optional unit (such as '0.1062 A')")
        numbers, unit_text = np.array([float(match[1])]), match[2]
    elif value.dtype.kind in "iuf" and value.size in (1, 2):
        numbers = value.astype(float).ravel()
    else:
        raise refuse("expected one number, (y, x) numbers or a string")
    if not np.all(np.isfinite(numbers)) or not np.all(numbers > 0):
        raise refuse("must be positive")
    if numbers.size == 2 and not np.isclose(numbers[0], numbers[1], rtol=1e-3):
        raise refuse("pixels are not square")
    number = float(numbers[0])
    if unit_text:
        factor = angstrom_per_unit(unit_text)
        if factor is None:
            raise refuse(f"unknown length unit {unit_text!r} (m, µm, nm, Å, pm)")
        if key_factor is not None and key_factor != factor:
            raise refuse("the unit in the value contradicts the key's")
        return number * factor, f"{key}={shown}, unit in the value"
    if key_factor is not None:
        return number * key_factor, f"{key}={shown}, unit from the key"
    unit, factor = ("m", 1e10) if number < BARE_METRES_BELOW else ("Å", 1.0)
    low, high = PLAUSIBLE_PIXEL_ANGSTROM
    if not low <= number * factor <= high:
        raise refuse(f"a bare number read as {unit} is {number * factor:.4g} Å, outside "
                     f"{low:g}-{high:g} Å: state the unit (e.g. '0.1 nm') or pass the pixel size")
    return number * factor, f"{key}={shown}, bare number read as {unit}"


def npz_pixel_size(path: Path, arrays: dict) -> tuple[float, str] | None:
    """Pixel size (Å) an .npz states and how it was read (None if no key names one).

    Every key naming a pixel size (:func:`pixel_size_key_unit`) is read; they must agree
    to 0.1 %.

    Parameters
    ----------
    path : Path
        The .npz file, named when a stated size is implausible or they disagree.
    arrays : dict
        Its arrays by key; every key naming a pixel size is read.

    Returns
    -------
    tuple of (float, str) or None
        The pixel size (Å/px) and a note of the key and how its unit was found.
    """
    stated = [_stated_angstrom(path, key, value, arrays) for key, value in arrays.items()
              if pixel_size_key_unit(key)[0]]
    if not stated:
        return None
    values = np.array([angstrom for angstrom, _ in stated])
    if not np.allclose(values, values[0], rtol=1e-3):
        raise InputError("pixel sizes disagree: " + "; ".join(
            f"{note} -> {angstrom:.4g} Å" for angstrom, note in stated), path)
    return stated[0]


def stem_from_npz(path: Path, arrays: dict, pixel_size_angstrom: float | None = None
                  ) -> StemImage:
    """A StemImage from an .npz: the image of :func:`npz_image_key` and the pixel size of
    :func:`npz_pixel_size`; a ``metadata`` JSON string becomes the metadata.

    Parameters
    ----------
    path : Path
        The .npz file, the image's ``source``.
    arrays : dict
        Its arrays: the image, keys stating the pixel size, optional ``metadata``.
    pixel_size_angstrom : float, optional
        Pixel size (Å/px) overriding the stored one.

    Returns
    -------
    StemImage
        ``metadata["pixel_size_source"]`` says where the pixel size came from and
        ``metadata["image_key"]`` which array is the image.
    """
    from tmdlearn.io.afm import npz_metadata

    key = npz_image_key(path, arrays)
    metadata = {**npz_metadata(path, arrays), "image_key": key}
    if pixel_size_angstrom is not None:
        try:
            stated = npz_pixel_size(path, arrays)
        except InputError:  # a pixel size key the given one replaces
            stated = None
        given_over(metadata, stated and stated[0])
    else:
        stated = npz_pixel_size(path, arrays)
        if stated is None:
            raise MissingPixelSize(f"the archive states no pixel size (keys: {_keys(arrays)}): "
                                   "give it (--pixel-size, Å; pixel_size_angstrom= in Python)",
                                   path)
        pixel_size_angstrom, metadata["pixel_size_source"] = stated
    return stem_from_array(path, arrays[key], pixel_size_angstrom, metadata)


def reciprocal_unit(unit: str) -> bool:
    """Whether ``unit`` is an inverse length (``1/nm``, ``1 / µm``, ``nm^-1``, ``nm⁻¹``): the
    calibration of a diffraction pattern or a Fourier transform.

    Parameters
    ----------
    unit : str
        The unit as a file states it.

    Returns
    -------
    bool
    """
    unit = unit.replace(" ", "").lower()
    return unit.startswith("1/") or unit.endswith(("^-1", "⁻¹", "-1"))


def reciprocal_problem(unit: str) -> str:
    """The refusal of an image calibrated in an inverse length.

    Parameters
    ----------
    unit : str
        The unit as the file states it (``1/nm``).

    Returns
    -------
    str
        The problem, for an InputError.
    """
    return (f"calibrated in {unit}: a diffraction pattern or Fourier transform, not a "
            "real-space HAADF image")


def tiff_pixel_size(tif) -> tuple[float, str] | None:
    """The pixel size a TIFF states, and where: tmdlearn's JSON description, ImageJ's unit +
    resolution, OME-XML's ``PhysicalSizeX`` (in ``PhysicalSizeXUnit``, µm by default), a
    Thermo Fisher (FEI) microscope's ``PixelWidth`` (m, section ``Scan`` or ``EScan``) or the
    x scale DigitalMicrograph writes into the TIFFs it exports (tags 65009 and 65003).

    Parameters
    ----------
    tif : tifffile.TiffFile
        The open file.

    Returns
    -------
    (float, str) or None
        Pixel size (Å/px) and its source, or None when the file states none.
    """
    shaped = tif.shaped_metadata
    if shaped and "pixel_size_angstrom" in shaped[0]:
        return float(shaped[0]["pixel_size_angstrom"]), "tmdlearn description"
    imagej = tif.imagej_metadata or {}
    factor = angstrom_per_unit(str(imagej.get("unit", "")))
    if factor is not None:
        tag = tif.pages[0].tags.get("XResolution")
        if tag is not None:
            numerator, denominator = tag.value
            if numerator > 0:
                return denominator / numerator * factor, f"ImageJ: {imagej['unit']}"
    for stated in (_ome_pixel(tif.ome_metadata), _fei_pixel(tif.fei_metadata),
                   _dm_tiff_pixel(tif)):
        if stated is not None:
            return stated
    return None


def _dm_tiff_pixel(tif) -> tuple[float, str] | None:
    """The x scale (tag 65009) in its unit (tag 65003) of a TIFF exported by Gatan
    DigitalMicrograph, in Å; an InputError when the unit is an inverse length."""
    tags = tif.pages[0].tags
    scale, unit = tags.get(DM_TIFF_SCALE), tags.get(DM_TIFF_UNIT)
    if scale is None or unit is None or not isinstance(unit.value, str):
        return None
    if reciprocal_unit(unit.value):
        raise InputError(reciprocal_problem(unit.value), tif.filehandle.path)
    factor = angstrom_per_unit(unit.value)
    try:
        value = float(scale.value)
    except (TypeError, ValueError):
        return None
    if factor is None or not (np.isfinite(value) and value > 0):
        return None
    return value * factor, f"DigitalMicrograph TIFF tags: {value:.6g} {unit.value}"


def _ome_pixel(xml: str | None) -> tuple[float, str] | None:
    """``PhysicalSizeX`` of the first OME ``Pixels`` element, in Å."""
    if not xml:
        return None
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Pixels" and "PhysicalSizeX" in element.attrib:
            unit = element.attrib.get("PhysicalSizeXUnit", "µm")
            factor = angstrom_per_unit(unit)
            try:
                value = float(element.attrib["PhysicalSizeX"])
            except ValueError:
                return None
            if factor is None or not value > 0:
                return None
            return value * factor, f"OME PhysicalSizeX: {value:.6g} {unit}"
    return None


def _fei_pixel(sections: dict | None) -> tuple[float, str] | None:
    """``PixelWidth`` (m) of a Thermo Fisher (FEI) TIFF's ``Scan`` or ``EScan`` section, in Å."""
    for name in ("Scan", "EScan"):
        section = (sections or {}).get(name)
        value = section.get("PixelWidth") if isinstance(section, dict) else None
        if isinstance(value, (int, float)) and value > 0:
            return value * 1e10, f"FEI {name} PixelWidth: {value:.6g} m"
    return None


def read_stem_gpl(path: Path, pixel_size_angstrom: float | None = None,
                  frames: str = "first") -> StemImage:
    """Read a TIA .ser image through rosettasciio (optional, GPL), its header checked first
    (:func:`check_ser_header`).

    Parameters
    ----------
    path : Path
        The .ser file.
    pixel_size_angstrom : float, optional
        Pixel size (Å/px); default: the calibrated scale of the image's last (x) axis in its
        unit (m, µm, nm, Å, pm).
    frames : str, optional
        Of a series (a preview's frames), ``"first"`` frame or the registered ``"mean"``
        (:func:`tmdlearn.io.frames.combine_frames`).

    Returns
    -------
    StemImage
        The file's HAADF image (:func:`haadf_choice`); ``metadata``: ``pixel_size_source``
        (:func:`axis_pixel_size`) and ``frames``.
    """
    try:
        from rsciio import tia
    except ImportError as err:
        raise InputError(
            f"reading {path.suffix} needs the optional GPL extra: pip install tmdlearn[gpl]", path
        ) from err
    check_ser_header(path)
    try:
        signals = tia.file_reader(str(path))
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read: {err}", path) from err
    images = [s for s in signals if _ser_image(s)]
    if not images:
        raise InputError("no image in the file (spectra, a spectrum image or 4-D data)", path)
    pick, metadata = haadf_choice([_title(s) for s in images])
    data, axis = np.asarray(images[pick]["data"]), images[pick]["axes"][-1]
    data, combined = combine_frames(path, data, frames) if data.ndim == 3 \
        else (data, {"frames": 1})
    pixel_size_angstrom, calibration = axis_pixel_size(
        path, axis.get("scale", 0), str(axis.get("units", "")), pixel_size_angstrom)
    metadata = {"format": path.suffix.lower().lstrip("."), **calibration, **metadata,
                **combined}
    return stem_from_array(path, data, pixel_size_angstrom, metadata)


def _ser_image(signal: dict) -> bool:
    """Whether a rosettasciio TIA signal is an image or a series of images (frames first):
    2 or 3 axes, the last two in one unit (a spectrum's energy axis differs)."""
    axes = signal.get("axes") or []
    units = [str(axis.get("units", "")) for axis in axes[-2:]]
    return np.ndim(signal["data"]) in (2, 3) and len(axes) == np.ndim(signal["data"]) \
        and units[0] == units[1]


def axis_pixel_size(path: Path, scale, unit: str, given: float | None
                    ) -> tuple[float | None, dict]:
    """The pixel size from an image's x axis calibration, and the metadata saying so; an
    InputError when the axis is in an inverse length (:func:`reciprocal_unit`).

    Parameters
    ----------
    path : Path
        The file (named in the error).
    scale : float
        Length of one pixel along x, in ``unit``.
    unit : str
        Its unit (m, µm, nm, Å, pm).
    given : float or None
        A pixel size (Å/px) the user gave, which wins.

    Returns
    -------
    pixel_size : float or None
        Å/px; None when neither given nor calibrated in a length unit.
    metadata : dict
        ``axis_unit`` and, with a pixel size, ``pixel_size_source`` (``given`` or
        ``calibrated x axis: <scale> <unit>``).
    """
    if reciprocal_unit(unit):
        raise InputError(reciprocal_problem(unit), path)
    metadata = {"axis_unit": unit}
    factor = angstrom_per_unit(unit)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        scale = 0.0
    calibrated = scale * factor if factor is not None and np.isfinite(scale) and scale > 0 \
        else None
    if given is not None:
        given_over(metadata, calibrated)
    elif calibrated is not None:
        given = calibrated
        metadata["pixel_size_source"] = f"calibrated x axis: {scale:.6g} {unit}"
    return given, metadata


def given_over(metadata: dict, stated: float | None) -> None:
    """Record in ``metadata`` that the pixel size was given (``pixel_size_source``) over the
    file's own ``stated`` one (Å/px; kept as ``file_pixel_size_angstrom`` when there is one).

    Parameters
    ----------
    metadata : dict
        The image's metadata, changed in place.
    stated : float or None
        The pixel size the file states, Å/px.
    """
    metadata["pixel_size_source"] = "given"
    if stated:
        metadata["file_pixel_size_angstrom"] = float(stated)


#: Detector names in image titles, most wanted first (a file may hold several simultaneous
#: images: Velox's HAADF, DF2, DF4 and BF segments; DM's HAADF and ABF); anything else comes
#: after them, and bright-field (BF, ABF) last.
DETECTOR_ORDER = ("HAADF", "ADF", "DF")


def haadf_choice(titles: list[str]) -> tuple[int, dict]:
    """Which of a file's images to read: the first whose title names HAADF, else ADF, else DF,
    else the first that is not bright field (:data:`DETECTOR_ORDER`).

    Parameters
    ----------
    titles : list of str
        The images' titles (detector names), in file order.

    Returns
    -------
    index : int
        The image to read.
    metadata : dict
        Of several images, ``detector`` (the title read) and ``images_in_file`` (all titles);
        empty for one.
    """
    pick = min(range(len(titles)), key=lambda k: _detector_rank(titles[k]))
    if len(titles) == 1:
        return pick, {}
    return pick, {"detector": titles[pick], "images_in_file": list(titles)}


def _title(signal: dict) -> str:
    """A rosettasciio signal's title ("" when none)."""
    general = (signal.get("metadata") or {}).get("General") or {}
    return str(general.get("title", ""))


def _detector_rank(title: str) -> int:
    """Rank of an image by its title: HAADF, ADF, DF, other, bright field."""
    words = re.findall(r"[A-Za-z]+", title.upper())
    for rank, name in enumerate(DETECTOR_ORDER):
        if any(word.startswith(name) for word in words):
            return rank
    bright = any(word.startswith(("BF", "ABF")) for word in words)
    return len(DETECTOR_ORDER) + int(bright)


#: A TIA .ser file starts with its byte order ("II"), series id and version (TIA's docs).
SER_BYTE_ORDER, SER_SERIES_ID, SER_VERSIONS = 0x4949, 0x0197, (0x0210, 0x0220)


def check_ser_header(path: Path) -> None:
    """InputError unless ``path`` starts with a TIA series header (little-endian, version
    0x0210 or 0x0220).

    Parameters
    ----------
    path : Path
        The .ser file.
    """
    with open(path, "rb") as handle:
        head = handle.read(6)
    if len(head) < 6:
        raise InputError("truncated TIA .ser header", path)
    order, series, version = np.frombuffer(head, "<u2")
    if order != SER_BYTE_ORDER or series != SER_SERIES_ID or version not in SER_VERSIONS:
        raise InputError("not a TIA .ser file (no series header)", path)
