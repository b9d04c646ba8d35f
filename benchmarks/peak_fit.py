"""Benchmark: batched peak fitting vs a scipy curve_fit loop and an lmfit Model.fit loop.

Synthetic spectra: 3 Lorentzians (E2g ~385, A1g ~405, 2LA ~455 cm-1) on a linear background,
202 points over 355-480 cm-1, Gaussian noise (SNR of the A1g peak ~45), known truth. All three
fit the same spectra (the loops on subsets, scaled to spectra per second); then
``--n-large`` spectra are fitted with wall time and peak memory. Prints ONE JSON object.

    python benchmarks/peak_fit.py                      # 10,000 + 1,000,000 spectra
    python benchmarks/peak_fit.py --n 2000 --n-large 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

from tmdlearn.spectra import fit_peaks, load_model

AXIS = np.linspace(355.0, 480.0, 202)
PEAKS = ("E2g", "A1g", "2LA")


def synthetic(n: int, seed: int, dtype=np.float64, block: int = 65536):
    """(n, 202) spectra and their truth (dict of (n,) arrays), generated block by block."""
    rng = np.random.default_rng(seed)
    truth = {
        "E2g_center": 385 + rng.normal(0, 1.5, n), "E2g_fwhm": rng.uniform(3, 6, n),
        "E2g_height": rng.uniform(50, 100, n),
        "A1g_center": 405 + rng.normal(0, 1.5, n), "A1g_fwhm": rng.uniform(4, 7, n),
        "A1g_height": rng.uniform(60, 120, n),
        "2LA_center": 455 + rng.normal(0, 2, n), "2LA_fwhm": rng.uniform(9, 15, n),
        "2LA_height": rng.uniform(8, 20, n),
        "offset": rng.uniform(5, 30, n), "slope": rng.normal(0, 0.05, n),
    }
    y = np.empty((n, AXIS.size), dtype=dtype)
    for start in range(0, n, block):
        s = slice(start, min(n, start + block))
        block_y = (truth["offset"][s, None] + truth["slope"][s, None] * (AXIS - 417.5)
                   + rng.normal(0, 2.0, (s.stop - s.start, AXIS.size)))
        for p in PEAKS:
            u = 2 * (AXIS[None, :] - truth[f"{p}_center"][s, None]) / truth[f"{p}_fwhm"][s, None]
            block_y += truth[f"{p}_height"][s, None] / (1 + u * u)
        y[s] = block_y
    return y, truth


def model_function(x, *p):
    out = p[9] + p[10] * (x - 417.5)
    for k in range(3):
        h, c, w = p[3 * k:3 * k + 3]
        out = out + h / (1 + (2 * (x - c) / w) ** 2)
    return out


def initial_guess(y):
    """The preset's centres and widths, heights from the data: the same for every peer."""
    model = load_model("mos2-raman")
    p0 = []
    for peak in model.peaks:
        at = np.argmin(np.abs(AXIS - peak.center))
        p0 += [max(y[at] - y.min(), 1.0), peak.center, peak.fwhm]
    return p0 + [float(y.min()), 0.0]


def run_curve_fit(y):
    from scipy.optimize import curve_fit

    out = np.full((len(y), 11), np.nan)
    start = time.perf_counter()
    for i, row in enumerate(y):
        try:
            out[i] = curve_fit(model_function, AXIS, row, p0=initial_guess(row), method="lm")[0]
        except RuntimeError:
            pass
    return out, time.perf_counter() - start


def run_lmfit(y):
    import lmfit

    composite = lmfit.models.LinearModel(prefix="bg_")
    for k in range(3):
        composite = composite + lmfit.models.LorentzianModel(prefix=f"p{k}_")
    out = np.full((len(y), 6), np.nan)
    start = time.perf_counter()
    for i, row in enumerate(y):
        p0 = initial_guess(row)
        params = composite.make_params(slope=0.0, intercept=p0[9] - 0.0 * 417.5)
        for k in range(3):
            h, c, w = p0[3 * k:3 * k + 3]
            params[f"p{k}_center"].set(value=c)
            params[f"p{k}_sigma"].set(value=w / 2, min=0)
            params[f"p{k}_amplitude"].set(value=h * np.pi * w / 2, min=0)
        result = composite.fit(row, params, x=AXIS)
        for k in range(3):
            out[i, 2 * k] = result.params[f"p{k}_center"].value
            out[i, 2 * k + 1] = 2 * result.params[f"p{k}_sigma"].value
    return out, time.perf_counter() - start


def errors(centers, fwhms, truth, rows):
    """Median |Δposition| and |ΔFWHM| (cm-1) over the three peaks."""
    dc = np.abs(np.stack(centers, 1) - np.stack([truth[f"{p}_center"][rows] for p in PEAKS], 1))
    dw = np.abs(np.stack(fwhms, 1) - np.stack([truth[f"{p}_fwhm"][rows] for p in PEAKS], 1))
    return float(np.nanmedian(dc)), float(np.nanmedian(dw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="spectra for the comparison")
    parser.add_argument("--n-large", type=int, default=1_000_000, help="spectra for the scale "
                        "run (0 skips it)")
    parser.add_argument("--n-curve-fit", type=int, default=500)
    parser.add_argument("--n-lmfit", type=int, default=50)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_model("mos2-raman")
    y, truth = synthetic(args.n, args.seed)
    options = {"backend": args.backend, "dtype": args.dtype, "progress": False}

    start = time.perf_counter()
    ours = fit_peaks(y, model, AXIS, **options)
    t_ours = time.perf_counter() - start
    rows = np.arange(args.n)
    ours_err = errors([ours[f"{p}_center"] for p in PEAKS], [ours[f"{p}_fwhm"] for p in PEAKS],
                      truth, rows)

    cf_rows = np.arange(min(args.n_curve_fit, args.n))
    cf, t_cf = run_curve_fit(y[cf_rows])
    cf_err = errors([cf[:, 3 * k + 1] for k in range(3)], [cf[:, 3 * k + 2] for k in range(3)],
                    truth, cf_rows)
    lm_rows = np.arange(min(args.n_lmfit, args.n))
    lm, t_lm = run_lmfit(y[lm_rows])
    lm_err = errors([lm[:, 2 * k] for k in range(3)], [lm[:, 2 * k + 1] for k in range(3)],
                    truth, lm_rows)
    # the same subset for our solver, so position errors compare like for like
    ours_cf_err = errors([ours[f"{p}_center"][cf_rows] for p in PEAKS],
                         [ours[f"{p}_fwhm"][cf_rows] for p in PEAKS], truth, cf_rows)

    speed = {"ours": args.n / t_ours, "curve_fit": len(cf_rows) / t_cf,
             "lmfit": len(lm_rows) / t_lm}
    report = {
        "benchmark": "peak_fit",
        "spectra": args.n, "points": AXIS.size, "peaks": 3,
        "dtype": args.dtype, "backend": args.backend,
        "cpu_count": os.cpu_count(), "loadavg_before": os.getloadavg(),
        "spectra_per_s": {k: round(v, 1) for k, v in speed.items()},
        "ratio_vs_curve_fit": round(speed["ours"] / speed["curve_fit"], 1),
        "ratio_vs_lmfit": round(speed["ours"] / speed["lmfit"], 1),
        "median_abs_dposition_cm1": {"ours": ours_err[0], "ours_on_curve_fit_subset":
                                     ours_cf_err[0], "curve_fit": cf_err[0],
                                     "lmfit": lm_err[0]},
        "median_abs_dfwhm_cm1": {"ours": ours_err[1], "ours_on_curve_fit_subset":
                                 ours_cf_err[1], "curve_fit": cf_err[1], "lmfit": lm_err[1]},
        "position_error_ratio_vs_curve_fit": round(ours_cf_err[0] / cf_err[0], 3),
        "converged_fraction": float(ours.converged.mean()),
    }
    if args.n_large:
        del y
        big, big_truth = synthetic(args.n_large, args.seed + 1, dtype=np.float32)
        start = time.perf_counter()
        fit = fit_peaks(big, model, AXIS, **options)
        t_big = time.perf_counter() - start
        big_err = errors([fit[f"{p}_center"] for p in PEAKS], [fit[f"{p}_fwhm"] for p in PEAKS],
                         big_truth, np.arange(args.n_large))
        report["large"] = {
            "spectra": args.n_large, "wall_s": round(t_big, 1),
            "spectra_per_s": round(args.n_large / t_big, 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "converged_fraction": float(fit.converged.mean()),
            "median_abs_dposition_cm1": big_err[0],
        }
    report["loadavg_after"] = os.getloadavg()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
