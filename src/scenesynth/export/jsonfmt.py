"""LLaVA JSON and ShareGPT/messages (JSON or JSONL) writers.

LLaVA::

    {"id": ..., "image": "a.jpg" | ["a.jpg", "b.jpg"],
     "conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", "value": ...}],
     "metadata": {"provenance": {...}, ...}}

ShareGPT / messages (LLaMA-Factory style)::

    {"id": ..., "messages": [{"role": "user", "content": "<image>..."},
                             {"role": "assistant", "content": ...}],
     "images": ["a.jpg"], "metadata": {...}}

Image paths are written relative to the output file's folder (absolute when that is impossible),
so the export folder can be moved as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from scenesynth.export.records import (
    ASSISTANT,
    SYSTEM,
    USER,
    Conversation,
    ImagePaths,
    RecordError,
    TurnStyle,
    to_conversation,
)
from scenesynth.export.result import ExportResult
from scenesynth.graph import InstructionSample
from scenesynth.ioutil import atomic_write

LLAVA_ROLES = {USER: "human", ASSISTANT: "gpt", SYSTEM: "system"}


def llava_record(conv: Conversation) -> dict[str, Any]:
    record: dict[str, Any] = {"id": conv.id}
    if len(conv.images) == 1:
        record["image"] = conv.images[0]  # LLaVA's loader expects a string for one image
    elif conv.images:
        record["image"] = list(conv.images)
    record["conversations"] = [{"from": LLAVA_ROLES[r], "value": t} for r, t in conv.turns]
    record["metadata"] = conv.metadata
    return record


def sharegpt_record(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "messages": [{"role": r, "content": t} for r, t in conv.turns],
        "images": list(conv.images),
        "metadata": conv.metadata,
    }


def _write_json_array(fh: IO, records: Iterable[dict[str, Any]]) -> None:
    # Streamed, one record per line, so large exports never sit in memory as one string.
    fh.write("[")
    first = True
    for rec in records:
        fh.write("\n" if first else ",\n")
        fh.write(json.dumps(rec, ensure_ascii=False))
        first = False
    fh.write("\n]\n" if not first else "]\n")


def _conversations(
    samples: Iterable[InstructionSample],
    result: ExportResult,
    out_dir: Path,
    style: TurnStyle,
    image_root: Path | None,
    require_images: bool,
) -> Iterable[Conversation]:
    paths = ImagePaths(out_dir, image_root)
    for sample in samples:
        try:
            conv = to_conversation(sample, style, out_dir, image_root, require_images, paths)
        except RecordError as exc:
            result.record_failure(sample.id, str(exc))
            continue
        result.n_written += 1
        yield conv


def write_llava(
    samples: Iterable[InstructionSample],
    out_dir: str | Path,
    name: str = "data",
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    require_images: bool = True,
) -> ExportResult:
    """Write ``out_dir/NAME.json`` (a JSON array of LLaVA records)."""
    out = Path(out_dir)
    path = out / f"{name}.json"
    result = ExportResult(fmt="llava")
    root = Path(image_root) if image_root is not None else None
    convs = _conversations(samples, result, out, style, root, require_images)
    with atomic_write(path) as fh:
        _write_json_array(fh, (llava_record(c) for c in convs))
    result.paths.append(path)
    return result


def write_sharegpt(
    samples: Iterable[InstructionSample],
    out_dir: str | Path,
    name: str = "data",
    jsonl: bool = False,
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    require_images: bool = True,
) -> ExportResult:
    """Write ``out_dir/NAME.json`` (array) or ``out_dir/NAME.jsonl`` (one record a line)."""
    out = Path(out_dir)
    path = out / f"{name}.{'jsonl' if jsonl else 'json'}"
    result = ExportResult(fmt="sharegpt")
    root = Path(image_root) if image_root is not None else None
    records = (sharegpt_record(c) for c in _conversations(
        samples, result, out, style, root, require_images))
    with atomic_write(path) as fh:
        if jsonl:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            _write_json_array(fh, records)
    result.paths.append(path)
    return result
