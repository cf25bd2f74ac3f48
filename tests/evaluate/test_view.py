"""``scenesynth view`` in a real headless browser (Debian's chromium driven by playwright).

Opens the static site from disk (file://, no server) for a ``generate`` run over the shared
COCO photos and a ``synth`` run, and checks what a user sees: boxes at the objects'
coordinates, filters that narrow the list, the program's steps, the failures tab, a
screenshot, and no console errors.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from run_folders import make_coco_run, make_synth_run
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.pipeline.config import RunConfig
from scenesynth.pipeline.runner import run as run_pipeline
from scenesynth.rundata import RunData

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Any:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("view")
    synth = make_synth_run(root / "synth")
    coco = make_coco_run(shared_data, root / "coco")
    # A generate run over the synth graphs plus one broken record: a failure to show.
    source = root / "graphs.jsonl"
    source.write_text((synth / "graphs.jsonl").read_text("utf-8") + '{"image": {"id": 7}}\n',
                      "utf-8")
    (root / "images").symlink_to(synth / "images")
    failing = root / "failing"
    run_pipeline(RunConfig(source=str(source), out=str(failing), per_image=2, workers=1,
                           max_failure_rate=0.5, progress=False))
    return {"synth": synth, "coco": coco, "failing": failing}


def _open(browser: Any, run: Path, tmp: Path) -> tuple[Any, list[str], Path]:
    site = tmp / f"site-{run.name}"
    result = CliRunner().invoke(app, ["view", str(run), "--out", str(site)])
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((site / "index.html").resolve().as_uri())
    page.wait_for_selector("body[data-ready]")
    return page, errors, site


def _wait_render(page: Any, before: str | None) -> None:
    page.wait_for_function(
        "prev => document.body.getAttribute('data-ready') !== prev", arg=before)


def _check_boxes(page: Any, run: RunData) -> int:
    """Every drawn box sits at its object's pixel box, in the SVG and on screen."""
    samples = {s.id: s for s in run.samples()}
    graphs = run.graphs()
    checked = 0
    for card in page.locator("#grid .card").all():
        sample = samples[card.get_attribute("data-id")]
        for fig in card.locator(".fig").all():
            k = int(fig.get_attribute("data-image"))
            graph = graphs[sample.provenance.image_ids[k]]
            boxes = {o.id: o.box for o in graph.objects}
            img = fig.locator("img").bounding_box()
            for rect in fig.locator("rect.box[data-obj]").all():
                image_index, object_id = rect.get_attribute("data-obj").split(":", 1)
                assert int(image_index) == k
                box = boxes[object_id]
                assert box is not None
                drawn = [float(rect.get_attribute(a)) for a in ("x", "y", "width", "height")]
                assert drawn == pytest.approx([box.x0, box.y0, box.width, box.height])
                # On screen: the rect's pixels are the box scaled to the displayed image.
                on_screen = rect.bounding_box()
                scale = img["width"] / graph.image.width
                assert on_screen["x"] - img["x"] == pytest.approx(box.x0 * scale, abs=3)
                assert on_screen["y"] - img["y"] == pytest.approx(box.y0 * scale, abs=3)
                assert on_screen["width"] == pytest.approx(box.width * scale, abs=4)
                checked += 1
    return checked


@pytest.mark.parametrize("name", ["coco", "synth"])
def test_viewer_in_headless_chromium(
    browser: Any, runs: dict[str, Path], tmp_path: Path, name: str
) -> None:
    run = RunData(runs[name])
    samples = list(run.samples())
    page, errors, _site = _open(browser, runs[name], tmp_path)
    assert page.locator("#grid").get_attribute("data-matches") == str(len(samples))
    assert page.locator("#grid .card").count() == min(24, len(samples))
    # Boxes: drawn where the graph says, on more than a handful of objects across pages.
    checked = _check_boxes(page, run)
    while checked < 20:
        before = page.get_attribute("body", "data-ready")
        page.click("#next")
        _wait_render(page, before)
        checked += _check_boxes(page, run)
    assert page.locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")

    # Filters narrow the list to exactly the matching samples.
    families = Counter(s.provenance.family for s in samples)
    mc = Counter(s.provenance.family for s in samples if s.form.value == "mc")
    # a family with multiple-choice and other forms, so the form filter narrows it further
    family = max((f for f in families if 0 < mc[f] < families[f]), key=lambda f: families[f])
    before = page.get_attribute("body", "data-ready")
    page.select_option("#filter-family", label=f"{family} ({families[family]})")
    _wait_render(page, before)
    assert page.locator("#grid").get_attribute("data-matches") == str(families[family])
    assert set(page.locator("#grid .card [data-facet=family]").all_text_contents()) == {family}
    n_mc = sum(s.provenance.family == family and s.form.value == "mc" for s in samples)
    before = page.get_attribute("body", "data-ready")
    page.select_option("#filter-form", label=next(
        o for o in page.locator("#filter-form option").all_text_contents() if o.startswith("mc ")))
    _wait_render(page, before)
    assert page.locator("#grid").get_attribute("data-matches") == str(n_mc)
    assert 0 < n_mc < families[family]

    # The program, step by step, with each step's output; a step's objects light up.
    first = page.locator("#grid .card").first
    sample = next(s for s in samples if s.id == first.get_attribute("data-id"))
    first.click()
    page.wait_for_selector("#program tr.step")
    rows = page.locator("#program tr.step")
    assert rows.count() == len(sample.provenance.program)
    for n, step in enumerate(sample.provenance.program):
        cells = rows.nth(n).locator("td").all_text_contents()
        assert cells[1] == step.op
        # the page writes outputs as JavaScript's JSON.stringify does (240.0 reads "240")
        shown = cells[4] if isinstance(step.output, str) else json.loads(cells[4])
        assert shown == step.output
    assert page.locator("#forms tr[data-form=mc]").count() == 1
    assert page.locator("#forms tr[data-form]").count() >= 2  # the same question, other forms
    filter_step = next(n for n, s in enumerate(sample.provenance.program)
                       if s.op.startswith("filter"))
    rows.nth(filter_step).click()
    lit = page.locator("#detail rect.box.step").evaluate_all(
        "rs => rs.map(r => r.getAttribute('data-obj'))")
    expected = sample.provenance.program[filter_step].output
    assert sorted(lit) == sorted(o for o in expected if graph_has_box(run, sample, o))
    page.click("#show-masks")
    canvas = page.locator("#detail canvas.mask").first
    assert int(canvas.get_attribute("data-masks")) >= 1
    # The mask is drawn on the object's own pixels: the centre of a lit object's box.
    from pycocotools import mask as mask_utils

    graph0 = run.graphs()[sample.provenance.image_ids[0]]
    points = []
    for obj in graph0.objects:
        if f"0:{obj.id}" in lit and obj.mask is not None and obj.box is not None:
            pixels = mask_utils.decode({"size": list(obj.mask.size), "counts": obj.mask.counts})
            ys, xs = pixels.nonzero()
            points.append([int(xs[len(xs) // 2]), int(ys[len(ys) // 2])])
    alphas = canvas.evaluate(
        "(c, pts) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return pts.map(([x, y]) => d[4 * (y * c.width + x) + 3]); }", points)
    painted = sum(a == 255 for a in alphas)
    assert painted >= 1
    page.click(".show-graph")
    graph = run.graphs()[sample.provenance.image_ids[0]]
    assert page.locator("#graph-view .node").count() == len(graph.objects)
    assert page.locator("#relations tr").count() == len(graph.relations) + 1

    shot = tmp_path / f"viewer-{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert errors == []
    page.close()


def graph_has_box(run: RunData, sample: Any, ref: str) -> bool:
    k, object_id = ref.split(":", 1)
    graph = run.graphs()[sample.provenance.image_ids[int(k)]]
    return any(o.id == object_id and o.box is not None for o in graph.objects)


def test_failures_tab(browser: Any, runs: dict[str, Path], tmp_path: Path) -> None:
    failures = [json.loads(line) for line in
                (runs["failing"] / "failures.jsonl").read_text("utf-8").splitlines()]
    assert failures
    page, errors, _ = _open(browser, runs["failing"], tmp_path)
    page.click("#tab-failures")
    page.wait_for_selector("#failures tbody tr")
    assert page.locator("#failures tbody tr").count() == len(failures)
    assert failures[0]["reason"] in page.locator("#failures tbody").inner_text()
    page.select_option("#filter-failure-reason", label=failures[0]["reason"])
    page.wait_for_function("document.querySelector('#fpage-info').textContent.includes('of')")
    reasons = page.locator("#failures tbody tr").evaluate_all(
        "rs => rs.map(r => r.getAttribute('data-reason'))")
    assert set(reasons) == {failures[0]["reason"]}
    # The generate run over synth graphs finds its images beside the source file.
    page.click("#tab-samples")
    assert page.locator("#grid img").count() > 0
    assert errors == []


def test_site_is_paged(runs: dict[str, Path], tmp_path: Path) -> None:
    from scenesynth.view import build_site
    from scenesynth.view.build import SAMPLES_PER_CHUNK

    report = build_site(RunData(runs["synth"]), tmp_path / "site")
    chunks = sorted((tmp_path / "site" / "data").glob("samples-*.js"))
    assert len(chunks) == -(-report.samples // SAMPLES_PER_CHUNK)
    html = (tmp_path / "site" / "index.html").read_text("utf-8")
    assert "data/samples-" not in html  # pages are loaded on demand, not by the page itself
    result = CliRunner().invoke(app, ["view", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "nothing: not a run folder" in result.output
