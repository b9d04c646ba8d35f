"""`tmdlearn convert INPUT OUT.nxs`: any file tmdlearn reads, written as NeXus."""

from __future__ import annotations

from pathlib import Path

import typer

from tmdlearn.errors import InputError

FORMATS = {".nxs": "nexus", ".nx5": "nexus", ".h5": "nexus", ".hdf5": "nexus"}


def convert(
    source: Path = typer.Argument(..., help="Instrument file (anything `tmdlearn inspect` reads)."),
    out: Path = typer.Argument(..., help="Output file: .nxs (NeXus / HDF5)."),
    unit: str = typer.Option(None, "--unit", help="Spectral axis unit (cm-1, eV, nm) when "
                             "the file does not say."),
    excitation_nm: float = typer.Option(None, "--excitation-nm", help="Laser line, nm."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size of a bare "
                                     "image: nm (AFM, with --modality afm) or Å (STEM)."),
    modality: str = typer.Option(None, "--modality", help="afm, stem or spectra, for files "
                                 "that could be either."),
) -> None:
    """Write a map, spectra, AFM or STEM image as NeXus (NXdata with axes and units; the
    input's sha256 in NXprocess), readable by h5py, nexusformat and silx."""
    from tmdlearn.interop.nexus import write_nexus
    from tmdlearn.io import read

    if FORMATS.get(out.suffix.lower()) != "nexus":
        raise InputError(f"unknown output format {out.suffix or 'none'!r}: use .nxs", out)
    options = {"unit": unit, "excitation_nm": excitation_nm, "modality": modality}
    if pixel_size is not None:
        key = "pixel_size_nm" if (modality or "").lower() == "afm" else "pixel_size_angstrom"
        options[key] = pixel_size
    item = read(source, **{k: v for k, v in options.items() if v is not None})
    write_nexus(out, item, config={"read": options}, inputs=[source])
    typer.echo(f"{source} -> {out} ({type(item).__name__})")
