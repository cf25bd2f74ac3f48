"""Relation steps with a second answer in the image: a measurement written from the geometry
rules, independent of the generators' relation choices.

A stored program's relation step (``relate`` / ``relate_inv`` / ``relate_set`` with a spatial
predicate, any mode) claims a set of objects. What a reader of the image sees is the geometric
set: the objects :func:`~scenesynth.graph.spatial_relation` decides True, and possibly the
undecided ones. The step is *ambiguous* when replacing its output by the strict geometric set
(True only) or by the loose one (True or undecided), then re-running the rest of the program,
fails (a ``unique`` sees two objects or none) or changes the final answer. It also counts:

* ``has_relation`` with a spatial predicate whose answer geometry does not give (decided);
* ``query_relation`` answering a spatial predicate (other spatial relations hold as well);
* relation-step predicates that are not spatial in an open (non-yes/no) question;
* ``describe_relations`` lines whose subject or object name is not unique in the image, or
  whose spatial predicate geometry does not decide True.

Run ``python tests/support/geometry_ambiguity.py DEMO_DIR`` on a demo / synth output
(``data.json`` and ``graphs.jsonl``), or ``python tests/support/geometry_ambiguity.py --shared``
to generate over the shared CLEVR / GQA / VG / COCO samples and measure those.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.graph import (
    DEFAULT_RULES,
    ProgramStep,
    SceneGraph,
    canonical_spatial,
    graph_from_json,
    spatial_relation,
)
from scenesynth.programs.execute import ProgramError, execute
from scenesynth.programs.tables import build_tables

RELATION_OPS = ("relate", "relate_inv", "relate_set")


@dataclass
class AmbiguityCount:
    relation_steps: int = 0  # spatial relation steps seen
    ambiguous_steps: int = 0  # ... with a second (or no) geometric answer
    non_spatial_open: int = 0  # non-spatial relation steps in open questions
    verify_steps: int = 0
    verify_disagree: int = 0  # has_relation (spatial) answered against geometry
    spatial_predicate_answers: int = 0  # query_relation answering a spatial predicate
    caption_lines: int = 0
    caption_unresolved: int = 0  # describe_relations lines a reader cannot resolve
    examples: list[str] = field(default_factory=list)

    def add(self, other: AmbiguityCount) -> None:
        for name in ("relation_steps", "ambiguous_steps", "non_spatial_open", "verify_steps",
                     "verify_disagree", "spatial_predicate_answers", "caption_lines",
                     "caption_unresolved"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.examples.extend(other.examples[: max(0, 20 - len(self.examples))])

    @property
    def defects(self) -> int:
        return (self.ambiguous_steps + self.non_spatial_open + self.verify_disagree
                + self.spatial_predicate_answers + self.caption_unresolved)


def _decide(t: Any, a: str, b: str, predicate: str) -> bool | None:
    """spatial_relation itself (not the generators' cached copy of its arithmetic)."""
    g = t.graph
    return spatial_relation(t.objects[a], t.objects[b], predicate, g.image, g.camera)


def _geometric_set(tables: Any, step: ProgramStep, anchors: Sequence[str], loose: bool
                   ) -> list[str]:
    predicate = canonical_spatial(str(step.args["predicate"]))
    assert predicate is not None
    inverse = step.op == "relate_inv"
    found: set[str] = set()
    for o in anchors:
        image = int(o.partition(":")[0])
        t = tables[image]
        for x in t.scene:
            if x == o:
                continue
            value = _decide(t, o, x, predicate) if inverse else _decide(t, x, o, predicate)
            if value is True or (loose and value is None):
                found.add(x)
    return sorted(found)


def measure_program(
    program: Sequence[ProgramStep], graphs: Sequence[SceneGraph], question: str,
    yes_no: bool,
) -> AmbiguityCount:
    count = AmbiguityCount()
    tables = build_tables(graphs, DEFAULT_RULES)
    outputs = [s.output for s in program]
    answer = outputs[-1] if outputs else None
    for i, step in enumerate(program):
        if step.op in RELATION_OPS:
            predicate = canonical_spatial(str(step.args.get("predicate", "")))
            if predicate is None:
                if not yes_no:
                    count.non_spatial_open += 1
                    count.examples.append(f"non-spatial open: {question}")
                continue
            count.relation_steps += 1
            anchor = outputs[step.inputs[0]]
            anchors = anchor if isinstance(anchor, list) else [anchor]
            for loose in (False, True):
                known = {j: outputs[j] for j in range(i)}
                known[i] = _geometric_set(tables, step, anchors, loose)
                try:
                    again = execute(program, graphs, None, tables, known)[-1]
                except ProgramError:
                    again = ProgramError
                if again != answer:
                    count.ambiguous_steps += 1
                    count.examples.append(
                        f"{'loose' if loose else 'strict'} step {i} {step.op} "
                        f"{step.args.get('predicate')}: {question} -> {answer!r}, geometry "
                        f"gives {'an error' if again is ProgramError else repr(again)}")
                    break
        elif step.op == "has_relation":
            predicate = canonical_spatial(str(step.args["predicate"]))
            if predicate is None:
                continue
            count.verify_steps += 1
            a, b = outputs[step.inputs[0]], outputs[step.inputs[1]]
            t = tables[int(a.partition(":")[0])]
            if _decide(t, a, b, predicate) is not step.output:
                count.verify_disagree += 1
                count.examples.append(f"verify against geometry: {question} -> {step.output}")
        elif step.op == "query_relation":
            if canonical_spatial(str(step.output)) is not None:
                count.spatial_predicate_answers += 1
                count.examples.append(f"spatial predicate answer: {question} -> {step.output}")
        elif step.op == "describe_relations":
            count.caption_lines += len(step.output)
            count.caption_unresolved += _unresolved_caption_lines(
                graphs, step, outputs[step.inputs[0]], count)
    return count


def _unresolved_caption_lines(graphs: Sequence[SceneGraph], step: ProgramStep,
                              members: list[str], count: AmbiguityCount) -> int:
    """Caption lines 'subject predicate object' whose names do not pick one object each, or
    whose spatial predicate the geometry does not decide True."""
    tables = build_tables(graphs, DEFAULT_RULES)
    bad = 0
    for line in step.output:
        resolved = False
        for t in tables:
            for rel in t.graph.relations:
                s, o = t.ref_of[rel.subject], t.ref_of[rel.object]
                if f"{t.names[s]} {rel.predicate} {t.names[o]}" != line:
                    continue
                if s not in members or o not in members:
                    continue
                unique = len(t.by_name[t.names[s]]) == 1 and len(t.by_name[t.names[o]]) == 1
                predicate = canonical_spatial(rel.predicate)
                agrees = predicate is None or _decide(t, s, o, predicate) is True
                resolved = unique and agrees
        if not resolved:
            bad += 1
            count.examples.append(f"caption line not resolvable: {line!r}")
    return bad


def measure_samples(
    samples: Iterable[tuple[list[ProgramStep], list[str], str, bool]],
    graphs_by_id: dict[str, SceneGraph],
) -> AmbiguityCount:
    """``samples``: (program, image ids, question text, is yes/no form)."""
    total = AmbiguityCount()
    for program, image_ids, question, yes_no in samples:
        total.add(measure_program(program, [graphs_by_id[i] for i in image_ids], question,
                                  yes_no))
    return total


def measure_shard_samples(samples: Iterable[Any], graphs: Iterable[SceneGraph]
                          ) -> AmbiguityCount:
    """Measure :class:`~scenesynth.graph.InstructionSample` objects (a shard's output)."""
    by_id = {g.image.id: g for g in graphs}
    return measure_samples(
        ((s.provenance.program, s.provenance.image_ids, s.question, s.form == "yes_no")
         for s in samples), by_id)


def measure_demo(folder: Path) -> AmbiguityCount:
    """Measure a demo / synth LLaVA output folder (``data.json`` and ``graphs.jsonl``)."""
    graphs = {}
    with (folder / "graphs.jsonl").open() as fh:
        for line in fh:
            g = graph_from_json(line)
            graphs[g.image.id] = g
    records = json.loads((folder / "data.json").read_text())

    def rows() -> Iterable[tuple[list[ProgramStep], list[str], str, bool]]:
        for r in records:
            meta = r["metadata"]
            prov = meta["provenance"]
            program = [ProgramStep(s["op"], s["inputs"], s["args"], s["output"])
                       for s in prov["program"]]
            yield program, prov["image_ids"], r["conversations"][0]["value"], \
                meta["form"] == "yes_no"

    return measure_samples(rows(), graphs)


SHARED_SOURCES = {
    "clevr": "clevr/CLEVR_train_scenes_1000.json",
    "gqa": "gqa/debug_sceneGraphs.json",
    "vg": "visual_genome",
    "coco": "coco_panoptic",
}


def measure_shared(shared_data: Path, name: str, per_image: int = 3, seed: int = 0,
                   limit: int | None = None) -> AmbiguityCount:
    """Generate over one shared dataset (all generators, every form; its first ``limit``
    graphs) and measure it."""
    from scenesynth.generators.base import GenConfig
    from scenesynth.graph import AnswerForm
    from scenesynth.pipeline.shard import generate_shard
    from scenesynth.sources import load

    graphs = list(itertools.islice(load(shared_data / SHARED_SOURCES[name]), limit))
    forms = (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO)
    total = AmbiguityCount()
    for start in range(0, len(graphs), 64):  # shards as an engine run cuts them
        shard = graphs[start:start + 64]
        result = generate_shard(shard, None, per_image, forms, seed, GenConfig(),
                                (2, min(3, len(shard))))
        total.add(measure_shard_samples(result.samples, shard))
    return total


def _report(label: str, c: AmbiguityCount) -> None:
    print(f"{label}: {c.ambiguous_steps} of {c.relation_steps} spatial relation steps with a "
          f"second geometric answer; {c.non_spatial_open} non-spatial open relation steps; "
          f"{c.verify_disagree} of {c.verify_steps} spatial verifications against geometry; "
          f"{c.spatial_predicate_answers} spatial predicate answers; {c.caption_unresolved} of "
          f"{c.caption_lines} caption lines unresolvable")
    for e in c.examples[:8]:
        print("   ", " ".join(e.split())[:200])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--shared"]:
        data = Path(__file__).resolve().parents[3] / "shared" / "data"
        for source in sys.argv[2:] or sorted(SHARED_SOURCES):
            _report(source, measure_shared(data, source))
    else:
        for folder in sys.argv[1:]:
            _report(folder, measure_demo(Path(folder)))
