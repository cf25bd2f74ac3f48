"""Instruction samples: what generators emit and exporters write.

A sample is one question/answer (or caption, or grounding) turn about one or more images, with
the provenance that proves its answer: which graphs, objects and relations were used, which
generator (and version) made it, the executable program that computes the answer, and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class AnswerForm(StrEnum):
    SHORT = "short"  # free short answer
    MULTIPLE_CHOICE = "mc"  # options A, B, C, ...; answer is the correct option's text
    YES_NO = "yes_no"  # answer is "yes" or "no"


@dataclass(slots=True)
class ProgramStep:
    """One node of an answer program (CLEVR-style): ``op`` applied to earlier steps' outputs.

    ``inputs`` are indices of earlier steps; ``args`` are literal arguments (names, attribute
    values, predicates, image index). ``output`` is the value the generator computed; an
    independent checker re-executes the program and compares. Steps and their values are
    read-only: samples of one graph may share them (a referring expression's steps, the
    list of the scene's objects) rather than each holding a copy.

    A slotted dataclass rather than a pydantic model: a run builds several per sample, and
    this is several times cheaper to build. Pydantic validates and serialises it as a field
    of :class:`Provenance` all the same (unknown keys are rejected there too).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    op: str
    inputs: list[int] = field(default_factory=list)
    args: dict[str, Any] = field(default_factory=dict)
    output: Any = None


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str  # dataset / synthesizer the graphs came from
    image_ids: list[str]
    generator: str
    generator_version: str
    family: str
    template: str | None = None
    program: list[ProgramStep] = Field(default_factory=list)
    objects: list[str] = Field(default_factory=list)  # "<image_index>:<object_id>" when multi
    relations: list[list[str]] = Field(default_factory=list)  # [subject, predicate, object]
    seed: int = 0
    extra: dict[str, Any] = Field(default_factory=dict)


class InstructionSample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    images: list[str]  # image paths (or ids when no file exists), one per image placeholder
    # The prompt text. For multiple choice it does not list the options: exporters list
    # ``options`` after it, lettered A., B., ... (export/records.render_question).
    question: str
    answer: str
    form: AnswerForm = AnswerForm.SHORT
    options: list[str] | None = None  # for multiple choice, in presented order
    answer_index: int | None = None  # index of the correct option
    answer_value: Any = None  # the typed answer (int, bool, str, list, box) before rendering
    answer_type: str = "text"
    provenance: Provenance


class ProvenanceView(Protocol):
    """What readers of a finished sample's provenance use (a :class:`Provenance`, or the stored
    JSON of one read without validation: ``export.stored.StoredSample``)."""

    @property
    def image_ids(self) -> list[str]: ...
    @property
    def generator(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def template(self) -> str | None: ...
    @property
    def extra(self) -> dict[str, Any]: ...


class SampleView(Protocol):
    """The fields of a finished sample that exporters and run statistics read: an
    :class:`InstructionSample`, or a sample read back from a run's shard without re-validating
    it (the engine wrote it from a validated model)."""

    @property
    def id(self) -> str: ...
    @property
    def images(self) -> list[str]: ...
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def form(self) -> AnswerForm: ...
    @property
    def options(self) -> list[str] | None: ...
    @property
    def answer_index(self) -> int | None: ...
    @property
    def answer_value(self) -> Any: ...
    @property
    def answer_type(self) -> str: ...
    @property
    def provenance(self) -> ProvenanceView: ...
