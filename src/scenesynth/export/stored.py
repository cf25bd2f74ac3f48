"""Samples as a run stores them, read and written without a model round trip.

A run's shard lines are :class:`~scenesynth.graph.InstructionSample` JSON that the engine wrote
from validated models. Exporting millions of them through ``model_validate_json`` and back
through ``model_dump`` and ``json.dumps`` cost most of a run's CPU; :class:`StoredSample`
parses a line once (msgspec) and gives exporters and run statistics the fields they read
(:class:`~scenesynth.graph.SampleView`), with the provenance kept as the JSON it was stored as.

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

_FORMS = {form.value: form for form in AnswerForm}
# msgspec, not orjson, reads stored lines: orjson turns integers beyond 64 bits (a program's
# product, a seed) into floats; msgspec keeps them, as pydantic and json do.
_DECODE = msgspec.json.Decoder().decode


class StoredProvenance:
    """The provenance fields run statistics read, over the stored provenance JSON."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def image_ids(self) -> list[str]:
        images: list[str] = self.data["image_ids"]
        return images

    @property
    def generator(self) -> str:
        return str(self.data["generator"])

    @property
    def family(self) -> str:
        return str(self.data["family"])

    @property
    def template(self) -> str | None:
        template: str | None = self.data.get("template")
        return template

    @property
    def extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = self.data.get("extra") or {}
        return extra


class StoredSample:
    """One shard line of a run, parsed once: the :class:`~scenesynth.graph.SampleView` fields,
    and ``data``, the stored JSON (its ``provenance`` is exported as stored)."""

    __slots__ = ("answer", "answer_index", "answer_type", "answer_value", "data", "form", "id",
                 "images", "options", "provenance", "question")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.id: str = data["id"]
        self.images: list[str] = data["images"]
        self.question: str = data["question"]
        self.answer: str = data["answer"]
        self.form: AnswerForm = _FORMS[data.get("form", "short")]
        self.options: list[str] | None = data.get("options")
        self.answer_index: int | None = data.get("answer_index")
        self.answer_value: Any = data.get("answer_value")
        self.answer_type: str = data.get("answer_type", "text")
        self.provenance = StoredProvenance(data["provenance"])

    @classmethod
    def from_json(cls, line: bytes | str) -> StoredSample:
        return cls(_DECODE(line))


# Where orjson's shortest float form differs from ``repr`` (``json.dumps``): small numbers,
# which repr writes as 1e-05 and orjson as 0.00001 or 1.5e-7. Checked over 1.6 million floats
# (random bit patterns and ranges): outside this pattern the two agree. A string that happens
# to match only takes the slower path.
_FLOAT_FORM_DIFFERS = re.compile(rb"[0-9]e-|0\.0000")


def _stdlib_line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def json_line(record: Any) -> bytes:
    """``json.dumps(record, ensure_ascii=False)`` as UTF-8 bytes, at orjson's speed.

    orjson writes the same strings (same escapes), integers and, apart from small floats, the
    same float forms, compactly; msgspec's formatter then adds json's ", " and ": " separators
    (it parses the JSON, so commas and colons inside strings stay as they are). A record orjson
    cannot encode as json does (an integer beyond 64 bits, a non-string key, a small float)
    goes through ``json``."""
    try:
        compact = orjson.dumps(record)
    except TypeError:
        return _stdlib_line(record)
    # (the substring tests are C-fast; the pattern is searched only when one hits)
    if (b"e-" in compact or b"0.0000" in compact) and _FLOAT_FORM_DIFFERS.search(compact):
        return _stdlib_line(record)
    return msgspec.json.format(compact, indent=0)
