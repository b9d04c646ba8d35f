"""``read(path, **options)``: one entry point for every supported file, by content and extension.

NeXus / HDF5 files (.nxs) written by ``tmdlearn.interop.nexus`` (or holding a plain NXdata
map, spectra or image) and zarr map stores (``.zarr`` folders written by ``tmdlearn convert``)
are read with their own axes and units; the options do not apply.

Options (all optional):

* ``modality``: "afm", "stem" or "spectra" when a file could be either (a bare .tif/.npy);
* ``channel``: AFM channel name or index (default "height");
* ``pixel_size_nm`` (AFM) / ``pixel_size_angstrom`` (STEM): needed for files without one,
  and overriding the file's value otherwise;
* ``unit`` ("cm-1", "eV", "nm") and ``excitation_nm`` for spectra;
* ``frames``: of a STEM series in one file (DM, Velox, TIA, Nion, a multi-page TIFF),
  ``"first"`` (default) or ``"mean"``, the frames registered and averaged
  (:mod:`tmdlearn.io.frames`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tmdlearn.data.containers import HeightMap, Spectra, SpectralMap, StemImage
from tmdlearn.errors import InputError, MissingPixelSize
from tmdlearn.io import afm, dm, jcamp_dx, nion, sif, spc, spe, spectra, stem, velox
from tmdlearn.io.arrays import as_image, check_declared_size, check_npy_header
from tmdlearn.io.frames import check_frames, combine_frames

Container = HeightMap | Spectra | SpectralMap | StemImage
_OPTIONS = {"modality", "channel", "pixel_size_nm", "pixel_size_angstrom", "unit",
            "excitation_nm", "frames"}
_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NEXUS_SUFFIXES = (".nxs", ".nx5", ".h5", ".hdf5")


def read(path: str | Path, **options) -> Container:
    """Read an instrument or array file into a typed container with physical units.

    Parameters
    ----------
    path : str or Path
        The file; its format is found by content and extension.
    **options
        ``modality`` ("afm", "stem" or "spectra" when a file could be either: a bare
        .tif/.npy); ``channel`` (AFM channel name or index, default "height");
        ``pixel_size_nm`` (AFM, nm/px) / ``pixel_size_angstrom`` (STEM, Å/px), needed for
        files without one and overriding the file's value otherwise; ``unit`` ("cm-1", "eV",
        "nm") and ``excitation_nm`` (laser wavelength, nm) for spectra; ``frames``
        ("first" or "mean") for a STEM series. NeXus files ignore them.

    Returns
    -------
    HeightMap, Spectra, SpectralMap or StemImage
        A :class:`HeightMap` (AFM), :class:`Spectra` or :class:`SpectralMap` (Raman/PL), or a
        :class:`StemImage`.

    Raises
    ------
    InputError
        Naming the file and the problem for anything unreadable (missing, empty, truncated,
        unknown format, NaNs, bad axis).
    """
    path = Path(path)
    unknown = set(options) - _OPTIONS
    if unknown:
        raise InputError(f"unknown read option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
    if path.is_dir() and (path / "zarr.json").is_file():  # a map store (tmdlearn convert)
        from tmdlearn.engine.zarrstore import read_map_store

        return read_map_store(path)
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "not a file", path)
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head:
        raise InputError("the file is empty", path)
    modality = _modality(path, options)
    suffix = path.suffix.lower()
    frames = options.get("frames", "first")
    if suffix in stem.NION_FORMATS or head.startswith((b"PK\x03\x04", _HDF5_MAGIC)) \
            and suffix not in (*afm.AFM_FORMATS, *stem.EMD_FORMATS) \
            and (nion.is_nion_zip(path) or nion.is_nion_hdf5(path)):
        return nion.read_nion(path, options.get("pixel_size_angstrom"), frames)
    if suffix == ".npz" or head.startswith(b"PK\x03\x04") and suffix not in afm.AFM_FORMATS:
        return _read_npz(path, options, modality)
    if suffix == ".npy" or head.startswith(b"\x93NUMPY"):
        return _read_array(path, _load_npy(path), options, modality)
    if suffix in (".tif", ".tiff") or head.startswith(_TIFF_MAGIC) \
            and suffix not in afm.AFM_FORMATS:  # JPK images are TIFF files too
        return _read_tiff(path, options, modality)
    if suffix in stem.DM_FORMATS:
        return dm.read_dm(path, options.get("pixel_size_angstrom"), frames)
    if suffix in stem.EMD_FORMATS:
        return velox.read_emd(path, options.get("pixel_size_angstrom"), frames)
    if suffix in stem.GPL_FORMATS:
        return stem.read_stem_gpl(path, options.get("pixel_size_angstrom"), frames)
    if suffix == ".wdf" or head.startswith(b"WDF1"):
        return spectra.read_wdf(path, options.get("unit"), options.get("excitation_nm"))
    if suffix == ".sif" or sif.is_sif(head):
        return sif.read_sif(path, options.get("unit"), options.get("excitation_nm"))
    if suffix == ".spe":
        return spe.read_spe(path, options.get("unit"), options.get("excitation_nm"))
    fmt = afm.afm_format(path, head)
    if suffix in NEXUS_SUFFIXES or head.startswith(_HDF5_MAGIC) and fmt is False:
        return _read_nexus(path)  # HDF5-based AFM formats (Zygo .datx) go on below
    if suffix == ".spc":
        return spc.read_spc(path, options.get("unit"), options.get("excitation_nm"))
    if suffix in jcamp_dx.SUFFIXES or head.startswith(b"##TITLE"):
        return jcamp_dx.read_jcamp(path, options.get("unit"), options.get("excitation_nm"))
    if modality == "afm" and fmt is False and suffix in spectra.TEXT_SUFFIXES:
        fmt = None  # a text height export: SurfaceTopography tells which
    if fmt is not False and modality != "spectra":
        return afm.read_afm_instrument(path, options.get("channel", "height"),
                                       options.get("pixel_size_nm"), fmt)
    if suffix in spectra.TEXT_SUFFIXES or modality == "spectra":
        return spectra.read_text_spectra(path, options.get("unit"),
                                         options.get("excitation_nm"))
    raise InputError(f"unknown file format (extension {suffix or 'none'!r})", path)


def _read_nexus(path: Path) -> Container:
    from tmdlearn.interop.nexus import read_nexus

    item = read_nexus(path)
    if not isinstance(item, Container):
        raise InputError("holds map fit results, not a measurement: read it with "
                         "tmdlearn.interop.nexus.read_nexus", path)
    return item


def _modality(path: Path, options: dict) -> str | None:
    modality = options.get("modality")
    if modality is None:
        if options.get("pixel_size_nm") is not None:
            return "afm"
        if options.get("pixel_size_angstrom") is not None:
            return "stem"
        return None
    modality = str(modality).lower()
    aliases = {"afm": "afm", "stem": "stem", "haadf": "stem", "spectra": "spectra",
               "raman": "spectra", "pl": "spectra", "raman_map": "spectra",
               "pl_map": "spectra"}
    if modality not in aliases:
        raise InputError(f"unknown modality {modality!r}: use afm, stem or spectra", path)
    return aliases[modality]


def _load_npy(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as handle:
            check_npy_header(path, handle, path.stat().st_size, "the array")
            handle.seek(0)
            return np.load(handle, allow_pickle=False)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a NumPy array: {err}", path) from err


def _read_array(path: Path, values: np.ndarray, options: dict, modality: str | None):
    if modality == "stem":
        return stem.stem_from_array(path, values, options.get("pixel_size_angstrom"))
    values = as_image(path, values)
    if modality == "afm":
        return afm.height_map_from_array(path, values, options.get("pixel_size_nm"),
                                         options.get("channel", "height"))
    raise MissingPixelSize(afm.NO_PIXEL_SIZE, path)


def _read_npz(path: Path, options: dict, modality: str | None):
    try:
        _check_npz_members(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a NumPy archive: {err}", path) from err
    if "height_nm" in arrays and modality in (None, "afm"):
        return afm.height_map_from_npz(path, arrays, options.get("pixel_size_nm"))
    if modality == "stem" or modality is None and _stem_archive(path, arrays):
        return stem.stem_from_npz(path, arrays, options.get("pixel_size_angstrom"))
    if len(arrays) == 1 and modality == "afm":
        return _read_array(path, next(iter(arrays.values())), options, modality)
    described = ", ".join(sorted(arrays)[:6])
    raise InputError(
        f"not an instrument file: a NumPy archive with arrays {described} "
        "(tmdlearn reads .npz with height_nm or an image + pixel size; pass "
        "modality='stem' or --pixel-size for an image without one)", path,
    )


def _check_npz_members(path: Path) -> None:
    """Check every array's declared size in an .npz against its member's size in the zip
    directory before NumPy allocates it."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".npy"):
                with archive.open(info) as member:
                    check_npy_header(path, member, info.file_size, f"array {info.filename!r}")


def _stem_archive(path: Path, arrays: dict) -> bool:
    """Whether an .npz is a STEM image: tmdlearn's ``intensity``, or a pixel size that is
    unreadable (the STEM reader says why) or a STEM pixel (0.005-5 Å; AFM pixels are larger)."""
    if "intensity" in arrays:
        return True
    try:
        stated = stem.npz_pixel_size(path, arrays)
    except InputError:
        return True
    low, high = stem.PLAUSIBLE_PIXEL_ANGSTROM
    return stated is not None and low <= stated[0] <= high


def _read_tiff(path: Path, options: dict, modality: str | None):
    import tifffile

    quiet = logging.getLogger("tifffile")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # damaged tags end in InputError, not in log lines
    try:
        with tifffile.TiffFile(path) as tif:
            stated = stem.tiff_pixel_size(tif)
            is_park = any(tag.code == 50432 for tag in tif.pages[0].tags)  # Park PSIA magic
            _check_tiff_page(path, tif.pages[0])
            values = tif.pages[0].asarray()
            frames = _tiff_frames(path, tif, options.get("frames", "first"), values)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any parser failure on a user's file
        raise InputError(f"cannot read as a TIFF image: {err}", path) from err
    finally:
        quiet.setLevel(level)
    if is_park and modality in (None, "afm"):
        return afm.read_afm_instrument(path, options.get("channel", "height"),
                                       options.get("pixel_size_nm"), "ps")
    if modality == "afm":
        return afm.height_map_from_array(path, values, options.get("pixel_size_nm"),
                                         options.get("channel", "height"))
    if modality == "stem" or stated is not None:
        given, metadata = options.get("pixel_size_angstrom"), {}
        if frames is not None:  # a multi-page series of equal pages
            values, metadata = combine_frames(path, frames, options.get("frames", "first"))
        if given:
            stem.given_over(metadata, stated and stated[0])
            pixel = given
        else:
            pixel, metadata["pixel_size_source"] = stated or (None, None)
        return stem.stem_from_array(path, values, pixel, metadata)
    return _read_array(path, values, options, modality)


def _tiff_frames(path: Path, tif, how: str, first_values: np.ndarray) -> np.ndarray | None:
    """The pages of a multi-page TIFF of equal pages (a STEM series) as (frames, ny, nx): all
    of them read for ``how`` "mean"; for "first", ``first_values`` (page 0, already read)
    repeated as a view, which gives :func:`combine_frames` the count. None for a single page
    or pages of unequal shapes (thumbnails, pyramids)."""
    first = tif.pages[0]
    pages = [page for page in tif.pages if page.shape == first.shape
             and page.dtype == first.dtype]
    if len(pages) < 2 or len(pages) != len(tif.pages) or len(first.shape) != 2:
        return None
    if check_frames(how) == "first":
        return np.broadcast_to(first_values, (len(pages), *first.shape))
    for page in pages:
        _check_tiff_page(path, page)
    return np.stack([page.asarray() for page in pages])


def _check_tiff_page(path: Path, page) -> None:
    """The page's declared image size against the file (uncompressed data) or the cap."""
    if page.dtype is None:
        return  # a sample format tifffile cannot decode: asarray says so
    uncompressed = page.compression == 1
    check_declared_size(path, page.shape, page.dtype,
                        path.stat().st_size if uncompressed else None, "the TIFF page")
