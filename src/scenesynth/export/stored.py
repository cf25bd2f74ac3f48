"""Samples as a run stores them, read and written without a model round trip.

A run's shard lines are :class:`~scenesynth.graph.InstructionSample` JSON that the engine wrote
from validated models. Exporting millions of them through ``model_validate_json`` and back
through ``model_dump`` and ``json.dumps`` cost most of a run's CPU; :class:`StoredSample`
parses a line once (msgspec) and gives exporters and run statistics the fields they read
(:class:`~scenesynth.graph.SampleView`). Its provenance (most of a line: the program with
every step's output) is kept as the JSON text it was stored as; statistics decode only the few
fields they read, and exports write the text as it is (:class:`RawJSON`).

:func:`json_line` encodes a record to exactly the bytes ``json.dumps(record,
ensure_ascii=False)`` gives (the export files' format since the first release), at orjson's
speed (orjson encodes, msgspec spaces the separators).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import orjson

from scenesynth.graph import AnswerForm

# msgspec, not orjson, reads stored lines: orjson turns integers beyond 64 bits (a program's
# product, a seed) into floats; msgspec keeps them, as pydantic and json do.
_DECODE = msgspec.json.Decoder().decode


class StoredProvenance(msgspec.Struct, frozen=True):
    """The provenance fields run statistics read (:class:`~scenesynth.graph.ProvenanceView`),
    decoded from the stored provenance JSON; the rest of it (the program) is skipped."""

    image_ids: list[str]
    generator: str
    family: str
    template: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class RawJSON:
    """Compact JSON text (a stored provenance) that :func:`json_line` writes as it is, spaced
    like the rest of the record, instead of decoding and encoding it again."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text


class _StoredLine(msgspec.Struct):
    """A shard line as msgspec reads it: the sample's fields, the provenance left as JSON."""

    id: str
    images: list[str]
    question: str
    answer: str
    provenance: msgspec.Raw
    form: AnswerForm = AnswerForm.SHORT
    options: list[str] | None = None
    answer_index: int | None = None
    answer_value: Any = None
    answer_type: str = "text"


_DECODE_LINE = msgspec.json.Decoder(_StoredLine).decode
_DECODE_PROVENANCE = msgspec.json.Decoder(StoredProvenance).decode

class StoredSample:
    """One shard line of a run, parsed once: the :class:`~scenesynth.graph.SampleView`
    fields, and its provenance JSON as stored (exported as it is)."""

    __slots__ = ("answer", "answer_index", "answer_type", "answer_value", "form", "id",
                 "images", "options", "provenance", "provenance_json", "question")

    def __init__(self, line: _StoredLine) -> None:
        self.id = line.id
        self.images = line.images
        self.question = line.question
        self.answer = line.answer
        self.form = line.form
        self.options = line.options
        self.answer_index = line.answer_index
        self.answer_value = line.answer_value
        self.answer_type = line.answer_type
        self.provenance_json = bytes(line.provenance)
        self.provenance = _DECODE_PROVENANCE(self.provenance_json)

    @classmethod
    def from_json(cls, line: bytes | str) -> StoredSample:
        return cls(_DECODE_LINE(line))

    def exported_provenance(self) -> RawJSON:
        """The provenance for an export record: its stored text, which :func:`json_line`
        splices in as it is (or decodes, where json would write a number differently)."""
        return RawJSON(self.provenance_json)


# Where orjson's shortest float form differs from ``repr`` (``json.dumps``): small numbers,
# which repr writes as 1e-05 and orjson as 0.00001 or 1.5e-7. Checked over 1.6 million floats
# (random bit patterns and ranges): outside this pattern the two agree. A stored provenance,
# spliced in as it is, was written by orjson too, or by pydantic for what orjson left to it
# (``pipeline.shards.encode_sample``); pydantic writes floats as orjson does (checked over a
# million floats). A string that happens to match only takes the slower path.
_FLOAT_FORM_DIFFERS = re.compile(rb"[0-9]e-|0\.0000")


def _decoded(value: Any) -> Any:
    if isinstance(value, RawJSON):
        return _DECODE(value.text)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, RawJSON):
        return orjson.Fragment(value.text)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _stdlib_line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, default=_decoded).encode("utf-8")


def json_line(record: Any) -> bytes:
    """``json.dumps(record, ensure_ascii=False)`` as UTF-8 bytes, at orjson's speed.

    orjson writes the same strings (same escapes), integers and, apart from small floats, the
    same float forms, compactly; msgspec's formatter then adds json's ", " and ": " separators
    (it parses the JSON, so commas and colons inside strings stay as they are). A record orjson
    cannot encode as json does (an integer beyond 64 bits, a non-string key, a small float)
    goes through ``json``. A :class:`RawJSON` value is spliced in as its text (by ``json``:
    decoded first)."""
    try:
        compact = orjson.dumps(record, default=_fragment)
    except TypeError:
        return _stdlib_line(record)
    # (the substring tests are C-fast; the pattern is searched only when one hits)
    if (b"e-" in compact or b"0.0000" in compact) and _FLOAT_FORM_DIFFERS.search(compact):
        return _stdlib_line(record)
    return msgspec.json.format(compact, indent=0)
