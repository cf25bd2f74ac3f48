"""Building the viewer's site: ``index.html``, the static app, and the paged data files.

Layout of ``out/``::

    index.html, viewer.js, viewer.css     the app (copied from ``static/``)
    data/meta.js      run summary, facet values, chunk sizes        (window.SS_META)
    data/index.js     one facet code per sample and facet, columnar (window.SS_INDEX)
    data/samples-NNNNN.js   SAMPLES_PER_CHUNK samples each          (SS.chunk(n, [...]))
    data/graphs-NNNNN.js    GRAPHS_PER_CHUNK scene graphs each      (SS.graphs(n, [...]))
    data/failures-NNNNN.js  failures.jsonl, FAILURES_PER_CHUNK each (SS.failures(n, [...]))

The index holds only small integers (about 2 MB for 100k samples), so filtering runs over the
whole run in the browser; a sample's text, program and graph are read only when it is shown.
Images are referenced by their path relative to ``out/`` (absolute ``file:`` URL when no
relative path exists), never copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from scenesynth.graph import AnswerForm, InstructionSample, SceneGraph
from scenesynth.ioutil import atomic_write
from scenesynth.rundata import RunData, question_key

SAMPLES_PER_CHUNK = 200
GRAPHS_PER_CHUNK = 50
FAILURES_PER_CHUNK = 500
MAX_ANSWER_FACETS = 300  # the rest of the answers are filtered as one "(other)" value
OTHER = "(other)"
FACETS = ("family", "template", "generator", "form", "source", "answer")
STATIC_FILES = ("index.html", "viewer.js", "viewer.css")
MAX_TRACEBACK = 4000


@dataclass
class SiteReport:
    out: Path
    samples: int = 0
    graphs: int = 0
    failures: int = 0
    missing_graphs: int = 0  # image ids of samples whose graph the run does not have
    missing_images: int = 0  # distinct image paths that could not be found
    data_bytes: int = 0
    largest_file_bytes: int = 0
    seconds: float = 0.0
    facet_sizes: dict[str, int] = field(default_factory=dict)


class _Facets:
    """Value -> small integer code, per facet, in order of first appearance."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        self.codes: dict[str, list[int]] = {name: [] for name in FACETS}

    def add(self, name: str, value: str) -> None:
        table = self.values[name]
        code = table.get(value)
        if code is None:
            code = table[value] = len(table)
        self.codes[name].append(code)


def _js(call: str, *args: Any) -> str:
    body = ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in args)
    # "</" could end an inline script; these are files, but keep them safe to inline anyway.
    return f"{call}({body});\n".replace("</", "<\\/")


def _answer_label(sample: InstructionSample) -> str:
    return sample.answer.strip()


def question_group_key(sample: InstructionSample) -> bytes:
    return hashlib.blake2b(question_key(sample).encode(), digest_size=12).digest()


class _ImageUrls:
    def __init__(self, run: RunData, out: Path) -> None:
        self.run = run
        self.out = out.resolve()
        self.cache: dict[str, str | None] = {}
        self.missing = 0

    def url(self, path: str) -> str | None:
        if path in self.cache:
            return self.cache[path]
        found = self.run.resolve_image(path)
        url: str | None = None
        if found is not None:
            absolute = found.resolve()
            try:
                url = Path(os.path.relpath(absolute, self.out)).as_posix()
            except ValueError:  # another drive
                url = absolute.as_uri()
        else:
            self.missing += 1
        self.cache[path] = url
        return url


def _compact_sample(
    sample: InstructionSample, index: int, graph_index: list[int | None],
    urls: list[str | None], group: int,
) -> dict[str, Any]:
    prov = sample.provenance
    return {
        "i": index,
        "id": sample.id,
        "q": sample.question,
        "a": sample.answer,
        "f": sample.form.value,
        "o": sample.options,
        "ai": sample.answer_index,
        "av": sample.answer_value,
        "at": sample.answer_type,
        "fam": prov.family,
        "gen": prov.generator,
        "tpl": prov.template,
        "src": prov.source,
        "ids": prov.image_ids,
        "img": urls,
        "g": graph_index,
        "obj": prov.objects,
        "rel": prov.relations,
        "prog": [[s.op, s.inputs, s.args, s.output] for s in prov.program],
        "grp": group,
    }


def _compact_graph(graph: SceneGraph, url: str | None) -> dict[str, Any]:
    objects = []
    for obj in graph.objects:
        entry: dict[str, Any] = {
            "id": obj.id,
            "name": obj.name,
            "attrs": [a.value for a in obj.attributes],
            "box": list(obj.box.as_tuple()) if obj.box is not None else None,
        }
        if obj.mask is not None:
            entry["mask"] = {"size": list(obj.mask.size), "counts": obj.mask.counts}
        if obj.depth is not None:
            entry["depth"] = obj.depth
        objects.append(entry)
    return {
        "id": graph.image.id,
        "w": graph.image.width,
        "h": graph.image.height,
        "img": url,
        "objects": objects,
        "relations": [[r.subject, r.predicate, r.object, r.category.value, r.source.value]
                      for r in graph.relations],
    }


def _write(path: Path, text: str, report: SiteReport) -> None:
    with atomic_write(path) as fh:
        fh.write(text)
    size = len(text.encode("utf-8"))
    report.data_bytes += size
    report.largest_file_bytes = max(report.largest_file_bytes, size)


def build_site(run: RunData, out: Path, title: str | None = None) -> SiteReport:
    """Write the viewer for ``run`` into ``out`` (see the module docstring for the layout)."""
    started = time.perf_counter()
    out = Path(out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob("*.js"):
        stale.unlink()
    report = SiteReport(out=out)
    urls = _ImageUrls(run, out)
    facets = _Facets()
    groups: dict[bytes, int] = {}
    group_codes: list[int] = []
    graph_ids: dict[str, int] = {}  # image id -> graph index (first appearance)
    graph_paths: dict[str, str] = {}  # image id -> a sample's image path, to find its file
    chunk: list[dict[str, Any]] = []
    n_chunks = 0
    for index, sample in enumerate(run.samples()):
        prov = sample.provenance
        for name, value in (("family", prov.family), ("template", prov.template or ""),
                            ("generator", prov.generator), ("form", sample.form.value),
                            ("source", prov.source), ("answer", _answer_label(sample))):
            facets.add(name, value)
        key = question_group_key(sample)
        group = groups.setdefault(key, len(groups))
        group_codes.append(group)
        g_index: list[int | None] = []
        for k, image_id in enumerate(prov.image_ids):
            g_index.append(graph_ids.setdefault(image_id, len(graph_ids)))
            if k < len(sample.images):
                graph_paths.setdefault(image_id, sample.images[k])
        image_urls = [urls.url(p) for p in sample.images]
        chunk.append(_compact_sample(sample, index, g_index, image_urls, group))
        if len(chunk) == SAMPLES_PER_CHUNK:
            _write(data / f"samples-{n_chunks:05d}.js", _js("SS.chunk", n_chunks, chunk), report)
            n_chunks += 1
            chunk = []
        report.samples += 1
    if chunk:
        _write(data / f"samples-{n_chunks:05d}.js", _js("SS.chunk", n_chunks, chunk), report)
        n_chunks += 1

    answer_values = _cap_answers(facets)
    graphs = run.graphs(graph_ids) if graph_ids else {}
    n_graph_chunks = 0
    by_index = sorted(graph_ids.items(), key=lambda kv: kv[1])
    for start in range(0, len(by_index), GRAPHS_PER_CHUNK):
        block: list[dict[str, Any] | None] = []
        for image_id, _ in by_index[start:start + GRAPHS_PER_CHUNK]:
            graph = graphs.get(image_id)
            if graph is None:
                report.missing_graphs += 1
                block.append(None)
                continue
            path = graph_paths.get(image_id) or graph.image.path
            block.append(_compact_graph(graph, urls.url(path) if path else None))
        _write(data / f"graphs-{n_graph_chunks:05d}.js",
               _js("SS.graphs", n_graph_chunks, block), report)
        n_graph_chunks += 1
    report.graphs = len(graph_ids) - report.missing_graphs

    failure_reasons: dict[str, int] = {}
    failure_codes: list[int] = []
    failure_block: list[dict[str, Any]] = []
    n_failure_chunks = 0
    for failure in run.failures():
        reason = str(failure.get("reason", "unknown"))
        failure_codes.append(failure_reasons.setdefault(reason, len(failure_reasons)))
        failure = dict(failure)
        if len(str(failure.get("traceback", ""))) > MAX_TRACEBACK:
            failure["traceback"] = "…" + str(failure["traceback"])[-MAX_TRACEBACK:]
        failure_block.append(failure)
        if len(failure_block) == FAILURES_PER_CHUNK:
            _write(data / f"failures-{n_failure_chunks:05d}.js",
                   _js("SS.failures", n_failure_chunks, failure_block), report)
            n_failure_chunks += 1
            failure_block = []
    if failure_block:
        _write(data / f"failures-{n_failure_chunks:05d}.js",
               _js("SS.failures", n_failure_chunks, failure_block), report)
        n_failure_chunks += 1
    report.failures = len(failure_codes)

    facet_values = {name: list(facets.values[name]) for name in FACETS}
    facet_values["answer"] = answer_values
    counts = {name: dict(Counter(facet_values[name][c] for c in facets.codes[name]))
              for name in FACETS}
    meta = {
        "title": title or run.root.name,
        "run": str(run.root),
        "samples": report.samples,
        "graphs": len(graph_ids),
        "failures": report.failures,
        "samples_per_chunk": SAMPLES_PER_CHUNK,
        "graphs_per_chunk": GRAPHS_PER_CHUNK,
        "failures_per_chunk": FAILURES_PER_CHUNK,
        "facets": list(FACETS),
        "facet_values": facet_values,
        "facet_counts": counts,
        "failure_reasons": list(failure_reasons),
        "forms": [f.value for f in AnswerForm],
    }
    _write(data / "meta.js", "window.SS_META = " + json.dumps(meta, ensure_ascii=False)
           .replace("</", "<\\/") + ";\n", report)
    columns: dict[str, list[int]] = {name: facets.codes[name] for name in FACETS}
    columns["group"] = group_codes
    columns["failure_reason"] = failure_codes
    _write(data / "index.js", "window.SS_INDEX = " + json.dumps(columns, separators=(",", ":"))
           + ";\n", report)
    static = resources.files("scenesynth.view") / "static"
    for name in STATIC_FILES:
        with resources.as_file(static / name) as src:
            shutil.copyfile(src, out / name)
    report.missing_images = urls.missing
    report.facet_sizes = {name: len(values) for name, values in facet_values.items()}
    report.seconds = time.perf_counter() - started
    return report


def _cap_answers(facets: _Facets) -> list[str]:
    """Keep the MAX_ANSWER_FACETS most frequent answers as filter values; the rest share one."""
    values = list(facets.values["answer"])
    if len(values) <= MAX_ANSWER_FACETS:
        return values
    counts = Counter(facets.codes["answer"])
    kept = sorted(code for code, _ in counts.most_common(MAX_ANSWER_FACETS))
    remap = {old: new for new, old in enumerate(kept)}
    other = len(kept)
    facets.codes["answer"] = [remap.get(c, other) for c in facets.codes["answer"]]
    return [values[c] for c in kept] + [OTHER]
