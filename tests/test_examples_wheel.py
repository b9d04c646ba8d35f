"""The demo's data ship as package data: the shipped example files are found and read from an
installed wheel, away from the source tree (no tests/data, no configs/)."""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tmdlearn.errors import InputError
from tmdlearn.examples import EXAMPLE_FILES, example_path

ROOT = Path(__file__).resolve().parents[1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_example_file_is_shipped_with_its_license():
    for name in EXAMPLE_FILES:
        path = example_path(name)
        assert path.stat().st_size > 1000
        assert any(p.name.startswith("LICENSE") for p in path.parent.iterdir())
    with pytest.raises(InputError, match="no example file"):
        example_path("afm-bruker/di_corrupted.di")


@pytest.mark.slow
def test_demo_reads_its_data_from_an_installed_wheel(tmp_path):
    """Build the wheel from a copy of the source, install it (--no-deps) into a fresh venv that
    sees the main environment's packages, and run the demo's examples step from there."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "--wheel-dir", str(wheels), str(tree)], check=True)
    wheel = next(wheels.glob("tmdlearn-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # the main environment's packages (not its editable tmdlearn, whose .pth is not read)
    Path(purelib, "main-env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", purelib, str(wheel)], check=True, env=env)
    check = (
        "import sys, tmdlearn.examples as e, tmdlearn.cli.demo as d\n"
        f"assert e.__file__.startswith({purelib!r}), e.__file__\n"
        "print('\\n'.join(f'{n} {e.example_path(n)}' for n in e.EXAMPLE_FILES))\n"
    )
    out = subprocess.run([str(python), "-c", check], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env=env).stdout.split("\n")
    for line in filter(None, out):
        name, path = line.split(" ", 1)
        assert path.startswith(purelib)
        assert _sha256(Path(path)) == _sha256(example_path(name))
    run = subprocess.run([str(python), "-m", "tmdlearn", "demo", "--step", "examples", "--out",
                          str(tmp_path / "demo")], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr[-2000:]
    table = (tmp_path / "demo" / "inspect.md").read_text()
    assert "di-1.di" in table and "MoSe2_PL.txt" in table
