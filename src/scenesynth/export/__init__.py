"""Export instruction samples for trainers, and validate exported files.

Formats, named by the trainer that reads them: ``llava`` (LLaVA-1.5 JSON, multi-image records
in a second file for LLaVA-OneVision/NeXT), ``llama-factory`` (ShareGPT ``messages`` JSON/JSONL
plus its ``dataset_info.json``; alias ``sharegpt``), ``parquet`` (Hugging Face ``datasets``
Parquet with embedded images), ``webdataset`` (tar shards, one key convention for any image
count). Every record keeps its provenance under ``metadata``; samples a trainer would reject
(or whose image lies outside ``image_root``) are reported in the :class:`ExportResult` and
skipped, never written.

:func:`export_samples` writes every file under a hidden name in the output folder, validates
those files, and renames them into place only when they are valid; otherwise it removes them
and raises :class:`ExportValidationError`. An export in which every sample failed publishes
nothing (``result.paths`` is empty).

    result = export_samples(samples, "llava", "out/", image_root="images/")
    assert result.validation.ok
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from scenesynth.export.jsonfmt import (
    DATASET_INFO,
    dataset_info_entry,
    write_llama_factory,
    write_llava,
    write_sharegpt,
)
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
    FORMAT_ALIASES,
    FORMATS,
    RecordChecker,
    UnknownFormatError,
    ValidationReport,
    canonical_format,
    dataset_info_problems,
    detect_format,
    validate,
)
from scenesynth.graph import SampleView

# Format -> (module, writer). Modules load on first use: the Parquet and WebDataset writers
# pull pyarrow and webdataset, which a run exporting JSON never needs.
_WRITER_HOMES = {
    "llava": ("scenesynth.export.jsonfmt", "write_llava"),
    "llama-factory": ("scenesynth.export.jsonfmt", "write_llama_factory"),
    "parquet": ("scenesynth.export.parquet", "write_parquet"),
    "webdataset": ("scenesynth.export.wds", "write_webdataset"),
}


class _Writers(Mapping[str, Callable[..., ExportResult]]):
    """Each format's writer function, imported when asked for."""

    def __getitem__(self, fmt: str) -> Callable[..., ExportResult]:
        module, name = _WRITER_HOMES[fmt]
        writer: Callable[..., ExportResult] = getattr(importlib.import_module(module), name)
        return writer

    def __iter__(self) -> Iterator[str]:
        return iter(_WRITER_HOMES)

    def __len__(self) -> int:
        return len(_WRITER_HOMES)


WRITERS: Mapping[str, Callable[..., ExportResult]] = _Writers()


def __getattr__(name: str) -> Any:
    # ``from scenesynth.export import write_parquet``: loaded on use (see _WRITER_HOMES)
    for fmt, (_, writer) in _WRITER_HOMES.items():
        if writer == name:
            return WRITERS[fmt]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ExportValidationError(ValueError):
    """The written files failed validation; they were removed, nothing was published."""

    def __init__(self, message: str, result: ExportResult) -> None:
        super().__init__(message)
        self.result = result


def export_samples(
    samples: Iterable[SampleView],
    fmt: str,
    out_dir: str | Path,
    **options: Any,
) -> ExportResult:
    """Write ``samples`` in ``fmt`` under ``out_dir``, validate, then publish.

    ``fmt``: llava | llama-factory (alias sharegpt) | parquet | webdataset. ``options`` go to
    the format's writer; common ones: ``name`` (file stem, default "data"), ``style``
    (:class:`TurnStyle`: multiple-choice answer as letter or letter+text), ``image_root``
    (folder that relative sample image paths are relative to; a path resolving outside it is a
    record error), ``require_images`` (False: a missing image file is not an error where the
    format can reference it by path; embedding formats still skip such a sample).

    The files are written under hidden names in ``out_dir``, validated (``result.validation``)
    and renamed into place only if valid; otherwise they are removed and
    :class:`ExportValidationError` is raised naming the problems.
    """
    name = canonical_format(fmt)
    if name is None:
        raise ValueError(
            f"unknown export format {fmt!r}; expected one of {', '.join(WRITERS)} "
            f"(aliases: {', '.join(f'{a}={t}' for a, t in FORMAT_ALIASES.items())})"
        )
    writer = WRITERS[name]
    accepted = inspect.signature(writer).parameters
    internal = ("staging", "check_records")
    unknown = sorted(set(options) - set(accepted) | (set(internal) & set(options)))
    if unknown:
        allowed = [p for p in accepted if p not in ("samples", "out_dir", *internal)]
        raise ValueError(
            f"export format {fmt!r} has no option(s) {', '.join(unknown)}; its options are "
            f"{', '.join(allowed)}"
        )
    require_images = options.get("require_images", True)
    # JSON records are checked as they are written (the checks `validate` applies to a file it
    # reads back), so the export is not parsed again; other formats are re-read.
    checked: dict[Path, ValidationReport] = {}

    def check_records(final: Path) -> RecordChecker:
        report = checked[final] = ValidationReport(path=final, fmt=name,
                                                   require_images=require_images)
        return RecordChecker(name, final, report)

    if "check_records" in accepted:
        options = {**options, "check_records": check_records}
    result = writer(samples, out_dir, staging=True, **options)
    try:
        if result.n_written == 0 and result.n_failed > 0:
            # Every sample was rejected: an empty file would look like a finished export.
            _discard(result)
            return result
        result.validation = _validate_staged(result, name, require_images, checked)
        if not result.validation.ok:
            errors = result.validation.errors
            shown = "; ".join(errors[:3]) + (f"; ... {len(errors) - 3} more" if len(errors) > 3
                                             else "")
            _discard(result)
            raise ExportValidationError(
                f"export to {out_dir} failed validation ({len(errors)} error(s)); nothing was "
                f"written: {shown}",
                result,
            )
        for final, temp in result.staged.items():
            os.replace(temp, final)
        result.staged.clear()
    except BaseException:
        _discard(result)
        raise
    return result


def _discard(result: ExportResult) -> None:
    for temp in result.staged.values():
        temp.unlink(missing_ok=True)
    result.staged.clear()
    result.paths.clear()


def _validate_staged(
    result: ExportResult, fmt: str, require_images: bool,
    checked: dict[Path, ValidationReport] | None = None,
) -> ValidationReport:
    """Validate the hidden files as the trainer will see them, messages naming final paths;
    a file in ``checked`` had each record checked while it was written."""
    report = ValidationReport(path=Path("."), fmt=fmt, require_images=require_images)
    for final in result.paths:
        temp = result.staged.get(final, final)
        if final.name == DATASET_INFO:
            names = {p.name for p in result.paths}
            report.errors.extend(dataset_info_problems(temp, names, shown_as=final))
            continue
        if checked and final in checked:
            report.merge(checked[final])
            continue
        sub = validate(temp, fmt, require_images)
        sub.errors = [e.replace(str(temp), str(final)) for e in sub.errors]
        sub.absent_images = [e.replace(str(temp), str(final)) for e in sub.absent_images]
        report.merge(sub)
    if result.paths:
        report.path = result.paths[0].parent
    return report


__all__ = [
    "DATASET_INFO",
    "FORMATS",
    "FORMAT_ALIASES",
    "IMAGE_TOKEN",
    "WRITERS",
    "Conversation",
    "ExportResult",
    "ExportValidationError",
    "MCAnswerStyle",
    "RecordError",
    "TurnStyle",
    "UnknownFormatError",
    "ValidationReport",
    "canonical_format",
    "conversation_problems",
    "dataset_info_entry",
    "detect_format",
    "export_samples",
    "to_conversation",
    "validate",
    "write_llama_factory",
    "write_llava",
    "write_parquet",
    "write_sharegpt",
    "write_webdataset",
]
