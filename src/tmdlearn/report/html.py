"""report.html: one page showing a run folder's tables and figures (linked, lazy-loaded)."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tmdlearn.io.atomic import write_text

STYLE = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f6f6f6;padding:.5rem}"""

Item = str | Path
Section = tuple[str, Sequence[Item]]


def write_report(run_dir: str | Path, title: str, sections: Sequence[Section]) -> Path:
    """Write ``run_dir/report.html`` and return its path.

    Figures are linked by their path relative to ``run_dir`` and lazy-loaded (a figure outside
    the folder is copied into ``run_dir/figures/``), so the folder is self-contained and the page
    stays light (no base64).

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    title : str
        Page title.
    sections : sequence of (heading, items)
        Ordered sections; each item is a path (relative to ``run_dir`` or absolute) to a
        ``.md`` / ``.csv`` table, a ``.png`` figure or a ``.txt`` block; a string that names no
        file in ``run_dir`` is shown as a paragraph. The ``run.json`` files among a section's
        items are shown together at its end as one "Models used" table (:func:`models_table`).

    Returns
    -------
    Path
        The written ``report.html``.
    """
    run_dir = Path(run_dir)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for heading, items in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        runs = [item for item in items if Path(item).name == "run.json"]
        parts.extend(_item(run_dir, item) for item in items if item not in runs)
        parts.append(models_table(run_dir, runs))
    parts.append("</body></html>\n")
    return write_text(run_dir / "report.html", "\n".join(parts))


def models_table(run_dir: str | Path, run_jsons: Sequence[Item]) -> str:
    """HTML "Models used" table of the ``models`` entries of the given ``run.json`` files.

    One row per model with its path (relative to ``run_dir`` when inside it), whether the run
    saved or loaded it, workflow, task, material, tmdlearn version and the first 12 hex digits
    of its weights' sha256 (all 64 on hover).

    Parameters
    ----------
    run_dir : str or Path
        The run folder of the report.
    run_jsons : sequence of str or Path
        ``run.json`` paths, relative to ``run_dir`` or absolute (see
        :func:`tmdlearn.report.run.model_records`).

    Returns
    -------
    str
        The HTML, "" when they list no model.
    """
    run_dir = Path(run_dir)
    rows = []
    for item in run_jsons:
        path = Path(item) if Path(item).is_absolute() else run_dir / item
        if not _is_file(path):
            continue
        for entry in json.loads(path.read_text(encoding="utf-8")).get("models", []):
            where = Path(entry["path"])
            where = where if where.is_absolute() else path.parent / where
            try:
                where = where.resolve().relative_to(run_dir.resolve())
            except ValueError:
                pass
            digest = entry.get("sha256") or ""
            cells = [where.as_posix(), entry.get("role"), entry.get("workflow"),
                     entry.get("task"), entry.get("material"), entry.get("tmdlearn_version")]
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c or ''))}</td>" for c in cells)
                        + f"<td><code title='{html.escape(digest, quote=True)}'>"
                        f"{html.escape(digest[:12])}</code></td></tr>")
    if not rows:
        return ""
    header = "".join(f"<th>{name}</th>" for name in (
        "model", "role", "workflow", "task", "material", "tmdlearn", "sha256"))
    return ("<h3>Models used</h3><table class='models'><tr>" + header + "</tr>" + "".join(rows)
            + "</table>")


def _item(run_dir: Path, item: Item) -> str:
    path = Path(item) if Path(item).is_absolute() else run_dir / item
    if isinstance(item, str) and not _is_file(path):
        return f"<p>{html.escape(item)}</p>"
    suffix = path.suffix.lower()
    if suffix == ".png":
        source = html.escape(_inside(run_dir, path).as_posix(), quote=True)
        return (f"<figure><img alt='{html.escape(path.stem)}' src='{source}' loading='lazy'>"
                f"<figcaption>{html.escape(path.name)}</figcaption></figure>")
    if suffix == ".csv":
        return pd.read_csv(path).to_html(index=False, border=0, na_rep="")
    if suffix == ".md":
        return _markdown(path.read_text(encoding="utf-8"))
    return f"<pre>{html.escape(path.read_text(encoding='utf-8'))}</pre>"


def _inside(run_dir: Path, path: Path) -> Path:
    """``path`` relative to ``run_dir``, copying it into ``run_dir/figures/`` if outside."""
    try:
        return path.resolve().relative_to(run_dir.resolve())
    except ValueError:
        copy = run_dir / "figures" / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        return copy.relative_to(run_dir)


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a text no file system accepts as a name (a paragraph
    longer than the 255-byte name limit raises OSError otherwise)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _markdown(text: str) -> str:
    """Markdown tables become HTML tables; other lines become paragraphs."""
    out, rows = [], []

    def flush():
        if rows:
            header, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("-: ")]
            cells = "".join(f"<th>{html.escape(c)}</th>" for c in header)
            lines = [f"<tr>{cells}</tr>"] + [
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body
            ]
            out.append("<table>" + "".join(lines) + "</table>")
            rows.clear()

    for line in text.splitlines():
        if line.strip().startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        flush()
        if line.strip():
            out.append(f"<p>{html.escape(line.strip().lstrip('#').strip())}</p>")
    flush()
    return "\n".join(out)
