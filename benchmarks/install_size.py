"""Install size and time of tmdlearn's core and of each optional extra, in fresh venvs.

The core goes into a new venv (``pip install --no-cache-dir ROOT``); each extra goes into a
venv of its own that sees the core venv's packages (a ``.pth`` file), so that its numbers are
what the extra adds on top of the core. Sizes are ``du`` of each venv (MB, 10^6 bytes); times
are pip's wall-clock seconds, with whatever index pip is configured with (download time is
part of it when that is a remote index). ``--qt`` adds the napari extra with a Qt binding
(``napari[pyqt5]``, for the viewer window).

Prints one JSON object. Run: ``python benchmarks/install_size.py [--extras dev,gpl,...]
[--qt] [--keep DIR]`` (needs no tmdlearn import; takes minutes: torch is most of the core).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _size_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*")
                     if f.is_file() and not f.is_symlink()) / 1e6, 1)


def _venv(path: Path, sees: Path | None = None) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    site = next((path / "lib").glob("python3*/site-packages"))
    if sees is not None:
        (site / "core-venv.pth").write_text(str(sees) + "\n")
    return site


def _pip(venv: Path, requirements: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "pip"), "install", "--no-cache-dir", "-q",
                    *requirements], check=True)
    return round(time.perf_counter() - started, 1)


def measure(extras: list[str], qt: bool, where: Path) -> dict:
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    core = where / "core"
    core_site = _venv(core)
    empty = _size_mb(core)
    seconds = _pip(core, [str(ROOT)])
    result = {"python": sys.version.split()[0],
              "core": {"seconds": seconds, "mb": round(_size_mb(core) - empty, 1)}}
    wanted = {name: optional[name] for name in extras}
    if qt:
        wanted["napari+qt"] = [*optional["napari"], "napari[pyqt5]"]
    for name, requirements in wanted.items():
        venv = where / name.replace("+", "-")
        _venv(venv, sees=core_site)
        base = _size_mb(venv)
        seconds = _pip(venv, requirements)
        result[name] = {"requirements": requirements, "seconds": seconds,
                        "mb": round(_size_mb(venv) - base, 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="dev,gpl,hyperspy,napari,browser")
    parser.add_argument("--qt", action="store_true", help="also napari with PyQt5")
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them")
    args = parser.parse_args()
    where = args.keep or Path(tempfile.mkdtemp(prefix="tmdlearn-install-"))
    where.mkdir(parents=True, exist_ok=True)
    try:
        result = measure([e for e in args.extras.split(",") if e], args.qt, where)
    finally:
        if args.keep is None:
            shutil.rmtree(where, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
