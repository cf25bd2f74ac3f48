"""A run's split as benchmark files for the common evaluation harnesses.

VLMEvalKit reads a custom benchmark from a TSV file: multiple choice as ``index, image,
question, A, B, C, ..., answer`` (the correct letter) ``, category``, open questions as
``index, image, question, answer, category``; ``image`` is the base64 of the image file.
:func:`write_vlmevalkit` writes both (``NAME_mcq.tsv`` and ``NAME_vqa.tsv``) with the family as
``category``, plus ``NAME_ids.tsv`` mapping each index back to the sample id, so a harness's
predictions can be scored against the stored programs. Multi-image samples are skipped (the
single-image TSV layout has one image column) and counted.
"""

from __future__ import annotations

import base64
import csv
from dataclasses import dataclass, field
from pathlib import Path

from scenesynth.evaluate.split import split_ids
from scenesynth.export.records import option_letter
from scenesynth.graph import AnswerForm
from scenesynth.ioutil import atomic_write
from scenesynth.rundata import RunData


@dataclass
class TaskExport:
    mcq: int = 0
    vqa: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)


def write_vlmevalkit(run: RunData, out_dir: Path, split: str = "all",
                     name: str = "scenesynth") -> TaskExport:
    ids = None if split == "all" else split_ids(run, split)
    result = TaskExport()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: out_dir / f"{name}_{k}.tsv" for k in ("mcq", "vqa", "ids")}
    encoded: dict[Path, str] = {}
    with atomic_write(paths["mcq"]) as mcq_fh, atomic_write(paths["vqa"]) as vqa_fh, \
            atomic_write(paths["ids"]) as ids_fh:
        mcq = csv.writer(mcq_fh, delimiter="\t", lineterminator="\n")
        vqa = csv.writer(vqa_fh, delimiter="\t", lineterminator="\n")
        index = csv.writer(ids_fh, delimiter="\t", lineterminator="\n")
        mcq.writerow(["index", "image", "question", *[option_letter(i) for i in range(6)],
                      "answer", "category"])
        vqa.writerow(["index", "image", "question", "answer", "category"])
        index.writerow(["index", "id", "form", "template"])
        n = 0
        for sample in run.samples():
            if ids is not None and sample.id not in ids:
                continue
            if len(sample.images) != 1:
                result.skipped["multi-image"] = result.skipped.get("multi-image", 0) + 1
                continue
            path = run.resolve_image(sample.images[0])
            if path is None:
                result.skipped["image not found"] = result.skipped.get("image not found", 0) + 1
                continue
            if path not in encoded:
                encoded[path] = base64.b64encode(path.read_bytes()).decode("ascii")
            family = sample.provenance.family
            options = sample.options or []
            if sample.form == AnswerForm.MULTIPLE_CHOICE and 2 <= len(options) <= 6 \
                    and sample.answer_index is not None:
                cells = [*options, *[""] * (6 - len(options))]
                mcq.writerow([n, encoded[path], sample.question, *cells,
                              option_letter(sample.answer_index), family])
                result.mcq += 1
            elif sample.form == AnswerForm.MULTIPLE_CHOICE:
                result.skipped["more than 6 options"] = result.skipped.get(
                    "more than 6 options", 0) + 1
                continue
            else:
                vqa.writerow([n, encoded[path], sample.question, sample.answer, family])
                result.vqa += 1
            index.writerow([n, sample.id, sample.form.value, sample.provenance.template or ""])
            n += 1
    result.paths = list(paths.values())
    return result
