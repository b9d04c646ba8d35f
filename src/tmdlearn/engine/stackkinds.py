"""The kinds of image stack a zarr store holds (AFM heights, STEM frames), the files that
count as AFM images, and a store's image array."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KIND = "height_stack"
#: Bare arrays read as AFM images when a command or ``--modality afm`` says they are AFM.
ARRAY_SUFFIXES = (".npz", ".npy", ".tif", ".tiff")


@dataclass(frozen=True)
class StackKind:
    """What one kind of image stack stores, and as what its images are read.

    Attributes
    ----------
    kind : str
        The ``kind`` attribute of its stores.
    array : str
        The (n, ny, nx) array of the store.
    values : str
        The container's pixel values field.
    pixel_size : str
        The container's (and the store attribute's) pixel-size field.
    unit : str
        Unit of the values.
    label : str
        Its images, in messages ("AFM images").
    """

    kind: str
    array: str
    values: str
    pixel_size: str
    unit: str
    label: str


#: AFM height maps: heights (nm), pixel sizes in nm.
AFM = StackKind(KIND, "height", "height_nm", "pixel_size_nm", "nm", "AFM images")
#: HAADF-STEM frames: detector counts, pixel sizes in Å.
STEM = StackKind("stem_stack", "intensity", "intensity", "pixel_size_angstrom", "counts",
                 "STEM frames")
STACK_KINDS = {k.kind: k for k in (AFM, STEM)}


def afm_files(folder: Path, arrays: bool = True) -> list[Path]:
    """The AFM files of ``folder`` and its subfolders, sorted.

    Parameters
    ----------
    folder : Path
        A folder.
    arrays : bool
        Whether bare arrays (``.npz``, ``.npy``, ``.tif``) count, besides the AFM instrument
        formats.

    Returns
    -------
    list of Path
    """
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_afm_file(p, arrays))


def is_afm_file(path: Path, arrays: bool = True) -> bool:
    """Whether the suffix of ``path`` is an AFM format's (or, with ``arrays``, a bare array's).

    Parameters
    ----------
    path : Path
        A file name.
    arrays : bool
        Whether ``.npz``, ``.npy`` and ``.tif`` count.

    Returns
    -------
    bool
    """
    from tmdlearn.io.afm import AFM_FORMATS, NANOSCOPE_NUMBERED

    suffix = path.suffix.lower()
    return suffix in AFM_FORMATS or bool(NANOSCOPE_NUMBERED.match(suffix)) \
        or arrays and suffix in ARRAY_SUFFIXES




def stack_array(path: Path, kind: StackKind):
    """The (n, ny, nx) image array of a stack store, opened read-only (nothing read yet).

    Parameters
    ----------
    path : Path
        The store folder.
    kind : StackKind
        Its kind (which array).

    Returns
    -------
    zarr.Array
    """
    import zarr

    return zarr.open_array(path / kind.array, mode="r")
