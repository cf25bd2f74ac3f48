"""The export-level checker over real runs: the demo, a small ``synth`` run in WebDataset, and
``generate`` on every shared dataset (CLEVR, GQA, Visual Genome, COCO) in every format.

The text a trainer reads must be clean everywhere (options listed once, answers among them
once, placeholders). Geometric ambiguity (a second object that also fits a reference or a
relation question by the image's geometry) must be 0 too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.export.check import GEOMETRY_KINDS, TEXT_KINDS, CheckReport, check_export
from scenesynth.graph import write_graphs_jsonl
from scenesynth.sources import load

FORMATS = ("llava", "sharegpt", "parquet", "webdataset")
CLEVR_SCENES = 40  # a few dozen scenes keep a run to seconds; every generator still fires

NO_IMAGES = "the source ships no images, and WebDataset embeds them"


def _sources(shared: Path, tmp: Path) -> dict[str, Path]:
    clevr = tmp / "clevr.jsonl"
    if not clevr.exists():
        scenes = load(shared / "clevr" / "CLEVR_train_scenes_1000.json")
        write_graphs_jsonl(itertools.islice(scenes, CLEVR_SCENES), clevr)
    return {
        "clevr": clevr,
        "gqa": shared / "gqa" / "debug_sceneGraphs.json",
        "vg": shared / "visual_genome",
        "coco": shared / "coco_panoptic" / "panoptic_coco_detection_format.json",
    }


_reports: dict[str, CheckReport] = {}


def _report(key: str, make: Callable[[], CheckReport]) -> CheckReport:
    """One run per key for the module (several tests read each run's report)."""
    if key not in _reports:
        _reports[key] = make()
    return _reports[key]


def _run(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export_check_runs")


def _generated(dataset: str, fmt: str, shared: Path, work: Path) -> CheckReport:
    def make() -> CheckReport:
        out = work / f"{dataset}_{fmt}"
        source = _sources(shared, work)[dataset]
        args = ["generate", "--source", str(source), "--generators", "all", "--per-image", "1",
                "--multi-image-group", "2", "--format", fmt, "--seed", "0", "--out", str(out),
                "--workers", "1", "--no-progress"]
        CliRunner().invoke(app, args)  # WebDataset without images fails; checked below
        return check_export(out / "export") if (out / "export").exists() else CheckReport()

    return _report(f"{dataset}/{fmt}", make)


def _demo(work: Path) -> CheckReport:
    def make() -> CheckReport:
        _run(["demo", "--out", str(work / "demo")])
        return check_export(work / "demo" / "data.json")

    return _report("demo", make)


def _synth_webdataset(work: Path) -> CheckReport:
    def make() -> CheckReport:
        out = work / "synth_wds"
        _run(["synth", "--scenes", "12", "--out", str(out), "--seed", "1", "--workers", "1",
              "--format", "webdataset"])
        return check_export(out)

    return _report("synth/webdataset", make)


def _problems(report: CheckReport, kinds: tuple[str, ...]) -> list[str]:
    return [str(p) for p in report.problems if p.kind in kinds]


def _cases() -> list[object]:
    cases: list[object] = []
    for dataset in ("clevr", "gqa", "vg", "coco"):
        for fmt in FORMATS:
            marks: list[pytest.MarkDecorator] = []
            if fmt == "webdataset" and dataset != "coco":
                marks.append(pytest.mark.skip(reason=NO_IMAGES))
            cases.append(pytest.param(dataset, fmt, marks=marks, id=f"{dataset}-{fmt}"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "fmt"), _cases())
def test_generate_export_text_is_clean(
    dataset: str, fmt: str, shared_data: Path, work: Path
) -> None:
    report = _generated(dataset, fmt, shared_data, work)
    assert report.n_records > 0
    assert report.n_geometry_checked == report.n_records, report.summary()
    assert _problems(report, TEXT_KINDS) == []


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["clevr", "gqa", "vg", "coco"])
def test_generate_references_resolve_by_geometry(
    dataset: str, shared_data: Path, work: Path
) -> None:
    report = _generated(dataset, "llava", shared_data, work)
    assert report.n_geometry_checked > 0
    assert _problems(report, GEOMETRY_KINDS) == []


@pytest.mark.slow
def test_demo_export_text_is_clean(work: Path) -> None:
    report = _demo(work)
    assert report.n_records > 1000
    assert report.n_geometry_checked == report.n_records, report.summary()
    assert _problems(report, TEXT_KINDS) == []


@pytest.mark.slow
def test_demo_references_resolve_by_geometry(work: Path) -> None:
    assert _problems(_demo(work), GEOMETRY_KINDS) == []


@pytest.mark.slow
def test_synth_webdataset_text_is_clean(work: Path) -> None:
    report = _synth_webdataset(work)
    assert report.n_records > 0 and report.n_geometry_checked == report.n_records
    assert _problems(report, TEXT_KINDS) == []


@pytest.mark.slow
def test_synth_webdataset_references_resolve_by_geometry(work: Path) -> None:
    assert _problems(_synth_webdataset(work), GEOMETRY_KINDS) == []
