"""Samples as a run stores them, read and written without a model round trip.

A run's shard lines are :class:`~scenesynth.graph.InstructionSample` JSON that the engine wrote
from validated models. Exporting millions of them through ``model_validate_json`` and back
through ``model_dump`` and ``json.dumps`` cost most of a run's CPU; :class:`StoredSample`
parses a line once (orjson) and gives exporters and run statistics the fields they read
(:class:`~scenesynth.graph.SampleView`), with the provenance kept as the JSON it was stored as.

:func:`json_line` encodes a record to exactly the bytes ``json.dumps(record,
ensure_ascii=False)`` gives (the export files' format since the first release), at orjson's
speed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from scenesynth.graph import AnswerForm

_FORMS = {form.value: form for form in AnswerForm}


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
        return cls(orjson.loads(line))


class _StdlibNeeded(Exception):
    """A compact token whose spaced form is not simply orjson's (a float repr differs)."""


_NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*")


class _SpacedSeparators(dict[bytes, bytes]):
    """The text between two JSON strings of orjson's compact output (structural characters,
    numbers, true/false/null) as ``json.dumps`` writes it: ", " and ": " separators. Pieces
    without numbers repeat endlessly and are cached."""

    def __missing__(self, piece: bytes) -> bytes:
        spaced = piece.replace(b",", b", ").replace(b":", b": ")
        has_number = False
        for token in _NUMBER.findall(piece):
            has_number = True
            if (b"." in token or b"e" in token or b"E" in token) and \
                    repr(float(token)).encode() != token:
                raise _StdlibNeeded  # orjson writes 1e-05 as 0.00001
        if not has_number or len(piece) <= 8:  # bounded: structure, and small integers
            self[piece] = spaced
        return spaced


_SPACED = _SpacedSeparators()


def _stdlib_line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def json_line(record: Any) -> bytes:
    """``json.dumps(record, ensure_ascii=False)`` as UTF-8 bytes, encoded by orjson.

    orjson writes the same strings (same escapes) and integers, compactly. With no escaped
    quote in its output every ``"`` delimits a string, so the pieces between them are all that
    needs json's spacing; anything else (an escaped quote, a float whose shortest form orjson
    writes differently, an integer beyond 64 bits, a non-string key) goes through ``json``."""
    try:
        compact = orjson.dumps(record)
    except TypeError:
        return _stdlib_line(record)
    if b'\\"' in compact:
        return _stdlib_line(record)
    parts = compact.split(b'"')
    try:
        parts[0::2] = list(map(_SPACED.__getitem__, parts[0::2]))
    except _StdlibNeeded:
        return _stdlib_line(record)
    return b'"'.join(parts)
