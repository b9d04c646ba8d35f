"""NumPy-style docstrings on the public API (issue #19), checked as a ratchet: every module in
:data:`COMPLIANT` has, on each public module-level function and each public method of a public
class, a docstring with a ``Parameters`` section naming every parameter (self/cls aside) and a
``Returns`` (or ``Yields``) section unless the function returns no value. Add a module to the
list once its docstrings are converted; the list only grows."""

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tmdlearn"
#: Modules (paths under src/tmdlearn) whose public docstrings are NumPy style.
COMPLIANT = [
    "spectra/peaks.py",
    "spectra/quality.py",
    "spectra/presence.py",
    "spectra/mapfit.py",
    "spectra/curves.py",
    "spectra/preprocess.py",
    "spectra/despike.py",
    "stem/inference.py",
    "stem/modelstore.py",
    "stem/normalisation.py",
    "stem/tiles.py",
    "stem/prior.py",
    "stem/honeycomb.py",
    "stem/atoms.py",
    "stem/distortion.py",
    "stem/lattice.py",
    "io/read.py",
    "learn/__init__.py",
    "learn/augment.py",
    "learn/bootstrap.py",
    "learn/cv.py",
    "learn/metrics.py",
    "learn/regression.py",
    "learn/train.py",
    "learn/tune.py",
    "explain/__init__.py",
    "explain/figures.py",
    "explain/ice.py",
    "explain/inputs.py",
    "explain/pdp.py",
    "explain/regressor.py",
    "explain/render.py",
    "explain/scores.py",
    "explain/workflow.py",
    "explain/pairs.py",
    "explain/analyse.py",
    "explain/results.py",
    "classify/__init__.py",
    "classify/evaluate.py",
    "classify/figures.py",
    "classify/heads.py",
    "classify/mlp_head.py",
    "classify/tuning.py",
    "classify/inputs.py",
    "classify/latent.py",
    "classify/saved.py",
    "classify/strategies.py",
    "classify/workflow.py",
    "crossmodal/__init__.py",
    "crossmodal/data.py",
    "crossmodal/figures.py",
    "crossmodal/generate.py",
    "crossmodal/predict.py",
    "crossmodal/published.py",
    "crossmodal/readout.py",
    "crossmodal/regress.py",
    "crossmodal/saved.py",
    "crossmodal/targets.py",
    "crossmodal/workflow.py",
    "crossmodal/tasks.py",
    "crossmodal/regression_step.py",
    "crossmodal/generation_step.py",
    "crossmodal/readout_step.py",
    "io/afm.py",
    "io/arrays.py",
    "io/atomic.py",
    "io/dm.py",
    "io/dm_layout.py",
    "io/gwy.py",
    "io/hdf5_layout.py",
    "io/wdf_layout.py",
    "io/spectra.py",
    "io/spc.py",
    "io/stem.py",
    "io/velox.py",
    "io/write.py",
    "io/dataset.py",
    "afm/level.py",
    "afm/surface.py",
    "afm/thresholds.py",
    "afm/twopass.py",
    "afm/shifts.py",
    "afm/batch.py",
    "afm/blobs.py",
    "afm/edges.py",
    "afm/gauss.py",
    "afm/maxima.py",
    "afm/morphology.py",
    "afm/structure.py",
    "afm/texture.py",
    "afm/embed.py",
    "afm/figures.py",
    "afm/workflow.py",
    "stem/analysis.py",
    "stem/bonds.py",
    "stem/composition.py",
    "stem/densities.py",
    "stem/order_parameter.py",
    "stem/figures.py",
    "stem/fourier.py",
    "stem/losses.py",
    "stem/metrics.py",
    "stem/quality.py",
    "stem/grades.py",
    "stem/layer_checks.py",
    "stem/render.py",
    "stem/train.py",
    "stem/evaluation.py",
    "stem/workflow.py",
    "config.py",
    "progress.py",
    "outcome.py",
    "raster.py",
    "constants.py",
    "data/containers.py",
    "data/manifest.py",
    "data/paths.py",
    "data/splits.py",
    "report/figures.py",
    "report/html.py",
    "report/outdir.py",
    "report/run.py",
    "report/tables.py",
    "models/autoencoders.py",
    "models/backbones.py",
    "models/card.py",
    "models/cnn1d.py",
    "models/cnn_classifier.py",
    "models/convert.py",
    "models/mlp.py",
    "models/store.py",
    "models/unet.py",
    "interop/hyperspy.py",
    "interop/hyperspy_signals.py",
    "interop/nexus.py",
    "interop/napari/layers.py",
    "interop/napari/reader.py",
    "interop/napari/run.py",
    "interop/napari/widget.py",
    "synth/campaign.py",
    "synth/dataset.py",
    "synth/domains.py",
    "synth/film.py",
    "synth/haadf.py",
    "synth/maps.py",
    "synth/materials.py",
    "synth/optics.py",
    "synth/specimen.py",
    "synth/stem.py",
    "synth/stem_files.py",
    "synth/microscope.py",
    "synth/probe.py",
    "synth/scan.py",
    "synth/detector.py",
    "spectra/features.py",
    "spectra/fit_figure.py",
    "spectra/fitmaps.py",
    "spectra/lineshapes.py",
    "spectra/peakmodel.py",
    "spectra/regionfit.py",
    "spectra/workflow.py",
    "spectra/inputs.py",
    "spectra/prepare.py",
    "spectra/fit_inputs.py",
    "spectra/fit_results.py",
    "spectra/campaign.py",
    "spectra/__init__.py",
    "data/__init__.py",
    "interop/__init__.py",
    "interop/napari/__init__.py",
    "models/__init__.py",
    "report/__init__.py",
    "synth/__init__.py",
    "io/digest.py",
    "engine/__init__.py",
    "engine/scheduler.py",
    "io/spectral_units.py",
    "spectra/backend.py",
    "spectra/solver.py",
    "engine/zarrstore.py",
    "engine/results.py",
    "engine/lock.py",
    "engine/convert.py",
    "engine/imagestack.py",
    "spectra/chunked.py",
    "errors.py",
    "__init__.py",
    "__main__.py",
    "afm/__init__.py",
    "stem/__init__.py",
    "engine/choice.py",
    "examples/__init__.py",
    "io/__init__.py",
    "engine/stackkinds.py",
    "engine/lazyimages.py",
    "engine/stores.py",
]
HEADER = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.MULTILINE)


def sections(doc: str) -> dict[str, str]:
    """Section bodies of a NumPy-style docstring by header (``Parameters``, ``Returns``...)."""
    heads = list(HEADER.finditer(doc))
    return {m.group(1): doc[m.end():heads[i + 1].start() if i + 1 < len(heads) else None]
            for i, m in enumerate(heads)}


def listed_names(body: str) -> set[str]:
    """Parameter names of a Parameters section: unindented ``name : type`` or ``a, b : type``
    lines, stars removed."""
    names = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            names |= {n.strip().lstrip("*") for n in line.split(" : ")[0].split(",")}
    return names


def returns_value(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function's own body (not nested functions) has ``return <value>`` or yields."""
    todo = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            return True
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        todo.extend(ast.iter_child_nodes(node))
    return False


def public_functions(tree: ast.Module):
    """(qualified name, node, is_method) of the public functions and public methods."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not node.name.startswith("_"):
                yield node.name, node, False
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and not item.name.startswith("_")):
                    yield f"{node.name}.{item.name}", item, True


def is_property(func) -> bool:
    return any(isinstance(d, ast.Name) and d.id in ("property", "cached_property")
               or isinstance(d, ast.Attribute) and d.attr in ("setter", "cached_property")
               for d in func.decorator_list)


def problems(func, is_method: bool) -> list[str]:
    """What the docstring of one function lacks ([] when it is complete)."""
    doc = ast.get_docstring(func)
    if not doc:
        return ["no docstring"]
    if is_property(func):  # an attribute: its docstring says what it holds
        return []
    args = func.args
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    params += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    if is_method and params and params[0] in ("self", "cls"):
        params = params[1:]
    found = sections(doc)
    out = []
    if params:
        if "Parameters" not in found:
            out.append("no Parameters section")
        else:
            missing = [p for p in params if p not in listed_names(found["Parameters"])]
            if missing:
                out.append(f"Parameters lacks {', '.join(missing)}")
    if returns_value(func) and not {"Returns", "Yields"} & set(found):
        out.append("no Returns section")
    return out


def defects(path: Path) -> list[str]:
    """``name: problem`` for each public function of a module short of the NumPy style."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{name}: {p}" for name, func, is_method in public_functions(tree)
            for p in problems(func, is_method)]


@pytest.mark.parametrize("module", COMPLIANT)
def test_numpy_docstrings(module):
    assert defects(SRC / module) == []


def test_checker_finds_defects():
    code = '''
def good(a, *, b=1):
    """Sum.

    Parameters
    ----------
    a, b : float
        Terms (nm).

    Returns
    -------
    float
    """
    return a + b


def no_returns(a):
    """Half.

    Parameters
    ----------
    a : float
        Value.
    """
    return a / 2


def no_params(a, **kwargs):
    """Print.

    Parameters
    ----------
    a : float
        Value.
    """
    print(a, kwargs)


class Thing:
    def method(self, x):
        """Nothing returned, nothing listed."""

    def _private(self, x):
        return x
'''
    found = [f"{n}: {p}" for n, f, m in public_functions(ast.parse(code))
             for p in problems(f, m)]
    assert found == ["no_returns: no Returns section", "no_params: Parameters lacks kwargs",
                     "Thing.method: no Parameters section"]
