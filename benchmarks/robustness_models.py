"""Model files are data, never code (issue #24): the model part of benchmarks/robustness.py.

:func:`model_checks` returns one JSON-ready dict:

- ``malicious``: per loader (crossmodal predict, stem predict --model, stem train --init, the
  explain regressor, classify predict, models convert), a model file whose pickle would create
  a file: the exit code, the one line printed and whether the file was created;
- ``shipped``: each shipped Gomb-Net model loaded with its card checked, card summary, and the
  largest difference of its logits on a simulated image from those of the old ``.pt`` file at
  git ``--before`` (0 = identical; skipped without git);
- ``crossmodal`` (with ``--crossmodal-run`` an old-format run folder, e.g. the demo's): each
  old model read with the restricted reader, converted, reloaded, and the largest difference
  of the two predictions on random inputs of its width;
- ``bad_input``: missing / malformed card, swapped / truncated weights, wrong material, newer
  major version: exit code, whether the line names the file, whether anything was written.

    python benchmarks/robustness_models.py [--before 0cfdb78] [--crossmodal-run DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from tmdlearn.cli import main
from tmdlearn.models.store import read_model
from tmdlearn.models.unet import UNet
from tmdlearn.stem.inference import load_model, predict_logits, save_model, shipped_model_path
from tmdlearn.synth.stem import StemSimConfig, simulate_image, split_seed

ROOT = Path(__file__).resolve().parents[1]
META = {"material": "graphene", "species": ["C"], "layers": 2, "pixel_size_angstrom": 0.1,
        "label_radius_angstrom": 0.35, "normalisation": None}


class Payload:
    """Unpickling this calls open(marker, "w"): a file appears if the pickle is ever run
    (tests/test_models_safety.py uses it too)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _cli(args: list) -> tuple[int, str]:
    """Exit code and stderr of ``tmdlearn ARGS`` run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as stop:
            code = stop.code or 0
    return int(code), err.getvalue().strip()


def _malicious_checks(tmp: Path) -> dict:
    from tmdlearn.crossmodal.workflow import DEFAULTS
    from tmdlearn.errors import InputError
    from tmdlearn.explain.regressor import RamanPLRegressor

    image = tmp / "image.npy"
    np.save(image, np.zeros((32, 32), np.float32))
    spectrum = tmp / "s.txt"
    spectrum.write_text("380 1\n400 2\n420 1\n")
    run = tmp / "run"
    (run / "models").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": DEFAULTS}))
    results = {}
    loaders = {
        "crossmodal predict": lambda evil, out: ["crossmodal", "predict", spectrum, "--models",
                                                 run, "--out", out],
        "stem predict --model": lambda evil, out: ["stem", "predict", image, "--pixel-size",
                                                   "0.1", "--out", out, "--model", evil],
        "stem train --init": lambda evil, out: ["stem", "train", "--out", out, "--set",
                                                f"init={evil}", "--set", "train.steps=1"],
        "explain regressor": None,
        "classify predict": lambda evil, out: ["classify", "predict", image, "--model", evil,
                                               "--out", out],
        "models convert": lambda evil, out: ["models", "convert", evil, out],
    }
    for name, args in loaders.items():
        marker, out = tmp / f"created-{len(results)}", tmp / f"out-{len(results)}"
        evil = (run / "models" / "raman_to_umap.pt" if name == "crossmodal predict"
                else tmp / f"model-{len(results)}.pt")
        torch.save({"unet": {}, "state_dict": {}, "meta": Payload(marker)}, evil)
        if args is None:
            try:
                RamanPLRegressor.load(evil)
                code, line = 0, ""
            except InputError as err:
                code, line = 2, f"error: {err}"
        else:
            code, line = _cli(args(evil, out))
        results[name] = {"exit_code": code, "line": line.replace(str(tmp), "TMP"),
                         "file_created": marker.exists(),
                         "output_written": out.exists() and any(out.rglob("*.*"))}
        evil.unlink()
    return results


def _old_payload(material: str, before: str) -> dict | None:
    """The old shipped ``.pt`` of ``material`` at git ``before`` (read weights-only)."""
    try:
        data = subprocess.run(["git", "show", f"{before}:src/tmdlearn/stem/weights/"
                               f"{material}.pt"], cwd=ROOT, capture_output=True, check=True,
                              timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _shipped_checks(before: str) -> dict:
    results = {}
    for material in ("graphene", "ws2"):
        path = shipped_model_path(material)
        code, _ = _cli(["models", "show", path])
        model, meta = load_model(material=material, device="cpu", fast=False)
        _, card, _ = read_model(path)
        entry = {"models_show_exit_code": code, "material": card["material"],
                 "tmdlearn_version": card["tmdlearn_version"], "task": card["task"],
                 "pixel_size_angstrom": card["inputs"]["pixel_size_angstrom"],
                 "files": sorted(card["files"])}
        old = _old_payload(material, before)
        if old is not None:
            reference = UNet(**old["unet"])
            reference.load_state_dict(old["state_dict"])
            reference.eval()
            cfg = StemSimConfig.from_dict({**meta["config"]["data"], "size_px": 128})
            image = simulate_image(cfg, split_seed(0, "test", 0)).image
            new = predict_logits(model, image, 2)
            ref = predict_logits(reference, image, 2)
            entry["max_abs_logit_difference_vs_before"] = float(np.abs(new - ref).max())
            entry["meta_identical_to_before"] = old["meta"] == meta
        results[material] = entry
    return results


def _crossmodal_checks(run: Path, tmp: Path) -> dict:
    from tmdlearn.crossmodal.saved import load_models, old_classes
    from tmdlearn.models.convert import base_globals, read_old

    copy = tmp / "crossmodal-run"
    (copy / "models").mkdir(parents=True)
    for name in ("run.json", "metrics.json"):
        if (run / name).is_file():
            shutil.copy(run / name, copy / name)
    olds = {}
    for path in sorted((run / "models").glob("*.pt")):
        shutil.copy(path, copy / "models" / path.name)
        olds[path.stem] = read_old(path, base_globals() + old_classes())
    code, line = _cli(["models", "convert", copy])
    config = json.loads((copy / "run.json").read_text())["config"]
    news = load_models(copy / "models", config)
    rng = np.random.default_rng(0)
    diffs = {}
    for name, old in olds.items():
        new = news[name]
        if isinstance(old, dict) and "targets" in old:
            width = len(old["axis"]) if old.get("axis") is not None else 4
            x = rng.random((5, width))
            pairs = [(old[m][t].predict(x), new[m][t].predict(x))
                     for m in ("ridge", "svr") for t in old.get(m) or {}]
            if "mlp" in old:
                pairs.append((old["mlp"].predict(x), new["mlp"].predict(x)))
        elif isinstance(old, dict):  # a generator's state
            x = rng.random((5, sum(old["in_dims"])))
            from tmdlearn.crossmodal.generate import generator_from_state

            pairs = [(generator_from_state(old).predict(x), new.predict(x))]
        else:
            x = rng.random((5, old.x_mean.size))
            pairs = [(old.predict(x), new.predict(x))]
        diffs[name] = float(max(np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in pairs))
    return {"convert_exit_code": code, "max_abs_prediction_difference": diffs,
            "convert_error": line or None}


def _bad_input_checks(tmp: Path) -> dict:
    image = tmp / "bad-image.npy"
    np.save(image, np.zeros((32, 32), np.float32))
    results = {}
    for kind in ("missing card", "malformed card", "swapped weights", "truncated weights",
                 "wrong material", "newer major version"):
        torch.manual_seed(0)
        folder = save_model(tmp / f"bad-{len(results)}", UNet(1, 1, 2, 2, 4, 0.0, "batch"), META)
        weights, card = folder / "weights.safetensors", folder / "model.json"
        if kind == "missing card":
            card.unlink()
        elif kind == "malformed card":
            card.write_text("{not json")
        elif kind == "swapped weights":
            torch.manual_seed(1)
            other = save_model(tmp / "other", UNet(1, 1, 2, 2, 4, 0.0, "batch"), META)
            weights.write_bytes((other / "weights.safetensors").read_bytes())
        elif kind == "truncated weights":
            weights.write_bytes(weights.read_bytes()[:1000])
        elif kind == "newer major version":
            card.write_text(json.dumps({**json.loads(card.read_text()),
                                        "tmdlearn_version": "99.0.0"}))
        out = tmp / f"bad-out-{len(results)}"
        extra = ["--material", "ws2"] if kind == "wrong material" else []
        code, line = _cli(["stem", "predict", image, "--pixel-size", "0.1", "--out", out,
                           "--model", folder, *extra])
        results[kind] = {"exit_code": code, "one_line": bool(line) and "\n" not in line,
                         "names_the_file": str(folder) in line,
                         "line": line.replace(str(tmp), "TMP"), "written": out.exists()}
    return results


def model_checks(before: str = "0cfdb78", crossmodal_run: str | Path | None = None) -> dict:
    """The model-file checks of issue #24 as one JSON-ready dict (see the module docstring)."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        malicious = _malicious_checks(tmp)
        result = {
            "malicious": malicious,
            "malicious_all_refused": all(r["exit_code"] == 2 and not r["file_created"]
                                         for r in malicious.values()),
            "shipped": _shipped_checks(before),
            "bad_input": _bad_input_checks(tmp),
        }
        if crossmodal_run:
            result["crossmodal"] = _crossmodal_checks(Path(crossmodal_run), tmp)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="0cfdb78", help="git revision with the old .pt")
    parser.add_argument("--crossmodal-run", default=None, help="an old-format crossmodal run")
    args = parser.parse_args()
    print(json.dumps(model_checks(args.before, args.crossmodal_run), indent=2))
