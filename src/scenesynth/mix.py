"""Mixing a run's samples into an existing LLaVA / ShareGPT instruction set.

The papers that train on synthetic scene-graph data either *augment* a base set (add k = ratio
x N records) or *replace* a share of it (k of its N records swapped for ours, the size kept),
with the synthetic answers in short form, multiple choice, or half and half. This module does
exactly that, deterministically for a seed:

- base records that are kept are written back byte for byte as they were in the base file
  (their JSON text is sliced out of the file, never re-serialised), in their original order;
- augment: our k records are interleaved at seeded positions; replace: the k seeded base
  positions hold our records instead;
- ``forms``: ``short`` takes free-answer samples (short and yes/no forms), ``mc`` takes
  multiple-choice samples, ``half`` takes floor(k/2) multiple-choice and the rest short;
  one question is used in at most one form (the forms of a question share its program).

The report counts what was added or replaced, per generator family and per form.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from scenesynth.export.jsonfmt import llava_record, sharegpt_record
from scenesynth.export.records import MCAnswerStyle, RecordError, TurnStyle, to_conversation
from scenesynth.graph import AnswerForm, InstructionSample
from scenesynth.ioutil import atomic_write
from scenesynth.rundata import RunData, question_key

SHORT_FORMS = frozenset({AnswerForm.SHORT, AnswerForm.YES_NO})


class MixMode(StrEnum):
    AUGMENT = "augment"
    REPLACE = "replace"


class MixForms(StrEnum):
    SHORT = "short"
    MC = "mc"
    HALF = "half"


class MixError(ValueError):
    """A mix that cannot be made; the message says which input and why."""


@dataclass
class MixReport:
    base_file: str
    run: str
    base_format: str
    mode: str
    forms: str
    ratio: float
    seed: int
    base_records: int
    output_records: int
    added: int
    replaced: int
    candidates: dict[str, int]
    per_family: dict[str, int] = field(default_factory=dict)
    per_form: dict[str, int] = field(default_factory=dict)
    per_generator: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # sample id -> why it was not usable

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_base(path: Path) -> tuple[str, list[str]]:
    """The base set's format (``llava`` or ``sharegpt``) and each record's exact JSON text.

    Reads a JSON array (records sliced out of the text with the decoder's end offsets) or
    JSONL (one record a line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MixError(f"{path}: base file not found") from None
    except UnicodeDecodeError as exc:
        raise MixError(f"{path}: not UTF-8 text ({exc})") from None
    raw: list[str] = []
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            pos = text.index("[") + 1
            while True:
                pos = _skip_space(text, pos)
                if text[pos] == "]":
                    break
                _, end = decoder.raw_decode(text, pos)
                raw.append(text[pos:end])
                pos = _skip_space(text, end)
                if text[pos] == ",":
                    pos += 1
                elif text[pos] != "]":
                    raise MixError(
                        f"{path}: record {len(raw)}: expected ',' or ']' at offset {pos}"
                    )
        else:
            for line in text.splitlines():
                if line.strip():
                    decoder.decode(line)
                    raw.append(line.strip())
    except (json.JSONDecodeError, IndexError) as exc:
        raise MixError(f"{path}: record {len(raw)}: not valid JSON ({exc})") from None
    if not raw:
        raise MixError(f"{path}: the base set has no records")
    first = json.loads(raw[0])
    if not isinstance(first, dict):
        raise MixError(f"{path}: record 0: expected a JSON object")
    if "conversations" in first:
        return "llava", raw
    if "messages" in first:
        return "sharegpt", raw
    raise MixError(f"{path}: record 0: neither 'conversations' (LLaVA) nor 'messages' (ShareGPT)")


def _skip_space(text: str, pos: int) -> int:
    while text[pos] in " \t\r\n":
        pos += 1
    return pos


def _pick(
    rng: random.Random, short: list[InstructionSample], mc: list[InstructionSample],
    n_short: int, n_mc: int,
) -> list[InstructionSample]:
    rng.shuffle(mc)
    chosen_mc = mc[:n_mc]
    used = {question_key(s) for s in chosen_mc}
    rng.shuffle(short)
    chosen_short: list[InstructionSample] = []
    for sample in short:
        if len(chosen_short) == n_short:
            break
        key = question_key(sample)
        if key not in used:
            used.add(key)
            chosen_short.append(sample)
    return chosen_mc + chosen_short


def mix(
    base: Path,
    run: RunData,
    out: Path,
    ratio: float,
    mode: MixMode = MixMode.AUGMENT,
    forms: MixForms = MixForms.HALF,
    seed: int = 0,
    image_folder: Path | None = None,
    mc_answer: MCAnswerStyle = MCAnswerStyle.LETTER_TEXT,
) -> MixReport:
    """Write ``out`` (same format as ``base``) and ``out``'s ``.report.json``; see the module."""
    if not 0 < ratio <= (1 if mode == MixMode.REPLACE else 100):
        raise MixError(f"--ratio {ratio}: must be in (0, 1] for replace, (0, 100] for augment")
    fmt, raw = read_base(base)
    n_base = len(raw)
    k = round(ratio * n_base)
    if k == 0:
        raise MixError(f"--ratio {ratio} of {n_base} base records rounds to 0 samples")
    n_mc = {MixForms.SHORT: 0, MixForms.MC: k, MixForms.HALF: k // 2}[forms]
    n_short = k - n_mc

    style = TurnStyle(mc_answer=mc_answer)
    short: list[InstructionSample] = []
    mc: list[InstructionSample] = []
    skipped: dict[str, str] = {}
    records: dict[str, dict[str, Any]] = {}
    out_dir = out.parent.resolve()
    for sample in run.samples():
        pool = mc if sample.form == AnswerForm.MULTIPLE_CHOICE else short
        if (pool is mc and n_mc == 0) or (pool is short and n_short == 0):
            continue
        record = _record(sample, run, fmt, style, out_dir, image_folder, skipped)
        if record is not None:
            records[sample.id] = record
            pool.append(sample)
    n_short_keys = len({question_key(s) for s in short})
    if len(mc) < n_mc or n_short_keys < n_short:
        raise MixError(
            f"{run.root}: {k} samples needed ({n_mc} multiple choice, {n_short} short) but the "
            f"run has {len(mc)} usable multiple-choice and {n_short_keys} distinct short "
            f"questions"
            + (f"; {len(skipped)} skipped, e.g. {next(iter(skipped.values()))}" if skipped else "")
        )
    rng = random.Random(f"scenesynth.mix:{seed}")
    chosen = _pick(rng, short, mc, n_short, n_mc)
    rng.shuffle(chosen)
    if len({question_key(s) for s in chosen}) != len(chosen):  # a short question picked as mc
        raise MixError(f"{run.root}: not enough distinct questions for {k} samples")
    ours = [json.dumps(records[s.id], ensure_ascii=False) for s in chosen]

    if mode == MixMode.REPLACE:
        replaced = set(rng.sample(range(n_base), k))
        it = iter(ours)
        merged = [next(it) if i in replaced else rec for i, rec in enumerate(raw)]
    else:
        positions = set(rng.sample(range(n_base + k), k))
        base_it, ours_it = iter(raw), iter(ours)
        merged = [next(ours_it) if i in positions else next(base_it) for i in range(n_base + k)]
    _write(out, merged)

    report = MixReport(
        base_file=str(base), run=str(run.root), base_format=fmt, mode=mode.value,
        forms=forms.value, ratio=ratio, seed=seed, base_records=n_base,
        output_records=len(merged), added=k, replaced=k if mode == MixMode.REPLACE else 0,
        candidates={"short": len(short), "mc": len(mc)},
        per_family=dict(sorted(Counter(s.provenance.family for s in chosen).items())),
        per_form=dict(sorted(Counter(_form_label(s) for s in chosen).items())),
        per_generator=dict(sorted(Counter(s.provenance.generator for s in chosen).items())),
        skipped=skipped,
    )
    with atomic_write(report_path(out)) as fh:
        fh.write(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".report.json")


def _form_label(sample: InstructionSample) -> str:
    return "mc" if sample.form == AnswerForm.MULTIPLE_CHOICE else "short"


def _record(
    sample: InstructionSample, run: RunData, fmt: str, style: TurnStyle, out_dir: Path,
    image_folder: Path | None, skipped: dict[str, str],
) -> dict[str, Any] | None:
    """Our sample as a base-format record; image paths relative to the trainer's image folder
    when one is given, else absolute (LLaVA joins its image folder with an absolute path to
    that same absolute path)."""
    resolved: list[str] = []
    for path in sample.images:
        found = run.resolve_image(path)
        if found is None:
            skipped[sample.id] = f"sample {sample.id}: image {path!r} not found"
            return None
        resolved.append(str(found.resolve()))
    located = sample.model_copy(update={"images": resolved})
    try:
        conv = to_conversation(located, style, image_folder or out_dir)
    except RecordError as exc:
        skipped[sample.id] = str(exc)
        return None
    if image_folder is None:
        conv.images = resolved
    return llava_record(conv) if fmt == "llava" else sharegpt_record(conv)


def _write(out: Path, records: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        if out.suffix == ".jsonl":
            for rec in records:
                fh.write(rec + "\n")
        else:
            fh.write("[\n" + ",\n".join(records) + "\n]\n")


def iter_output(out: Path) -> Iterator[dict[str, Any]]:
    _, raw = read_base(out)
    for rec in raw:
        yield json.loads(rec)


__all__ = ["MixError", "MixForms", "MixMode", "MixReport", "mix", "read_base", "report_path"]
