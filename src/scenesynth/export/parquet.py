"""Hugging Face ``datasets``-compatible Parquet, written with pyarrow alone.

Columns: ``id``; ``image`` (one image per record: the ``Image`` feature) or ``images`` (any other
count: ``Sequence(Image())``); ``messages`` (list of ``{role, content}``); ``metadata`` (JSON
text holding the provenance). Images are stored as ``datasets`` stores them, a struct of the
file's ``bytes`` and its ``path``, and the schema carries the ``huggingface`` metadata key, so
``datasets.load_dataset("parquet", ...)`` decodes the image column(s) as PIL images without
needing the original files.

The features are written in the long-standing form (``Sequence`` and a one-element list for
lists) that every ``datasets`` version reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scenesynth.export.records import (
    Conversation,
    ImagePaths,
    RecordError,
    TurnStyle,
    resolve_image,
    to_conversation,
)
from scenesynth.export.result import ExportResult
from scenesynth.export.stored import json_line
from scenesynth.graph import SampleView
from scenesynth.ioutil import atomic_write

HF_METADATA_KEY = b"huggingface"
IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
MESSAGE_STRUCT = pa.struct([("role", pa.string()), ("content", pa.string())])
_STRING = {"dtype": "string", "_type": "Value"}


def arrow_schema(multi_image: bool) -> pa.Schema:
    image_field = (
        pa.field("images", pa.list_(IMAGE_STRUCT)) if multi_image
        else pa.field("image", IMAGE_STRUCT)
    )
    image_feature: dict[str, Any] = (
        {"feature": {"_type": "Image"}, "_type": "Sequence"} if multi_image
        else {"_type": "Image"}
    )
    features = {
        "id": _STRING,
        image_field.name: image_feature,
        "messages": [{"role": _STRING, "content": _STRING}],
        "metadata": _STRING,
    }
    schema = pa.schema([
        pa.field("id", pa.string()),
        image_field,
        pa.field("messages", pa.list_(MESSAGE_STRUCT)),
        pa.field("metadata", pa.string()),
    ])
    meta = {HF_METADATA_KEY: json.dumps({"info": {"features": features}}).encode()}
    return schema.with_metadata(meta)


def _image_struct(
    written_path: str, source_path: str, image_root: Path | None, sample_id: str, i: int,
) -> dict[str, Any]:
    src = resolve_image(source_path, image_root)
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise RecordError(
            f"sample {sample_id!r}: field images[{i}]: cannot read image {str(src)!r}: {exc}"
        ) from exc
    return {"bytes": data, "path": written_path}


def write_parquet(
    samples: Iterable[SampleView],
    out_dir: str | Path,
    name: str = "data",
    multi_image: bool | None = None,
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    rows_per_group: int = 256,
    require_images: bool = True,
    staging: bool = False,
) -> ExportResult:
    """Write ``out_dir/NAME.parquet``.

    ``multi_image=None`` picks the ``image`` column when every sample has exactly one image
    (this needs the samples in memory once; pass a bool to stream). With ``multi_image=False``
    a sample without exactly one image is reported and skipped. ``require_images=False``
    (scene-graph-only runs) stores a missing image as its path alone, without bytes.
    """
    out = Path(out_dir)
    path = out / f"{name}.parquet"
    root = Path(image_root) if image_root is not None else None
    result = ExportResult(fmt="parquet")
    if multi_image is None:
        samples = list(samples)
        multi_image = any(len(s.images) != 1 for s in samples)
    schema = arrow_schema(multi_image)
    paths = ImagePaths(out, root)
    image_col = "images" if multi_image else "image"

    # pyarrow's default dictionary encoding stores an image repeated within a row group (several
    # questions about one image) once, as long as the dictionary page stays small.
    target = result.target(path, staging)
    with atomic_write(target, "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
        rows: list[dict[str, Any]] = []
        for sample in samples:
            try:
                rows.append(
                    _row(sample, out, style, root, multi_image, image_col, require_images, paths)
                )
            except RecordError as exc:
                result.record_failure(sample.id, str(exc))
                continue
            result.n_written += 1
            if len(rows) >= rows_per_group:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        if rows or result.n_written == 0:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    result.paths.append(path)
    return result


def _row(
    sample: SampleView,
    out: Path,
    style: TurnStyle,
    root: Path | None,
    multi_image: bool,
    image_col: str,
    require_images: bool,
    paths: ImagePaths,
) -> dict[str, Any]:
    if not multi_image and len(sample.images) != 1:
        raise RecordError(
            f"sample {sample.id!r}: field images: {len(sample.images)} image(s) in a "
            "single-image ('image' column) export"
        )
    conv: Conversation = to_conversation(sample, style, out, root, require_images, paths)
    structs = [
        _image_struct(written, src, root, sample.id, i)
        if paths.lookup(src)[1]
        else {"bytes": None, "path": written}
        for i, (written, src) in enumerate(zip(conv.images, sample.images, strict=True))
    ]
    return {
        "id": conv.id,
        image_col: structs if multi_image else structs[0],
        "messages": [{"role": r, "content": t} for r, t in conv.turns],
        "metadata": json_line(conv.metadata).decode("utf-8"),
    }
