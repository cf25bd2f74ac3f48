"""WebDataset tar shards via ``webdataset.ShardWriter``.

Every sample, single- or multi-image, is ``KEY.json`` plus its images under indexed keys
``KEY.0.jpg``, ``KEY.1.png``, ... (the source file's extension, bytes copied unchanged). The
JSON is ``{"id", "messages", "images", "metadata"}``, and ``images`` lists the image keys in
order (``["0.jpg"]``, ``["0.jpg", "1.jpg"]``). So one call reads every sample::

    wds.WebDataset(urls).decode("pil").to_tuple("json", "0.jpg;0.png")

gives (record, first image) for single- and multi-image samples alike, and the remaining images
of a multi-image sample are ``sample[k] for k in record["images"]`` (e.g. in a ``.map``).
WebDataset splits a member name at the first dot of its basename, so keys never contain dots
and the image keys are ``0.jpg``, not ``img0.jpg`` beside a bare ``jpg``: one convention means a
``to_tuple`` cannot silently skip the multi-image samples.

Shards are named ``NAME-000000.tar``, ``NAME-000001.tar``, ...; each is written under a hidden
temporary name and renamed into place once complete, so a killed run never leaves a truncated
shard under a final name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scenesynth.export.records import (
    ImagePaths,
    RecordError,
    TurnStyle,
    resolve_image,
    to_conversation,
)
from scenesynth.export.result import ExportResult
from scenesynth.export.stored import json_line
from scenesynth.graph import SampleView

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def shard_key(sample_id: str, index: int) -> str:
    """A tar key: WebDataset splits member names at the first dot, so dots must not appear."""
    return f"{index:09d}_{_KEY_UNSAFE.sub('_', sample_id)}"


def image_extension(path: str) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    return {"jpeg": "jpg", "": "img"}.get(ext, ext)


def write_webdataset(
    samples: Iterable[SampleView],
    out_dir: str | Path,
    name: str = "data",
    samples_per_shard: int = 1000,
    max_shard_bytes: float = 1e9,
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    require_images: bool = True,
    staging: bool = False,
) -> ExportResult:
    """Write shards ``out_dir/NAME-000000.tar``...

    Image files are embedded, so they are always required: ``require_images`` is accepted for
    a uniform writer interface, and a sample whose image is missing is reported and skipped.
    """
    del require_images
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(image_root) if image_root is not None else None
    result = ExportResult(fmt="webdataset")
    finished: list[Path] = []
    aborted = False

    def publish(tmp_name: str) -> None:
        tmp = Path(tmp_name)
        if aborted:  # the shard open when an exception struck may be incomplete
            tmp.unlink(missing_ok=True)
            return
        final = tmp.with_name(tmp.name[1:].removesuffix(".partial"))
        os.replace(tmp, result.target(final, staging))
        finished.append(final)

    paths = ImagePaths(out, root)
    pattern = str(out / f".{name}-%06d.tar.partial")
    import webdataset as wds  # lazy: it imports torch, which no other export needs

    writer = wds.ShardWriter(
        pattern, maxcount=samples_per_shard, maxsize=max_shard_bytes, post=publish, verbose=0,
        mtime=0.0,  # reproducible tar members
    )
    try:
        for index, sample in enumerate(samples):
            try:
                writer.write(_wds_sample(sample, index, out, style, root, paths))
            except RecordError as exc:
                result.record_failure(sample.id, str(exc))
                continue
            result.n_written += 1
    except BaseException:
        aborted = True
        raise
    finally:
        writer.close()
    if result.n_written == 0:
        # ShardWriter opens its first shard eagerly; an export with no records has no shards.
        for p in finished:
            result.staged.pop(p, p).unlink()
        finished.clear()
    result.paths.extend(finished)
    return result


def _wds_sample(
    sample: SampleView, index: int, out: Path, style: TurnStyle, root: Path | None,
    paths: ImagePaths,
) -> dict[str, Any]:
    conv = to_conversation(sample, style, out, root, True, paths)
    key = shard_key(sample.id, index)
    members: dict[str, Any] = {"__key__": key}
    names: list[str] = []
    for i, src in enumerate(sample.images):
        member = f"{i}.{image_extension(src)}"
        path = resolve_image(src, root)
        try:
            members[member] = path.read_bytes()
        except OSError as exc:
            raise RecordError(
                f"sample {sample.id!r}: field images[{i}]: cannot read image {str(path)!r}: {exc}"
            ) from exc
        names.append(member)
    record = {
        "id": conv.id,
        "messages": [{"role": r, "content": t} for r, t in conv.turns],
        "images": names,
        "metadata": conv.metadata,
    }
    members["json"] = json_line(record)
    return members
