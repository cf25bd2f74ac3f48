"""Export and validation throughput per format, in records per second (one process).

Samples reference the two real COCO photos in ``../shared/data/coco_panoptic`` (190-360 KB
JPEGs), alternating one-image and two-image samples with multiple-choice every third, so Parquet
and WebDataset copy real image bytes. Only two distinct photos exist, so Parquet's dictionary
encoding stores each once per row group (its size is not representative; WebDataset's is, and
its speed is mostly disk writes). Prints figures; asserts nothing.

A run exports its shard lines (``StoredSample``: parsed once, no model round trip), validated
as written; the "run export" figure measures that path (JSON formats), in CPU time.

Usage::

    python bench/export.py [--samples 5000] [--formats llava,llama-factory,parquet,webdataset]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scenesynth.export import WRITERS, canonical_format, validate
from scenesynth.graph import AnswerForm, InstructionSample, ProgramStep, Provenance

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco_panoptic"
PHOTOS = ["000000142238.jpg", "000000439180.jpg"]


def make_samples(n: int) -> list[InstructionSample]:
    samples = []
    for i in range(n):
        images = PHOTOS[:1] if i % 2 == 0 else PHOTOS
        mc = i % 3 == 0
        prov = Provenance(source="coco", image_ids=images, generator="bench",
                          generator_version="1", family="counting",
                          program=[ProgramStep(op="scene"), ProgramStep(op="count", inputs=[0])],
                          seed=i)
        samples.append(InstructionSample(
            id=f"s{i}", images=images, question=f"How many people are there? ({i})",
            answer="14", form=AnswerForm.MULTIPLE_CHOICE if mc else AnswerForm.SHORT,
            options=["12", "14", "3", "20"] if mc else None, answer_index=1 if mc else None,
            answer_value=14, answer_type="count", provenance=prov,
        ))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--formats", default="llava,llama-factory,parquet,webdataset")
    args = parser.parse_args()
    samples = make_samples(args.samples)
    for fmt in args.formats.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            # The writer alone: export_samples also validates before publishing, and the
            # validation rate is measured on its own below.
            writer = WRITERS[canonical_format(fmt) or fmt]
            t0 = time.perf_counter()
            result = writer(samples, tmp, image_root=DATA)
            export_s = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in result.paths)
            t0 = time.perf_counter()
            report = validate(tmp, fmt)
            validate_s = time.perf_counter() - t0
            print(f"{fmt:10s} export {result.n_written / export_s:9.0f} rec/s "
                  f"({export_s:6.2f} s, {size / 1e6:8.1f} MB, {len(result.paths)} file(s)) | "
                  f"validate {report.n_records / validate_s:9.0f} rec/s ({validate_s:6.2f} s, "
                  f"ok={report.ok})")
        if fmt not in ("llava", "llama-factory", "sharegpt"):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            # What `generate` does at its end: shard lines in, files validated as written out.
            from scenesynth.export import export_samples
            from scenesynth.export.stored import StoredSample

            lines = [s.model_dump_json().encode() for s in samples]
            cpu = time.process_time()
            result = export_samples((StoredSample.from_json(line) for line in lines), fmt, tmp,
                                    image_root=DATA)
            cpu = time.process_time() - cpu
            print(f"{fmt:10s} run export (shard lines -> validated files) "
                  f"{result.n_written / cpu:9.0f} rec/CPU-s ({cpu:6.2f} CPU-s)")


if __name__ == "__main__":
    main()
