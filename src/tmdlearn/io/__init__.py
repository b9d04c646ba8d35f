"""Readers and writers of instrument files; the only place files are parsed.

``read(path, **options)`` returns a typed container (HeightMap, Spectra, SpectralMap or
StemImage) with physical units; the writers produce files that read back the same.
"""

from tmdlearn.io.atomic import atomic_path, write_text
from tmdlearn.io.dataset import open_dataset
from tmdlearn.io.read import read
from tmdlearn.io.write import write_height_map, write_labspec, write_stem

__all__ = ["atomic_path", "open_dataset", "read", "write_height_map", "write_labspec",
           "write_stem", "write_text"]
