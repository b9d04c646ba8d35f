"""The AFM workflow: read, level, physical features and deep embeddings of height maps."""

from __future__ import annotations

#: The documented config of ``tmdlearn afm level|features|embed`` (docs/afm.md).
DEFAULTS = {
    "level": {"method": "two-pass", "order": 2, "threshold": "otsu", "scars": True,
              "zero": "substrate"},
    "features": {"sigma_px": 1.0, "threshold": "step", "opening_px": 1, "min_domain_px": 4,
                 "domain_method": "split", "boundary_depth_nm": 0.1, "edge_sigma_px": 2.0,
                 "smooth_sigma_px": 2.0, "blob_threshold_nm": 0.1, "monolayer_nm": 0.65},
    "embed": {"backbone": "efficientnet-lite0", "weights": "default", "batch_size": 32,
              "device": "auto", "clip_nm": 1.5, "size": 224, "cache": True,
              "methods": ["umap", "pca"], "n_neighbors": None, "seed": 0, "n_boot": 1000},
    # Threads levelling and featurising images at once (one BLAS thread each).
    "run": {"workers": 1},
}
