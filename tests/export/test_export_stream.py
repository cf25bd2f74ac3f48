"""The streamed export path: a run's stored samples are exported without a model round trip,
to the same bytes as exporting the validated models, and its JSON encoder writes exactly what
``json.dumps(record, ensure_ascii=False)`` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenesynth.export import export_samples
from scenesynth.export.stored import RawJSON, StoredSample, json_line
from scenesynth.graph import AnswerForm, InstructionSample, ProgramStep, Provenance
from scenesynth.pipeline.shards import encode_sample

# Strings a trainer's data really holds, and the ones that break naive re-spacing: separators
# and quotes inside strings, escapes, control characters, non-ASCII, line separators.
TRICKY_TEXT = ['say "a, b: c"', "0:39", "x\\", 'end\\"', "tab\there\n", "\x01\x1f\x7f",
               "é ü 中文 😀", "\u2028\u2029", "", " , : "]
TRICKY_NUMBERS = [0, -1, 2**63 - 1, 2**64 + 5, -(2**70), 0.1, -0.0, 1e-05, 1.5e-07, 1e16,
                  1.2345678901234568e17, 5e-324, 1.7976931348623157e308, 123.456, 0.0001]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("value", [*TRICKY_TEXT, *TRICKY_NUMBERS,
                                   {"k": TRICKY_TEXT, "n": TRICKY_NUMBERS},
                                   {1: "non-string key"}, [[], {}, [{}]], {"a": (1, 2)}])
def test_json_line_is_json_dumps_bytes(value):
    assert json_line(value) == json.dumps(value, ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_line_matches_json_dumps_on_any_json_value(value):
    assert json_line(value) == json.dumps(value, ensure_ascii=False).encode("utf-8")


def _samples(big_ints: bool = True, small_floats: bool = True) -> list[InstructionSample]:
    """Samples with tricky text; ``big_ints``: seeds and answers beyond 64 bits (which the
    export writes as json does, but ``validate``'s re-read, yajl, cannot parse);
    ``small_floats``: provenance numbers such as 1e-05, which the shard writer (pydantic) and
    json write differently (the export decodes such a provenance; the others are spliced in as
    stored)."""
    numbers = TRICKY_NUMBERS if big_ints else [n for n in TRICKY_NUMBERS if abs(n) < 2**62]
    small = 1e-05 if small_floats else 0.25
    samples = []
    for i, text in enumerate(TRICKY_TEXT):
        images = ["a.jpg"] if i % 3 else ["a.jpg", "b.jpg"]
        mc = i % 2 == 0
        value = numbers[i % len(numbers)]
        prov = Provenance(
            source="test", image_ids=images, generator="g", generator_version="1",
            family="counting", template=None if i % 4 else "t",
            program=[ProgramStep(op="scene", args={"image": 0}, output=["0:1", "0:2"]),
                     ProgramStep(op="count", inputs=[0], args={"w": small, "note": text},
                                 output=value)],
            objects=["0:1"], relations=[["0:1", "left of", "0:2"]],
            seed=(2**63 if big_ints else 2**61) + i,
            extra={"question_group": f"q{i // 2}", "why": text,
                   "box": [0.5, small / 10, 3.0]})
        samples.append(InstructionSample(
            id=f"s{i}", images=images, question=f"How many? {text}".strip() or "How many?",
            answer="2", form=AnswerForm.MULTIPLE_CHOICE if mc else AnswerForm.SHORT,
            options=["1", "2", f"3 {text}"] if mc else None, answer_index=1 if mc else None,
            answer_value=value, answer_type="count", provenance=prov))
    return samples


@pytest.mark.parametrize("small_floats", [True, False])
@pytest.mark.parametrize("fmt,options", [("llava", {}), ("llama-factory", {}),
                                         ("llama-factory", {"jsonl": True})])
def test_stored_samples_export_the_same_bytes_as_models(tmp_path: Path, fmt, options,
                                                        small_floats):
    root = tmp_path / "images"
    root.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (root / name).write_bytes(b"not read by JSON exports")
    samples = _samples(small_floats=small_floats)
    # What a run stores in its shards, read back the way export_run reads it.
    stored = [StoredSample.from_json(s.model_dump_json()) for s in samples]
    results = {}
    for name, items in (("models", samples), ("stored", stored)):
        result = export_samples(items, fmt, tmp_path / name, image_root=root, **options)
        assert result.validation is not None and result.validation.ok
        assert result.n_written == len(samples)
        results[name] = {p.name: p.read_bytes() for p in result.paths}
    assert results["stored"] == results["models"]
    assert len(results["models"]) == 2  # llava: single- and multi-image; else data + info
    written = next(iter(results["stored"].values())).decode("utf-8")
    if options.get("jsonl"):
        records = [json.loads(line) for line in written.split("\n") if line]
    else:
        records = json.loads(written)
    # What a trainer reads back: the text and provenance as generated.
    by_id = {s.id: s for s in samples}
    for record in records:
        sample = by_id[record["id"]]
        assert record["metadata"]["provenance"] == sample.provenance.model_dump(mode="json")
        assert record["metadata"]["answer_value"] == sample.answer_value
        turns = record.get("conversations") or record["messages"]
        text = turns[0].get("value") or turns[0]["content"]
        assert sample.question.strip() in text


def test_stored_provenance_is_read_for_statistics_and_spliced_for_exports():
    sample = _samples()[0]
    stored = StoredSample.from_json(sample.model_dump_json())
    assert (stored.provenance.generator, stored.provenance.family, stored.provenance.template,
            stored.provenance.extra, stored.provenance.image_ids) == (
        sample.provenance.generator, sample.provenance.family, sample.provenance.template,
        sample.provenance.extra, sample.provenance.image_ids)
    spliced = stored.exported_provenance()
    assert isinstance(spliced, RawJSON)
    assert spliced.text == sample.provenance.__pydantic_serializer__.to_json(sample.provenance)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([None, 1e-05, 1.5e-07, 1e16, 0.25]))
def test_a_stored_provenance_exports_as_json_writes_it(value, number):
    # Whatever a generator puts in a provenance (any number form, text, nesting) is written
    # to the export as json.dumps writes the model's own dump: spliced or decoded.
    sample = _samples(small_floats=False)[1]
    sample.provenance.extra["value"] = value
    sample.provenance.extra["number"] = number  # a number pydantic and json may write apart
    stored = StoredSample.from_json(encode_sample(sample))
    record = {"metadata": {"provenance": stored.exported_provenance()}}
    expected = {"metadata": {"provenance": sample.provenance.model_dump(mode="json")}}
    assert json_line(record) == json.dumps(expected, ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_shard_lines_are_pydantic_json(answer, extra):
    # orjson writes the shard line; it must be pydantic's dump byte for byte, whatever the
    # typed answer and the provenance hold (or leave the sample to pydantic)
    sample = _samples()[2]
    sample = sample.model_copy(update={"answer_value": answer})
    sample.provenance.extra["value"] = extra
    expected = sample.__pydantic_serializer__.to_json(sample) + b"\n"
    assert encode_sample(sample) == expected


@pytest.mark.parametrize("value", [{1, 2}, {3: "int key"}, 2**70, ("a", 1), 1e-07, float("nan")])
def test_shard_lines_of_values_orjson_writes_otherwise_are_pydantic_json(value):
    sample = _samples()[1].model_copy(update={"answer_value": value})
    assert encode_sample(sample) == sample.__pydantic_serializer__.to_json(sample) + b"\n"


def test_stored_sample_reports_bad_records_like_a_model(tmp_path: Path):
    sample = _samples()[0]
    broken = json.loads(sample.model_dump_json())
    broken["answer_index"] = 7  # does not index the options
    stored = StoredSample.from_json(json.dumps(broken))
    result = export_samples([stored], "llava", tmp_path, require_images=False)
    assert result.n_written == 0 and result.paths == []
    assert result.failures and "field answer_index" in result.failures[0][1]


def test_absent_images_are_counted_not_listed(tmp_path: Path):
    # A scene-graph-only run references an absent image in every record: the report counts
    # them and keeps a few examples, in the export's own report and when read back.
    from scenesynth.export import validate
    from scenesynth.export.validate import ABSENT_IMAGE_EXAMPLES

    samples = [s.model_copy(update={"id": f"{s.id}-{k}"}) for k in range(5)
               for s in _samples(big_ints=False)]
    n_refs = sum(len(s.images) for s in samples)
    assert n_refs > ABSENT_IMAGE_EXAMPLES
    result = export_samples(samples, "llava", tmp_path, require_images=False)
    reread = validate(tmp_path, "llava", require_images=False)
    for report in (result.validation, reread):
        assert report is not None and report.ok
        assert report.n_absent_images == n_refs
        assert len(report.absent_images) == ABSENT_IMAGE_EXAMPLES
        assert all("does not exist" in m for m in report.absent_images)


def test_card_counts_distinct_questions_across_compactions(monkeypatch):
    from scenesynth.pipeline.card import DistinctHashes, SampleTally

    monkeypatch.setattr(DistinctHashes, "COMPACT_AT", 16)  # compact many times on a small run
    samples = [s.model_copy(update={"id": f"{s.id}-{k}"}) for k in range(7) for s in _samples()]
    tally = SampleTally()
    assert [s.id for s in tally.watch(samples)] == [s.id for s in samples]
    groups = {s.provenance.extra["question_group"] for s in samples}
    assert tally.questions == len(groups) == 5
    assert tally.samples == len(samples)


def test_distinct_hashes_counts_exactly_with_repeats_near_and_far(monkeypatch):
    import random

    from scenesynth.pipeline.card import DistinctHashes

    monkeypatch.setattr(DistinctHashes, "COMPACT_AT", 64)
    rng = random.Random(5)
    values = [rng.randrange(-(2**63), 2**63) for _ in range(3000)]
    # each value once or twice in a row (the forms of one question), and again far later
    stream = [v for v in values for _ in range(rng.choice((1, 2)))]
    stream += rng.sample(values, 700) + [values[0]] * 3
    counter = DistinctHashes()
    seen = set()
    for k, value in enumerate(stream, start=1):
        counter.add(value)
        seen.add(value)
        if k % 997 == 0:  # counting compacts; adding goes on after it
            assert len(counter) == len(seen)
    assert len(counter) == len(seen) == 3000
    assert len(DistinctHashes()) == 0


def test_json_export_does_not_load_parquet_or_image_libraries():
    # `generate` with a JSON format runs the export package; pyarrow, PIL and webdataset are
    # for the other formats (and cost a good part of the command's start-up).
    import subprocess
    import sys

    code = ("import sys, scenesynth.export as e; e.WRITERS['llava']; "
            "print(sorted(m for m in ('pyarrow', 'PIL', 'webdataset') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "[]"
