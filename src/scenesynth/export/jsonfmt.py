"""LLaVA JSON and LLaMA-Factory (ShareGPT/messages, JSON or JSONL) writers.

``llava`` writes what LLaVA-1.5's ``LazySupervisedDataset`` reads, and multi-image samples apart::

    NAME.json              single-image (and text-only) records, LLaVA-1.5:
      {"id": ..., "image": "a.jpg",
       "conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", ...}],
       "metadata": {"provenance": {...}, ...}}
    NAME_multi_image.json  multi-image records, LLaVA-OneVision / LLaVA-NeXT-interleave:
      {"id": ..., "image": ["a.jpg", "b.jpg"],
       "conversations": [{"from": "human", "value": "Image 1: <image>\\nImage 2: <image>\\n..."},
                         ...]}

Why two files: LLaVA-1.5 joins ``image`` to its image folder as one string and moves every
``<image>`` token into one at the start of the turn, so a list crashes it and a second token is
lost. LLaVA-OneVision/NeXT's trainer reads a list and keeps one ``<image>`` per image; its data
YAML takes several JSON files, so an interleave user lists both files, a LLaVA-1.5 user the first.

``llama-factory`` (alias ``sharegpt``) writes ``NAME.json`` (or ``.jsonl``)::

    {"id": ..., "messages": [{"role": "user", "content": "<image>..."},
                             {"role": "assistant", "content": ...}],
     "images": ["a.jpg"], "metadata": {...}}

and ``dataset_info.json`` beside it, with the entry LLaMA-Factory needs to read it (formatting
``sharegpt``, the ``messages``/``images`` columns and the role/content tags), so
``dataset_dir: <export folder>`` and ``dataset: <entry name>`` are all a user sets.

Image paths are written relative to the output file's folder (absolute when that is impossible):
it is LLaVA's ``--image_folder`` and LLaMA-Factory's ``media_dir`` (its default is
``dataset_dir``), and the export folder can be moved as a whole.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
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
from scenesynth.export.stored import json_line
from scenesynth.graph import SampleView
from scenesynth.ioutil import atomic_write

MULTI_IMAGE_SUFFIX = "_multi_image"
DATASET_INFO = "dataset_info.json"
LLAVA_ROLES = {USER: "human", ASSISTANT: "gpt", SYSTEM: "system"}
# Export files are written a record (a few hundred bytes) at a time: one system call per MB.
WRITE_BUFFER = 1 << 20

# Given a file's final path, the function that checks each record written to it (in order);
# ``export_samples`` passes one so a run's own export is validated as it is written.
RecordCheckFactory = Callable[[Path], Callable[[dict[str, Any]], None]]


def _no_check(record: dict[str, Any]) -> None:
    return None


def _checker(check_records: RecordCheckFactory | None, final: Path
             ) -> Callable[[dict[str, Any]], None]:
    return _no_check if check_records is None else check_records(final)


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


def _write_json_array(fh: IO[bytes], records: Iterable[dict[str, Any]],
                      check: Callable[[dict[str, Any]], None] = _no_check) -> None:
    # Streamed, one record per line, so large exports never sit in memory as one string.
    fh.write(b"[")
    first = True
    for rec in records:
        check(rec)
        fh.write(b"\n" if first else b",\n")
        fh.write(json_line(rec))
        first = False
    fh.write(b"\n]\n" if not first else b"]\n")


def _conversations(
    samples: Iterable[SampleView],
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
    samples: Iterable[SampleView],
    out_dir: str | Path,
    name: str = "data",
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    require_images: bool = True,
    staging: bool = False,
    check_records: RecordCheckFactory | None = None,
) -> ExportResult:
    """Write ``out_dir/NAME.json`` (LLaVA-1.5: single-image and text-only records) and, when
    there are multi-image records, ``out_dir/NAME_multi_image.json`` (LLaVA-OneVision/NeXT)."""
    out = Path(out_dir)
    result = ExportResult(fmt="llava")
    root = Path(image_root) if image_root is not None else None
    convs = _conversations(samples, result, out, style, root, require_images)
    single_path = out / f"{name}.json"
    multi_path = out / f"{name}{MULTI_IMAGE_SUFFIX}.json"
    with contextlib.ExitStack() as stack:
        single = stack.enter_context(
            atomic_write(result.target(single_path, staging), "wb", buffering=WRITE_BUFFER))
        check_single = _checker(check_records, single_path)
        check_multi: Callable[[dict[str, Any]], None] = _no_check
        multi: IO[bytes] | None = None
        single.write(b"[")
        n_single = n_multi = 0
        for conv in convs:
            record = llava_record(conv)
            line = json_line(record)
            if len(conv.images) > 1:
                if multi is None:  # opened on the first one: most runs have none
                    multi = stack.enter_context(atomic_write(
                        result.target(multi_path, staging), "wb", buffering=WRITE_BUFFER))
                    check_multi = _checker(check_records, multi_path)
                    multi.write(b"[")
                check_multi(record)
                multi.write((b"\n" if n_multi == 0 else b",\n") + line)
                n_multi += 1
            else:
                check_single(record)
                single.write((b"\n" if n_single == 0 else b",\n") + line)
                n_single += 1
        single.write(b"\n]\n" if n_single else b"]\n")
        if multi is not None:
            multi.write(b"\n]\n")
    result.paths.append(single_path)
    if n_multi:
        result.paths.append(multi_path)
    return result


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    """LLaMA-Factory's ``dataset_info.json`` entry for a file of :func:`sharegpt_record`s."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": USER,
            "assistant_tag": ASSISTANT,
            "system_tag": SYSTEM,
        },
    }


def write_llama_factory(
    samples: Iterable[SampleView],
    out_dir: str | Path,
    name: str = "data",
    jsonl: bool = False,
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    require_images: bool = True,
    dataset_name: str = "scenesynth",
    staging: bool = False,
    check_records: RecordCheckFactory | None = None,
) -> ExportResult:
    """Write ``out_dir/NAME.json`` (array) or ``out_dir/NAME.jsonl`` (one record a line), and
    ``out_dir/dataset_info.json`` registering it as ``dataset_name``."""
    out = Path(out_dir)
    path = out / f"{name}.{'jsonl' if jsonl else 'json'}"
    result = ExportResult(fmt="llama-factory")
    root = Path(image_root) if image_root is not None else None
    records = (sharegpt_record(c) for c in _conversations(
        samples, result, out, style, root, require_images))
    check = _checker(check_records, path)
    with atomic_write(result.target(path, staging), "wb", buffering=WRITE_BUFFER) as fh:
        if jsonl:
            for rec in records:
                check(rec)
                fh.write(json_line(rec) + b"\n")
        else:
            _write_json_array(fh, records, check)
    info_path = out / DATASET_INFO
    with atomic_write(result.target(info_path, staging)) as fh:
        json.dump({dataset_name: dataset_info_entry(path.name)}, fh, indent=2)
        fh.write("\n")
    result.paths.extend([path, info_path])
    return result


write_sharegpt = write_llama_factory  # the earlier name of the same format
