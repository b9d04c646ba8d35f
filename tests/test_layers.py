"""The layers of docs/architecture.md: a package imports only its own layer and the layers
below it (module-level and deferred imports alike), workflows never import each other, and
no module imports another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tmdlearn"

#: Layer of every top-level package or module (docs/architecture.md, bottom up).
LAYERS = {
    "tmdlearn": 0, "errors": 0, "config": 0, "progress": 0, "constants": 0, "raster": 0,
    "outcome": 0,
    "data": 1,
    "io": 2, "examples": 2, "engine": 2,
    "spectra": 3, "afm": 3, "synth": 3, "models": 3, "learn": 3,
    "crossmodal": 4, "explain": 4, "stem": 4, "classify": 4,
    "report": 5, "interop": 5,
    "cli": 6, "__main__": 6,
}
WORKFLOWS = {name for name, layer in LAYERS.items() if layer == 4}
#: The upward imports left, each with its reason (docs/architecture.md "Known exceptions").
KNOWN = {
    ("io", "interop"),          # io.read opens .nxs through interop.nexus (deferred import)
    ("crossmodal", "report"),   # crossmodal.figures draws with report.figures' pyplot
}


def _imports():
    """(importing package, imported package, imported names, file) of every tmdlearn import."""
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        package = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tmdlearn"):
                parts = node.module.split(".")
                target = parts[1] if len(parts) > 1 else "tmdlearn"
                yield package, target, [a.name for a in node.names], rel


def test_every_package_has_a_layer():
    packages = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
                if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()))}
    assert packages - {"__init__"} <= set(LAYERS), packages - set(LAYERS)


def test_no_upward_imports_and_no_workflow_imports_another():
    upward = {(pkg, target, str(rel)) for pkg, target, _, rel in _imports()
              if target != pkg and LAYERS.get(target, 0) > LAYERS[pkg]
              and (pkg, target) not in KNOWN}
    across = {(pkg, target, str(rel)) for pkg, target, _, rel in _imports()
              if pkg in WORKFLOWS and target in WORKFLOWS and target != pkg}
    assert not upward, sorted(upward)
    assert not across, sorted(across)
    assert all(LAYERS[a] < LAYERS[b] for a, b in KNOWN)  # exceptions are real upward arrows


def test_no_private_names_across_modules():
    private = {(str(rel), name) for _, _, names, rel in _imports() for name in names
               if name.startswith("_") and not name.startswith("__")}
    assert not private, sorted(private)
