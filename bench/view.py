"""Viewer build and load time for a run of about 100k samples.

Generates (or reuses) a ``generate`` run over the 1000 shared CLEVR scenes, builds the viewer
site, then opens it from disk in headless Debian chromium (playwright, system browser) and
times: first page drawn, a family filter over the whole run, the next page, one sample's detail.
Prints the figures and the data sizes (the page itself, the index, the largest data file);
asserts nothing.

Usage::

    python bench/view.py [--run RUN] [--per-image 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from scenesynth.pipeline.config import RunConfig
from scenesynth.pipeline.runner import run as run_pipeline
from scenesynth.rundata import RunData
from scenesynth.view import build_site

CLEVR = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clevr"
         / "CLEVR_train_scenes_1000.json")


def make_run(out: Path, per_image: int) -> Path:
    run_pipeline(RunConfig(source=str(CLEVR), out=str(out), per_image=per_image, seed=0,
                           workers=2, progress=False))
    return out


def time_browser(site: Path, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed: apt-get install -y chromium")
    times: dict[str, list[float]] = {"first page": [], "filter": [], "next page": [],
                                     "detail": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            t = time.perf_counter()
            page.goto((site / "index.html").resolve().as_uri())
            page.wait_for_selector("body[data-ready]")
            times["first page"].append(time.perf_counter() - t)
            for label, selector in (("filter", "#filter-family"), ("next page", "#next")):
                before = page.get_attribute("body", "data-ready")
                t = time.perf_counter()
                if label == "filter":
                    page.select_option(selector, index=2)
                else:
                    page.click(selector)
                page.wait_for_function(
                    "prev => document.body.getAttribute('data-ready') !== prev", arg=before)
                times[label].append(time.perf_counter() - t)
            t = time.perf_counter()
            page.locator("#grid .card").first.click()
            page.wait_for_selector("#program tr.step")
            times["detail"].append(time.perf_counter() - t)
            page.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an existing run folder (default: generate)")
    parser.add_argument("--per-image", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            t = time.perf_counter()
            run = make_run(Path(tmp) / "run", args.per_image)
            print(f"generated the run in {time.perf_counter() - t:.1f}s")
        site = Path(tmp) / "site"
        t, cpu = time.perf_counter(), time.process_time()
        report = build_site(RunData(run), site)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        index_mb = (site / "data" / "index.js").stat().st_size / 1e6
        html_kb = sum((site / n).stat().st_size for n in ("index.html", "viewer.js",
                                                           "viewer.css")) / 1e3
        print(f"{report.samples:,} samples, {report.graphs:,} graphs: build {wall:.1f}s wall, "
              f"{cpu:.1f}s CPU ({report.samples / cpu:,.0f} samples per CPU-second)")
        print(f"site: page + app {html_kb:.0f} kB, meta+index {index_mb:.2f} MB, "
              f"all data {report.data_bytes / 1e6:.1f} MB in pages, largest data file "
              f"{report.largest_file_bytes / 1e3:.0f} kB")
        for label, values in time_browser(site, args.repeat).items():
            print(f"{label}: median {statistics.median(values) * 1000:.0f} ms "
                  f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}; "
                  f"{len(values)} runs)")


if __name__ == "__main__":
    main()
