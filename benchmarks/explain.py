"""The demo-sized explain run (configs/explain.yaml on the embedded WSe2 maps): wall and CPU
time, load average and the must-show figures, for each synthetic seed. Prints one JSON object.

    python benchmarks/explain.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from tmdlearn.config import load_config
from tmdlearn.explain import workflow
from tmdlearn.explain.inputs import load_pairs

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "explain.yaml"
KEYS = ("r2_train_intensity_resonant", "r2_val_intensity_resonant", "pdp_rank_A1_resonant",
        "ice_slope_pristine_resonant", "ice_slope_defect_resonant",
        "r2_val_intensity_nonresonant", "overfit_nonresonant")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        config = load_config(CONFIG, [f"data.synth.seed={seed}"], workflow.DEFAULTS)
        began, cpu = time.perf_counter(), _cpu_s()
        results = workflow.run_pairs(load_pairs(config["data"]), config)
        metrics = workflow.metrics(results)
        runs.append({"seed": seed, "wall_s": round(time.perf_counter() - began, 1),
                     "cpu_s": round(_cpu_s() - cpu, 1),
                     "load_average_1min": round(os.getloadavg()[0], 2),
                     **{k: metrics[k] for k in KEYS}})
    print(json.dumps({"benchmark": "explain", "config": str(CONFIG.name),
                      "cpu_count": os.cpu_count(), "runs": runs}))


if __name__ == "__main__":
    main()
