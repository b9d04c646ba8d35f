"""Readers (and the few writers) of instrument files; the only place files are parsed."""

from tmdlearn.io.atomic import atomic_path, write_text

__all__ = ["atomic_path", "write_text"]
