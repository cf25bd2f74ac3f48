"""WebDataset tar shards via ``webdataset.ShardWriter``.

One sample is ``KEY.json`` (``{"id", "messages", "images", "metadata"}``) plus its image files:
``KEY.jpg`` (or ``.png`` ...) for one image, ``KEY.img0.jpg``, ``KEY.img1.png`` ... for several.
``images`` in the JSON lists those member extensions in order (``["jpg"]``,
``["img0.jpg", "img1.png"]``). Image bytes are copied unchanged.

Shards are named ``NAME-000000.tar``, ``NAME-000001.tar``, ...; each is written under a hidden
temporary name and renamed into place once complete, so a killed run never leaves a truncated
shard under a final name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import webdataset as wds

from scenesynth.export.records import (
    ImagePaths,
    RecordError,
    TurnStyle,
    resolve_image,
    to_conversation,
)
from scenesynth.export.result import ExportResult
from scenesynth.graph import InstructionSample

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def shard_key(sample_id: str, index: int) -> str:
    """A tar key: WebDataset splits member names at the first dot, so dots must not appear."""
    return f"{index:09d}_{_KEY_UNSAFE.sub('_', sample_id)}"


def image_extension(path: str) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    return {"jpeg": "jpg", "": "img"}.get(ext, ext)


def write_webdataset(
    samples: Iterable[InstructionSample],
    out_dir: str | Path,
    name: str = "data",
    samples_per_shard: int = 1000,
    max_shard_bytes: float = 1e9,
    style: TurnStyle = TurnStyle(),
    image_root: str | Path | None = None,
    require_images: bool = True,
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
        os.replace(tmp, final)
        finished.append(final)

    paths = ImagePaths(out, root)
    pattern = str(out / f".{name}-%06d.tar.partial")
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
            p.unlink()
        finished.clear()
    result.paths.extend(finished)
    return result


def _wds_sample(
    sample: InstructionSample, index: int, out: Path, style: TurnStyle, root: Path | None,
    paths: ImagePaths,
) -> dict[str, Any]:
    conv = to_conversation(sample, style, out, root, True, paths)
    key = shard_key(sample.id, index)
    members: dict[str, Any] = {"__key__": key}
    names: list[str] = []
    for i, src in enumerate(sample.images):
        ext = image_extension(src)
        member = ext if len(sample.images) == 1 else f"img{i}.{ext}"
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
    members["json"] = json.dumps(record, ensure_ascii=False).encode("utf-8")
    return members
