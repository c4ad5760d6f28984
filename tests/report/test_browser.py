"""The report in real headless Chromium: no console errors, the slider moves, not blank.

Drives Debian's /usr/bin/chromium through playwright's sync API, offline, from a file:// URL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.image import imread

from pushforward.report import write_comparison, write_report

from .fake_runs import make_drift_variants_files, make_lyapunov_files, make_run_dir

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (apt install chromium)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")

# The generated samples of the sample panel (the first subplot, axes x/y) in the live graph.
GENERATED = """() => {
  const gd = document.getElementById('panels');
  const t = gd.data.find(t => t.legendgroup === 'generated' && (t.xaxis || 'x') === 'x');
  return {x: Array.from(t.x).slice(0, 20), y: Array.from(t.y).slice(0, 20),
          active: gd._fullLayout.sliders[0].active, label: gd._fullLayout.sliders[0].steps[
            gd._fullLayout.sliders[0].active].label};
}"""
READY = "() => { const gd = document.getElementById('panels');" \
        " return gd && gd._fullLayout && gd.data.length > 0 && gd._transitionData; }"  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, html: Path) -> tuple[object, list[str]]:
    """Open ``html`` offline; return the page and the list its console/page errors go to."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(html.resolve().as_uri())
    page.wait_for_function(READY, timeout=30_000)
    return page, errors


def _std(png: Path) -> float:
    return float(imread(png)[..., :3].std())


def test_slider_changes_the_frame_without_errors(browser, tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "2d", n_snapshots=4, n_points=300)
    page, errors = _open(browser, write_report(run, pngs=False))
    before = page.evaluate(GENERATED)
    assert before["active"] == 3  # opens on the last snapshot
    # Click the left end of the slider rail, as a user would: the slider jumps to the first step.
    touch = page.locator(".slider-rail-touch-rect").first
    touch.scroll_into_view_if_needed()
    rail = touch.bounding_box()
    page.mouse.click(rail["x"] + 3, rail["y"] + rail["height"] / 2)
    page.wait_for_function(
        "() => document.getElementById('panels')._fullLayout.sliders[0].active === 0",
        timeout=10_000,
    )
    page.wait_for_timeout(300)  # let the animation frame land in gd.data
    after = page.evaluate(GENERATED)
    assert after["label"] == "10"
    assert after["x"] != before["x"] and after["y"] != before["y"], "the frame did not change"
    # And programmatically, as the slider's own steps do: Plotly.animate to frame "2".
    page.evaluate(
        "() => Plotly.animate('panels', ['2'], {mode: 'immediate', frame: {duration: 0,"
        " redraw: true}, transition: {duration: 0}})"
    )
    page.wait_for_timeout(300)
    third = page.evaluate(GENERATED)
    assert third["x"] != after["x"]
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert _std(shot) > 0.05, "the screenshot is blank"
    assert errors == []


@pytest.mark.parametrize("kind", ["3d", "image", "compare"])
def test_other_reports_render_without_errors(browser, tmp_path: Path, kind: str) -> None:
    if kind == "compare":
        a = make_run_dir(tmp_path, "2d", name="a", n_snapshots=3, n_points=200)
        b = make_run_dir(tmp_path, "image", name="b", n_snapshots=2, n_points=64)
        html = write_comparison([a, b], tmp_path / "compare.html")
    else:
        html = write_report(make_run_dir(tmp_path, kind, n_snapshots=3, n_points=200), pngs=False)
    page, errors = _open(browser, html)
    page.evaluate(
        "() => Plotly.animate('panels', ['0'], {mode: 'immediate', frame: {duration: 0,"
        " redraw: true}, transition: {duration: 0}})"
    )
    page.wait_for_timeout(300)
    shot = tmp_path / "shot.png"
    page.locator("#panels").screenshot(path=str(shot))
    assert _std(shot) > 0.03, "the figure is blank"
    assert errors == []


# The arrows of one drift-field variant in the live graph of the slider figure.
VARIANT = """name => {
  const t = document.getElementById('panels').data.find(t => t.legendgroup === 'vector:' + name);
  return t ? {x: Array.from(t.x).slice(0, 30), color: t.line.color, visible: t.visible} : null;
}"""
RENDERED = """id => {
  const gd = document.getElementById(id);
  return gd && gd._fullLayout ? {types: gd.data.map(t => t.type),
    svg: gd.querySelectorAll('.main-svg').length, gl: gd.querySelectorAll('canvas').length}
    : null;
}"""


def test_drift_variants_panel_moves_with_the_slider(browser, tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "2d", n_snapshots=3, n_points=150)
    make_drift_variants_files(run)
    page, errors = _open(browser, write_report(run, pngs=False))
    last = {v: page.evaluate(VARIANT, v) for v in ("paper", "sinkhorn", "mmd-gradient")}
    assert all(last.values()), "a variant has no arrows in the page"
    assert len({v["color"] for v in last.values()}) == 3
    page.evaluate(
        "() => Plotly.animate('panels', ['0'], {mode: 'immediate', frame: {duration: 0,"
        " redraw: true}, transition: {duration: 0}})"
    )
    page.wait_for_timeout(300)
    first = page.evaluate(VARIANT, "sinkhorn")
    assert first["x"] != last["sinkhorn"]["x"], "the variants panel did not follow the slider"
    # the legend toggles one variant: hide Sinkhorn by clicking its entry
    entry = page.locator(".legendtext", has_text="sinkhorn").first.bounding_box()
    page.mouse.click(entry["x"] + entry["width"] / 2, entry["y"] + entry["height"] / 2)
    page.wait_for_function(  # plotly waits out its double-click delay first
        f"() => ({VARIANT})('sinkhorn').visible === 'legendonly'", timeout=5_000
    )
    assert page.evaluate(VARIANT, "paper")["visible"] in (None, True)  # the others stay
    shot = tmp_path / "variants.png"
    page.locator("#panels").screenshot(path=str(shot))
    assert _std(shot) > 0.03, "the figure is blank"
    assert errors == []


def test_lyapunov_panels_render_without_errors(browser, tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "3d", n_snapshots=2, n_points=100)
    make_lyapunov_files(run, n=60)
    page, errors = _open(browser, write_report(run, pngs=False))
    found = {}
    for div in ("lyapunov-spectrum", "lyapunov-angles", "lyapunov-vectors",
                "lyapunov-perturbation"):  # fmt: skip
        page.locator(f"#{div}").scroll_into_view_if_needed()
        page.wait_for_function(RENDERED, arg=div, timeout=10_000)
        found[div] = page.evaluate(RENDERED, div)
        shot = tmp_path / f"{div}.png"
        page.locator(f"#{div}").screenshot(path=str(shot))
        assert _std(shot) > 0.03, f"{div} is blank"
    assert "box" in found["lyapunov-spectrum"]["types"]
    assert set(found["lyapunov-angles"]["types"]) == {"histogram"}
    assert "scatter3d" in found["lyapunov-vectors"]["types"]
    assert found["lyapunov-vectors"]["gl"] > 0, "the 3-D scene has no WebGL canvas"
    assert set(found["lyapunov-perturbation"]["types"]) == {"bar"}
    assert errors == []
