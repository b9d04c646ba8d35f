"""Exchange with the ecosystem: NeXus / HDF5 files (``tmdlearn.interop.nexus``).

Modules here import their third-party library themselves; the core never imports them.
"""
