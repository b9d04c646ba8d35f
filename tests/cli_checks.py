"""What every unreadable file must give on the command line (tests share it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmdlearn.cli import main


def inspect_fails_in_one_line(path: Path, capsys) -> str:
    """Run ``tmdlearn inspect PATH``: exit code 2 and one stderr line ``error: PATH: ...``,
    which is returned."""
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(path)])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err and err.startswith(f"error: {path}: "), err
    return err
