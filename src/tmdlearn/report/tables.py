"""Tables: every table is written as CSV and as Markdown, atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tmdlearn.io.atomic import atomic_path, write_text


def to_markdown(table: pd.DataFrame, float_format: str = ".4g") -> str:
    """A GitHub-flavoured Markdown table (no optional dependency on tabulate).

    Parameters
    ----------
    table : DataFrame
        The table.
    float_format : str
        Format of float cells; missing values (None, NaN) are shown as an em dash.

    Returns
    -------
    str
        The Markdown, ending in a newline.
    """
    columns = [str(c) for c in table.columns]

    def cell(value) -> str:
        if pd.api.types.is_scalar(value) and pd.isna(value):
            return "—"
        if isinstance(value, float):
            return format(value, float_format)
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, path: str | Path) -> tuple[Path, Path]:
    """Write ``table`` to ``path`` with suffix .csv and .md.

    Parameters
    ----------
    table : DataFrame
        The table.
    path : str or Path
        Output path; its suffix is replaced.

    Returns
    -------
    csv_path, md_path : Path
    """
    path = Path(path)
    csv_path, md_path = path.with_suffix(".csv"), path.with_suffix(".md")
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    write_text(md_path, to_markdown(table))
    return csv_path, md_path
