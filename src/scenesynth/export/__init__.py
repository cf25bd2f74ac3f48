"""Export instruction samples for trainers, and validate exported files.

Formats: ``llava`` (LLaVA JSON), ``sharegpt`` (messages JSON/JSONL), ``parquet`` (Hugging Face
``datasets`` Parquet with embedded images), ``webdataset`` (tar shards). Every record keeps its
provenance under ``metadata``; every file is written atomically; samples a trainer would reject
are reported in the :class:`ExportResult` and skipped, never written.

    result = export_samples(samples, "llava", "out/", image_root="images/")
    report = validate("out/data.json")
    assert report.ok, report.errors
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from scenesynth.export.jsonfmt import write_llava, write_sharegpt
from scenesynth.export.parquet import write_parquet
from scenesynth.export.records import (
    IMAGE_TOKEN,
    Conversation,
    MCAnswerStyle,
    RecordError,
    TurnStyle,
    conversation_problems,
    to_conversation,
)
from scenesynth.export.result import ExportResult
from scenesynth.export.validate import (
    FORMATS,
    UnknownFormatError,
    ValidationReport,
    detect_format,
    validate,
)
from scenesynth.export.wds import write_webdataset
from scenesynth.graph import InstructionSample

WRITERS: dict[str, Callable[..., ExportResult]] = {
    "llava": write_llava,
    "sharegpt": write_sharegpt,
    "parquet": write_parquet,
    "webdataset": write_webdataset,
}


def export_samples(
    samples: Iterable[InstructionSample],
    fmt: str,
    out_dir: str | Path,
    **options: Any,
) -> ExportResult:
    """Write ``samples`` in ``fmt`` (llava|sharegpt|parquet|webdataset) under ``out_dir``.

    ``options`` go to the format's writer; common ones: ``name`` (file stem, default "data"),
    ``style`` (:class:`TurnStyle`: multiple-choice answer as letter or letter+text),
    ``image_root`` (folder that relative sample image paths are relative to),
    ``require_images`` (False: a missing image file is not an error where the format can
    reference it by path; embedding formats still skip such a sample).
    """
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown export format {fmt!r}; expected one of {', '.join(WRITERS)}"
        ) from None
    accepted = inspect.signature(writer).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = [p for p in accepted if p not in ("samples", "out_dir")]
        raise ValueError(
            f"export format {fmt!r} has no option(s) {', '.join(unknown)}; its options are "
            f"{', '.join(allowed)}"
        )
    return writer(samples, out_dir, **options)


__all__ = [
    "FORMATS",
    "IMAGE_TOKEN",
    "WRITERS",
    "Conversation",
    "ExportResult",
    "MCAnswerStyle",
    "RecordError",
    "TurnStyle",
    "UnknownFormatError",
    "ValidationReport",
    "conversation_problems",
    "detect_format",
    "export_samples",
    "to_conversation",
    "validate",
    "write_llava",
    "write_parquet",
    "write_sharegpt",
    "write_webdataset",
]
