"""Exchange with the ecosystem: NeXus / HDF5 files (``tmdlearn.interop.nexus``, h5py) and
HyperSpy signals (``tmdlearn.interop.hyperspy``, optional GPL extra ``tmdlearn[hyperspy]``).

Modules here import their third-party library themselves; the core never imports them.
"""
