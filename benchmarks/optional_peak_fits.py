"""Fits with an optional peak that is not in the spectrum: the planted MoS2 Raman spectra of the
cross-modal tests (no substrate lines, ``tests/crossmodal_planted.py``, seeds 0-7, 48 each)
fitted with ``mos2-raman`` plus its optional sapphire lines, counting the fits that stop at the
iteration limit (``converged`` false, verdict poor) and their R². Prints one JSON object.

    PYTHONPATH=src python benchmarks/optional_peak_fits.py [--max-iter 100]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from crossmodal_planted import planted  # noqa: E402  (the tests' planted spectra)
from tmdlearn.spectra import fit_peaks, load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=None,
                        help="LM iterations (default: fit_peaks' LM_MAX_ITER)")
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    model = load_model("mos2-raman", ("sapphire", "sapphire378"))
    stopped, r2, total = 0, [], 0
    for seed in range(args.seeds):
        data, _ = planted(seed=seed)
        table = fit_peaks(data.raman, model, axis=data.raman_axis, progress=False,
                          max_iter=args.max_iter).table()
        limit = ~table["converged"].to_numpy(bool)
        stopped += int(limit.sum())
        r2 += table.loc[limit, "r2"].tolist()
        total += len(table)
    print(json.dumps({"max_iter": args.max_iter, "spectra": total, "stopped_at_limit": stopped,
                      "r2_of_stopped_min": round(float(np.min(r2)), 4) if r2 else None}))


if __name__ == "__main__":
    main()
