"""The tmdlearn napari plugin (npe2 manifest ``napari.yaml``, entry point ``napari.manifest``).

napari finds it through the entry point and imports these modules itself; tmdlearn's core
never imports them. ``reader`` opens every file tmdlearn reads and its outputs, ``widget``
runs ``stem predict`` or a map fit on an open layer; ``layers`` and ``run`` do the work
without napari (they make plain layer-data tuples).
"""
