"""report.html in a real headless Chromium: figures load, tables render, links resolve, no
console errors. Skipped with the reason when Playwright or Chromium is missing.

Chromium: ``TMDLEARN_CHROMIUM`` or ``chromium`` / ``chromium-browser`` on PATH (Debian's
``apt-get install chromium``); Playwright: ``pip install playwright`` (its own browser download,
``playwright install``, is not needed).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest

from tmdlearn.report.html import write_report
from tmdlearn.report.tables import write_table

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DEMO_REPORT = Path(os.environ.get("TMDLEARN_REPORT")
                   or Path(__file__).parents[1] / "demo-output" / "report.html")


def _chromium() -> str:
    found = os.environ.get("TMDLEARN_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no Chromium: apt-get install chromium (or set TMDLEARN_CHROMIUM)")
    return found


def open_report(page_path: Path, tmp_path: Path) -> dict:
    """Load ``page_path`` in headless Chromium; scroll every figure into view (they are
    lazy-loaded) and return what the page shows and what went wrong."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright missing: pip install playwright")
    executable = _chromium()
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=executable, headless=True,
            args=CHROMIUM_ARGS)
        try:
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            for image in page.query_selector_all("img"):
                image.scroll_into_view_if_needed()
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=20_000)
            shown = page.evaluate("""() => ({
                images: Array.from(document.images).map(i => [i.getAttribute('src'),
                                                                i.naturalWidth]),
                tables: Array.from(document.querySelectorAll('table')).map(
                    t => [t.rows.length, t.getBoundingClientRect().height]),
                links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
            })""")
        finally:
            context.close()
    shown["problems"] = problems
    return shown


def _check(page_path: Path, shown: dict, figures: int | None = None) -> None:
    assert shown["problems"] == []
    if figures is not None:
        assert len(shown["images"]) == figures
    assert all(width > 0 for _, width in shown["images"]), shown["images"]
    assert all(rows >= 2 and height > 0 for rows, height in shown["tables"]), shown["tables"]
    for link in shown["links"]:
        url = urlparse(link)
        if url.scheme == "file":
            assert Path(unquote(url.path)).exists(), link
    for source, _ in shown["images"]:
        assert not source.startswith("data:") and (page_path.parent / source).is_file()


def test_small_report_in_chromium(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tmdlearn.report.figures import save_figure

    run = tmp_path / "run"
    write_table(pd.DataFrame({"sample": ["A", "B"], "rms_nm": [1.25, 2.5]}), run / "t")
    for name, where in (("inside", run / "figures" / "inside.png"),
                        ("outside", tmp_path / "elsewhere" / "outside.png")):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [1, 0])
        ax.set_title(name)
        where.parent.mkdir(parents=True, exist_ok=True)
        save_figure(fig, where)
    (run / "notes.txt").write_text("a <pre> block & more\n")
    # enough paragraphs that the last figure starts far below the first screen
    padding = [f"paragraph {i}" for i in range(80)]
    page = write_report(run, "Browser check", [
        ("Tables", ["intro", run / "t.md", "t.csv"]),
        ("Figures", ["figures/inside.png", *padding, tmp_path / "elsewhere" / "outside.png",
                     "notes.txt"])])
    shown = open_report(page, tmp_path)
    _check(page, shown, figures=2)
    assert len(shown["tables"]) == 2
    assert (run / "figures" / "outside.png").is_file()  # copied beside the report


def test_demo_report_in_chromium(tmp_path):
    if not DEMO_REPORT.is_file():
        pytest.skip(f"no {DEMO_REPORT}: run `make demo` (or set TMDLEARN_REPORT)")
    shown = open_report(DEMO_REPORT, tmp_path)
    _check(DEMO_REPORT, shown)
    assert shown["images"] and shown["tables"]


def test_a_broken_report_is_caught(tmp_path):
    """The check fails on a missing figure and on a script error (it can fail)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "gone.png").write_bytes(b"not a png")
    page = write_report(run, "Broken", [("Figures", ["gone.png"])])
    page.write_text(page.read_text().replace("</body>", "<script>missing()</script></body>"))
    shown = open_report(page, tmp_path)
    assert shown["images"] == [["gone.png", 0]]
    assert any("missing is not defined" in p for p in shown["problems"])
    with pytest.raises(AssertionError):
        _check(page, shown)
