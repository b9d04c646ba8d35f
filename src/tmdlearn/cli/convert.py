"""`tmdlearn convert INPUT OUT.nxs|OUT.zarr`: any file tmdlearn reads as NeXus, or spectra
and maps as a chunked zarr map store."""

from __future__ import annotations

from pathlib import Path

import typer

from tmdlearn.errors import InputError

FORMATS = {".nxs": "nexus", ".nx5": "nexus", ".h5": "nexus", ".hdf5": "nexus", ".zarr": "zarr"}


def convert(
    source: Path = typer.Argument(..., help="Instrument file (anything `tmdlearn inspect` "
                                  "reads); for .zarr also a folder of spectra on one axis, a "
                                  "folder of AFM (or, with --modality stem, STEM) images of "
                                  "one shape or a zarr store."),
    out: Path = typer.Argument(..., help="Output: .nxs (NeXus / HDF5) or .zarr (a chunked "
                               "map store, or an AFM or STEM image stack)."),
    unit: str = typer.Option(None, "--unit", help="Spectral axis unit (cm-1, eV, nm) when "
                             "the file does not say."),
    excitation_nm: float = typer.Option(None, "--excitation-nm", help="Laser line, nm."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size of a bare "
                                     "image: nm (AFM, with --modality afm) or Å (STEM)."),
    modality: str = typer.Option(None, "--modality", help="afm, stem or spectra, for files "
                                 "that could be either."),
    chunk_pixels: int = typer.Option(16384, "--chunk-pixels", help=".zarr: spectra per chunk "
                                     "(whole map rows)."),
) -> None:
    """Write a map, spectra, AFM or STEM image as NeXus (NXdata with axes and units; the
    input's sha256 in NXprocess), readable by h5py, nexusformat and silx; or spectra, a
    spectral map or a folder of spectra as a zarr map store (chunks of whole spectra; axis,
    units and provenance in its attributes) that spectra fit reads a chunk at a time; or AFM
    images (a file or a folder, one shape) or STEM frames (--modality stem) as a zarr image
    stack (one image per chunk) whose images the afm commands' (or stem predict's) workers
    read themselves."""
    from tmdlearn.interop.nexus import write_nexus
    from tmdlearn.io import read

    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        said = f"unknown output format {out.suffix!r}" if out.suffix else "no output format"
        raise InputError(f"{said}: end OUT with .nxs (NeXus) or .zarr (chunked store)", out)
    if kind == "zarr":
        from tmdlearn.engine.convert import convert_to_store
        from tmdlearn.engine.imagestack import HeightStack

        options = {"unit": unit, "excitation_nm": excitation_nm, "modality": modality,
                   "pixel_size_nm": pixel_size if (modality or "").lower() == "afm" else None,
                   "pixel_size_angstrom": pixel_size if (modality or "").lower() == "stem"
                   else None}
        store = convert_to_store(source, out, chunk_pixels,
                                 **{k: v for k, v in options.items() if v is not None})
        if isinstance(store, HeightStack):
            typer.echo(f"{source} -> {out} ({store.kind.kind}, {len(store)} images of "
                       f"{store.shape[1]} x {store.shape[2]} px, one per chunk)")
            return
        typer.echo(f"{source} -> {out} ({store.kind}, {' x '.join(map(str, store.shape))} "
                   f"spectra of {store.axis.size} points, {store.chunk_rows} rows per chunk)")
        return
    options = {"unit": unit, "excitation_nm": excitation_nm, "modality": modality}
    if pixel_size is not None:
        key = "pixel_size_nm" if (modality or "").lower() == "afm" else "pixel_size_angstrom"
        options[key] = pixel_size
    item = read(source, **{k: v for k, v in options.items() if v is not None})
    write_nexus(out, item, config={"read": options}, inputs=[source])
    typer.echo(f"{source} -> {out} ({type(item).__name__})")
