"""The export-level checker: what a trainer reads, checked against the text and the image.

:mod:`scenesynth.export.validate` checks that a trainer can *load* a record. This module checks
that the record *says the right thing*, reading back the exported text of every format
(LLaVA, ShareGPT, Parquet, WebDataset) exactly as a trainer sees it:

* **text**: a multiple-choice prompt lists its options once, lettered ``A.``, ``B.``, ... in
  order and equal to the record's options; the correct option appears among them exactly once,
  and the assistant turn's letter (and text, when written) is that option; a short or yes/no
  prompt lists no options; a yes/no answer is "yes" or "no"; one ``<image>`` placeholder per
  image, and with several images the labels ``Image 1:`` .. ``Image n:`` each once and no
  question about an ``Image k`` beyond the last one; no empty turn.
* **geometry**: every referring expression and relation question is resolved again against
  the scene's geometry, independently of the generators' executor. The stored program
  (``metadata.provenance.program``) is re-executed over the run's scene graphs with every
  spatial predicate decided by :func:`scenesynth.graph.spatial_relation` (the project's one
  geometric rule) instead of the graph's listed relations. A reference whose ``unique`` step
  then sees a second object (or none), a relation question whose asked answer is undecided or
  false by geometry, a multiple-choice relation question with a second option that geometry
  also makes true: each is a problem. Undecided pairs never count as a match (they cannot
  make a reference ambiguous), but an *asked* answer that is undecided is a problem.
  Non-spatial predicates ("wearing", "has") are resolved from the graph's relations.

Each problem names the record (file, index, sample id), the field and the reason. The graphs
come from the run: ``graphs.jsonl`` beside the export (``synth`` / ``demo``), or the source
recorded in the run's ``manifest.json`` (``generate`` / ``run``); see :func:`find_graphs`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.export.records import ASSISTANT, IMAGE_TOKEN, USER, conversation_problems
from scenesynth.export.validate import ExportedRecord, read_records
from scenesynth.graph import SceneGraph, SceneObject, canonical_spatial, spatial_relation

# Problem kinds. TEXT_KINDS are about the written record; GEOMETRY_KINDS about what the
# image shows.
OPTIONS, ANSWER, PLACEHOLDER, TURNS = "options", "answer", "placeholder", "turns"
AMBIGUOUS_REFERENCE, RELATION = "ambiguous_reference", "relation_geometry"
TEXT_KINDS = (OPTIONS, ANSWER, PLACEHOLDER, TURNS)
GEOMETRY_KINDS = (AMBIGUOUS_REFERENCE, RELATION)

_OPTION_LINE = re.compile(r"^([A-Z])\. (.*)$")
_IMAGE_LABEL = re.compile(r"^Image (\d+): ")
_IMAGE_MENTION = re.compile(r"\bImage (\d+)\b")


@dataclass(frozen=True)
class Problem:
    location: str  # file and record index
    sample_id: str | None
    field: str  # the record's field (or program step) that is wrong
    kind: str  # one of TEXT_KINDS / GEOMETRY_KINDS
    reason: str

    def __str__(self) -> str:
        sid = f" (id={self.sample_id!r})" if self.sample_id is not None else ""
        return f"{self.location}{sid}: field {self.field}: {self.reason} [{self.kind}]"


@dataclass
class CheckReport:
    n_records: int = 0
    n_geometry_checked: int = 0  # records whose program was re-executed over their graphs
    n_without_graphs: int = 0  # records with a program whose graphs were not available
    graphs_from: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> Counter[str]:
        return Counter(p.kind for p in self.problems)

    def summary(self) -> str:
        counts = self.counts()
        state = "OK" if self.ok else ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        geometry = (
            f"geometry re-resolved for {self.n_geometry_checked} (graphs: {self.graphs_from})"
            if self.graphs_from is not None else "geometry not checked: no scene graphs found"
        )
        missing = (f"; {self.n_without_graphs} record(s) name graphs that were not found"
                   if self.n_without_graphs else "")
        return f"checked {self.n_records} record(s); {geometry}{missing}: {state}"


# -- finding the run's graphs ----------------------------------------------------------------


def find_graphs(export_path: str | Path) -> Path | None:
    """The scene graphs an export was made from: ``graphs.jsonl`` in the export folder or its
    parent (``synth`` / ``demo`` runs), else the ``source`` in the run's ``manifest.json``
    (``generate`` / ``run``: the run folder is the export folder's parent). A relative source
    is tried from the working directory, then from the run folder and its parent."""
    p = Path(export_path)
    folder = p if p.is_dir() else p.parent
    for run in (folder, folder.parent):
        if (run / "graphs.jsonl").is_file():
            return run / "graphs.jsonl"
    for run in (folder, folder.parent):
        manifest = run / "manifest.json"
        if not manifest.is_file():
            continue
        try:
            source = json.loads(manifest.read_text(encoding="utf-8"))["config"]["source"]
        except (ValueError, KeyError, TypeError):
            return None
        candidate = Path(source)
        for base in (Path.cwd(), run, run.parent):
            resolved = candidate if candidate.is_absolute() else base / candidate
            if resolved.exists():
                return resolved
    return None


def load_graphs(source: str | Path, fmt: str | None = None) -> dict[str, SceneGraph]:
    """Graphs by image id, from any source the loaders read (graph JSONL included)."""
    from scenesynth.sources import load  # lazy: only the geometry check needs the loaders

    return {g.image.id: g for g in load(source, format=fmt)}


def _manifest_format(graphs_path: Path, export_path: Path) -> str | None:
    folder = export_path if export_path.is_dir() else export_path.parent
    for run in (folder, folder.parent):
        manifest = run / "manifest.json"
        if manifest.is_file():
            try:
                fmt = json.loads(manifest.read_text(encoding="utf-8"))["config"]["source_format"]
            except (ValueError, KeyError, TypeError):
                return None
            return fmt if isinstance(fmt, str) else None
    return None


# -- the checker ------------------------------------------------------------------------------


def check_export(
    path: str | Path | Sequence[Path],
    fmt: str | None = None,
    graphs: Mapping[str, SceneGraph] | str | Path | None = None,
) -> CheckReport:
    """Check every record of the export at ``path`` (file or folder, or the files of one
    export, e.g. LLaVA's single- and multi-image files).

    ``graphs``: the scene graphs by image id, or a path to load them from; None finds them
    with :func:`find_graphs` (the geometry check is skipped, and said so in the summary,
    when there are none)."""
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    report = CheckReport()
    by_id: Mapping[str, SceneGraph] | None
    if graphs is None:
        found = find_graphs(paths[0]) if paths else None
        by_id = load_graphs(found, _manifest_format(found, paths[0])) if found else None
        report.graphs_from = str(found) if found else None
    elif isinstance(graphs, str | Path):
        by_id = load_graphs(graphs)
        report.graphs_from = str(graphs)
    else:
        by_id = graphs
        report.graphs_from = "given"
    for record in (r for p in paths for r in read_records(p, fmt)):
        report.n_records += 1
        report.problems.extend(check_text(record))
        if by_id is not None:
            problems, checked = check_geometry(record, by_id)
            report.problems.extend(problems)
            if checked:
                report.n_geometry_checked += 1
            elif _program(record) is not None:
                report.n_without_graphs += 1
    return report


def check_records(
    records: Iterable[ExportedRecord], graphs: Mapping[str, SceneGraph] | None = None,
) -> list[Problem]:
    """:func:`check_export` over records already read (the tests' entry point)."""
    out: list[Problem] = []
    for record in records:
        out.extend(check_text(record))
        if graphs is not None:
            out.extend(check_geometry(record, graphs)[0])
    return out


# -- text -------------------------------------------------------------------------------------


def _user_text(record: ExportedRecord) -> str:
    return "\n".join(text for role, text in record.turns if role == USER)


def _answer_text(record: ExportedRecord) -> str | None:
    answers = [text for role, text in record.turns if role == ASSISTANT]
    return answers[-1].strip() if answers else None


def check_text(record: ExportedRecord) -> list[Problem]:
    """Options, answer, placeholders and turns of one record, read from its text."""
    out: list[Problem] = []

    def add(field_name: str, kind: str, reason: str) -> None:
        out.append(Problem(record.location, record.id, field_name, kind, reason))

    for problem in conversation_problems(record.turns, record.n_images):
        field_name, _, reason = problem.removeprefix("field ").partition(": ")
        kind = PLACEHOLDER if IMAGE_TOKEN in problem else TURNS
        add(field_name, kind, reason)
    prompt = _user_text(record)
    answer = _answer_text(record)
    meta = record.metadata or {}
    form = meta.get("form")
    listed = [(m.group(1), m.group(2).strip()) for line in prompt.split("\n")
              if (m := _OPTION_LINE.match(line.strip()))]
    if form == "mc" or (form is None and listed):
        _check_options(listed, meta, answer, add)
    elif listed and [letter for letter, _ in listed[:2]] == ["A", "B"]:
        add("prompt", OPTIONS, f"a {form} question lists lettered options "
            f"({', '.join(f'{k}. {t}' for k, t in listed)})")
    if form == "yes_no" and answer is not None and answer not in ("yes", "no"):
        add("answer", ANSWER, f"a yes/no question is answered {answer!r}")
    _check_image_labels(prompt, record.n_images, add)
    return out


def _check_options(
    listed: list[tuple[str, str]], meta: dict[str, Any], answer: str | None, add: Any,
) -> None:
    options = meta.get("options")
    index = meta.get("answer_index")
    letters = [letter for letter, _ in listed]
    texts = [text for _, text in listed]
    if not listed:
        add("prompt", OPTIONS, "a multiple-choice prompt lists no lettered options")
        return
    times = letters.count("A")
    if times > 1:
        add("prompt", OPTIONS, f"the options are listed {times} times")
    expected = [chr(ord("A") + i) for i in range(len(listed) // max(times, 1))]
    if times <= 1 and letters != expected:
        add("prompt", OPTIONS, f"option letters {''.join(letters)} are not consecutive from A "
            f"({''.join(expected)})")
    first = texts[: len(expected)] if times > 1 else texts
    if isinstance(options, list):
        if [str(o).strip() for o in options] != first:
            add("prompt", OPTIONS, f"listed options {first} differ from the record's options "
                f"{options}")
        if isinstance(index, int) and 0 <= index < len(options):
            correct = str(options[index]).strip()
            n_correct = first.count(correct)
            if n_correct != 1:
                add("options", ANSWER, f"the correct option {correct!r} is listed {n_correct} "
                    "times (must be exactly once)")
        else:
            add("answer_index", ANSWER, f"answer_index {index!r} does not index the "
                f"{len(options)} options")
    elif len(set(first)) != len(first):
        add("prompt", OPTIONS, f"options repeat: {first}")
    if answer is None:
        return
    letter, dot, text = answer.partition(".")
    letter = letter.strip()
    by_letter = dict(zip(letters[: len(first)], first, strict=True))
    if letter not in by_letter or (dot and not text.strip()):
        add("answer", ANSWER, f"the answer {answer!r} is not one of the listed letters "
            f"{''.join(by_letter)} (as 'B' or 'B. text')")
        return
    if dot and text.strip() != by_letter[letter]:
        add("answer", ANSWER, f"the answer {answer!r} does not match option {letter}. "
            f"{by_letter[letter]}")
    if isinstance(index, int) and letter != chr(ord("A") + index):
        add("answer", ANSWER, f"the answer letter {letter} is not the correct option "
            f"{chr(ord('A') + index)} (answer_index {index})")


def _check_image_labels(prompt: str, n_images: int, add: Any) -> None:
    labels = [int(m.group(1)) for line in prompt.split("\n")
              if (m := _IMAGE_LABEL.match(line.strip()))]
    if labels and labels != list(range(1, n_images + 1)):
        add("prompt", PLACEHOLDER, f"image labels {labels} for {n_images} image(s); expected "
            f"Image 1 .. Image {n_images}, each once, in order")
    for line in prompt.split("\n"):
        m = _IMAGE_LABEL.match(line.strip())
        if m and line.count(IMAGE_TOKEN) != 1:
            add("prompt", PLACEHOLDER, f"label 'Image {m.group(1)}:' has "
                f"{line.count(IMAGE_TOKEN)} {IMAGE_TOKEN} placeholders (expected 1)")
    mentioned = {int(m.group(1)) for m in _IMAGE_MENTION.finditer(prompt)}
    beyond = sorted(k for k in mentioned if not 1 <= k <= n_images)
    if beyond:
        add("prompt", PLACEHOLDER, f"the prompt names Image {beyond[0]} but the record has "
            f"{n_images} image(s)")


# -- geometry ---------------------------------------------------------------------------------


def _program(record: ExportedRecord) -> list[dict[str, Any]] | None:
    prov = (record.metadata or {}).get("provenance")
    program = prov.get("program") if isinstance(prov, dict) else None
    return program if isinstance(program, list) and program else None


class _Scene:
    """A sample's graphs by image index, with the lookups re-execution needs."""

    def __init__(self, graphs: list[SceneGraph]) -> None:
        self.graphs = graphs
        self.objects: list[dict[str, SceneObject]] = [
            {o.id: o for o in g.objects} for g in graphs
        ]

    def obj(self, ref: str) -> SceneObject:
        k, _, object_id = ref.partition(":")
        return self.objects[int(k)][object_id]

    def name(self, ref: str) -> str:
        return self.obj(ref).name

    def holds(self, subject: str, predicate: str, anchor: str) -> bool | None:
        """Whether ``subject PREDICATE anchor`` holds: by geometry for a spatial predicate
        (None = undecided), else by the graph's listed relations."""
        ks, _, sid = subject.partition(":")
        ka, _, aid = anchor.partition(":")
        if ks != ka:
            return False
        graph = self.graphs[int(ks)]
        if canonical_spatial(predicate) is not None:
            return spatial_relation(self.obj(subject), self.obj(anchor), predicate,
                                    graph.image, graph.camera)
        return any(r.subject == sid and r.object == aid and r.predicate == predicate
                   for r in graph.relations)

    def related(self, anchor: str, predicate: str, inverse: bool) -> list[str]:
        """Objects X with ``X PREDICATE anchor`` (``anchor PREDICATE X`` when inverse), decided
        True; undecided pairs are not members."""
        k = anchor.partition(":")[0]
        out = []
        for object_id in self.objects[int(k)]:
            ref = f"{k}:{object_id}"
            if ref == anchor:
                continue
            decided = (self.holds(anchor, predicate, ref) if inverse
                       else self.holds(ref, predicate, anchor))
            if decided is True:
                out.append(ref)
        return sorted(out)


def _predicate(step: dict[str, Any]) -> str:
    return " ".join(str(step.get("args", {}).get("predicate", "")).lower().split())


def _upstream(program: list[dict[str, Any]], index: int) -> Iterator[int]:
    """Indices of the steps whose sets flow into step ``index`` (itself included): the
    search stops at earlier ``unique`` steps, which name another object (an anchor)."""
    seen: set[int] = set()
    stack = [index]
    while stack:
        i = stack.pop()
        if i in seen or not 0 <= i < len(program):
            continue
        seen.add(i)
        yield i
        if i == index or program[i].get("op") != "unique":
            stack.extend(program[i].get("inputs", []))


def _why_not(
    scene: _Scene, program: list[dict[str, Any]], outputs: list[Any], unique_at: int,
    target: str,
) -> str:
    """Why geometry drops ``target`` from a reference: its undecided or false relations."""
    reasons = []
    for i in _upstream(program, unique_at):
        step = program[i]
        if step.get("op") not in ("relate", "relate_inv"):
            continue
        anchor = outputs[step["inputs"][0]]
        if not isinstance(anchor, str):
            continue
        pred = _predicate(step)
        decided = (scene.holds(anchor, pred, target) if step["op"] == "relate_inv"
                   else scene.holds(target, pred, anchor))
        if decided is not True:
            a, b = ((anchor, target) if step["op"] == "relate_inv" else (target, anchor))
            state = "undecided" if decided is None else "false"
            reasons.append(f"'{scene.name(a)} {pred} {scene.name(b)}' is {state} in the image")
    return "; ".join(reasons)


def check_geometry(
    record: ExportedRecord, graphs: Mapping[str, SceneGraph],
) -> tuple[list[Problem], bool]:
    """Re-resolve the record's references and relation questions against geometry; returns
    the problems and whether the record could be checked (program and graphs present)."""
    program = _program(record)
    meta = record.metadata or {}
    prov = meta.get("provenance") or {}
    image_ids = prov.get("image_ids") or []
    if program is None or not image_ids or any(i not in graphs for i in image_ids):
        return [], False
    scene = _Scene([graphs[i] for i in image_ids])
    out: list[Problem] = []

    def add(i: int, kind: str, reason: str) -> None:
        out.append(Problem(record.location, record.id,
                           f"metadata.provenance.program[{i}] ({program[i].get('op')})",
                           kind, reason))

    try:
        _execute(program, scene, meta, add)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        out.append(Problem(record.location, record.id, "metadata.provenance.program",
                           AMBIGUOUS_REFERENCE,
                           f"the program does not resolve over the graphs: {exc!r}"))
    return out, True


def _execute(
    program: list[dict[str, Any]], scene: _Scene, meta: dict[str, Any], add: Any,
) -> None:
    """Re-execute the set-valued steps by geometry; every other step keeps its stored output,
    unless it reads a set that geometry changed (then that is a problem)."""
    outputs: list[Any] = []
    changed: list[bool] = []  # whether outputs[i] differs from the stored output
    for i, step in enumerate(program):
        op = step.get("op")
        args = step.get("args") or {}
        inputs = [outputs[j] for j in step.get("inputs", [])]
        stored = step.get("output")
        value: Any = stored
        if op == "scene":
            k = int(args.get("image", 0))
            value = sorted(f"{k}:{o}" for o in scene.objects[k])
        elif op == "filter_name":
            name = " ".join(str(args["name"]).lower().split())
            value = [r for r in inputs[0] if scene.name(r) == name]
        elif op == "filter_attr":
            value = [r for r in inputs[0] if scene.obj(r).has_attribute(str(args["value"]))]
        elif op in ("intersect", "union"):
            a, b = set(inputs[0]), set(inputs[1])
            value = sorted(a & b if op == "intersect" else a | b)
        elif op in ("relate", "relate_inv"):
            value = scene.related(inputs[0], _predicate(step), inverse=op == "relate_inv")
        elif op == "relate_set":
            value = sorted({r for anchor in inputs[0]
                            for r in scene.related(anchor, _predicate(step), inverse=False)})
        elif op == "unique":
            members = inputs[0]
            if members != [stored]:
                value = _unique_problem(i, program, outputs, scene, members, stored, add)
        elif op in ("exist", "count") and any(changed[j] for j in step.get("inputs", [])):
            value = len(inputs[0]) > 0 if op == "exist" else len(inputs[0])
            if value != stored:
                add(i, RELATION, f"by geometry the answer is {value!r}, not {stored!r} (the "
                    f"set is {[scene.name(r) for r in inputs[0]]})")
                value = stored
        elif op in ("spatial", "has_relation"):
            _check_verify(i, step, inputs, stored, scene, add)
        elif op == "query_relation":
            _check_query_relation(i, inputs, stored, scene, meta, add)
        elif any(changed[j] for j in step.get("inputs", [])):
            add(i, RELATION, f"reads a set that geometry changes: "
                f"{[scene.name(r) for r in inputs[0]] if isinstance(inputs[0], list) else ''}")
        changed.append(value != stored)
        outputs.append(value)


def _unique_problem(
    i: int, program: list[dict[str, Any]], outputs: list[Any], scene: _Scene,
    members: list[str], stored: Any, add: Any,
) -> Any:
    """Report a reference that geometry does not resolve to its one stored object; the stored
    object is kept for the steps after it (one problem per reference)."""
    names = [scene.name(r) for r in members]
    target = scene.name(stored) if isinstance(stored, str) else repr(stored)
    if stored in members:
        others = [scene.name(r) for r in members if r != stored]
        add(i, AMBIGUOUS_REFERENCE, f"the reference to the {target} also fits "
            f"{', '.join(f'the {n}' for n in others)} by the image's geometry")
    else:
        why = _why_not(scene, program, outputs, i, stored) if isinstance(stored, str) else ""
        found = ", ".join(f"the {n}" for n in names) if names else "no object"
        add(i, AMBIGUOUS_REFERENCE if names else RELATION,
            f"the reference to the {target} resolves to {found} by the image's geometry"
            + (f" ({why})" if why else ""))
    return stored


def _check_verify(
    i: int, step: dict[str, Any], inputs: list[Any], stored: Any, scene: _Scene, add: Any,
) -> None:
    pred = _predicate(step)
    if canonical_spatial(pred) is None:
        return  # a non-spatial annotated relation: nothing in the geometry to check
    a, b = inputs[0], inputs[1]
    if not isinstance(a, str) or not isinstance(b, str):
        return
    decided = scene.holds(a, pred, b)
    phrase = f"'{scene.name(a)} {pred} {scene.name(b)}'"
    if decided is None:
        add(i, RELATION, f"{phrase} is undecided in the image, but the answer is {stored!r}")
    elif decided != stored:
        add(i, RELATION, f"{phrase} is {decided} by the image's geometry, but the answer is "
            f"{stored!r}")


def _check_query_relation(
    i: int, inputs: list[Any], stored: Any, scene: _Scene, meta: dict[str, Any], add: Any,
) -> None:
    a, b = inputs[0], inputs[1]
    if not isinstance(a, str) or not isinstance(b, str) or not isinstance(stored, str):
        return
    if canonical_spatial(stored) is not None:
        decided = scene.holds(a, stored, b)
        if decided is not True:
            state = "undecided" if decided is None else "false"
            add(i, RELATION, f"the answer '{scene.name(a)} {stored} {scene.name(b)}' is "
                f"{state} in the image")
    options = meta.get("options") if meta.get("form") == "mc" else None
    for option in options or []:
        text = str(option)
        if canonical_spatial(text) in (None, canonical_spatial(stored)):
            continue  # not spatial, or the answer itself under another name
        if scene.holds(a, text, b) is True:
            add(i, RELATION, f"option {text!r} is also true in the image: "
                f"'{scene.name(a)} {text} {scene.name(b)}'")
