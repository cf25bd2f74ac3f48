"""Turning samples (:class:`InstructionSample`, or a run's :class:`StoredSample`) into
trainer-ready conversations.

Every export format is built from one neutral :class:`Conversation` (turns, images, metadata), so
the formats differ only in key names and packaging. The rules trainers rely on are checked here
once, by :func:`conversation_problems`, both before writing (a bad record is reported and
skipped, never written) and when validating an existing file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from scenesynth.export.stored import StoredSample
from scenesynth.graph import AnswerForm, SampleView
from scenesynth.sources.common import image_path_problem

IMAGE_TOKEN = "<image>"
USER, ASSISTANT, SYSTEM = "user", "assistant", "system"


class MCAnswerStyle(StrEnum):
    """How a multiple-choice answer is written in the assistant turn."""

    LETTER_TEXT = "letter_text"  # "B. red"
    LETTER = "letter"  # "B"


@dataclass(frozen=True)
class TurnStyle:
    """Knobs for rendering a sample as a conversation (all have trainer-friendly defaults)."""

    mc_answer: MCAnswerStyle = MCAnswerStyle.LETTER_TEXT
    # Appended to the human turn when the answer is the bare letter, so the model knows to
    # answer with one (LLaVA's convention).
    mc_letter_instruction: str = "Answer with the option's letter from the given choices directly."
    # One image: "<image>\nQ". Several: "Image 1: <image>\nImage 2: <image>\nQ", so the question's
    # "Image 2" references line up with the tokens.
    label_multiple_images: bool = True


@dataclass
class Conversation:
    """A format-neutral export record."""

    id: str
    turns: list[tuple[str, str]]  # (role, text); roles USER / ASSISTANT / SYSTEM
    images: list[str]  # as written into the record (relative to the export folder or absolute)
    metadata: dict[str, Any] = field(default_factory=dict)


class RecordError(ValueError):
    """A sample that cannot be exported; the message names the sample and field."""


def option_letter(index: int) -> str:
    if not 0 <= index < 26:
        raise ValueError(f"option index {index} is outside A-Z")
    return chr(ord("A") + index)


def render_question(sample: SampleView, style: TurnStyle) -> str:
    """The human turn: image tokens, the question, and lettered options for multiple choice.

    This is the one place that lists a sample's options (the question text never does), so
    every format lists them exactly once."""
    text = sample.question.strip()
    if sample.form == AnswerForm.MULTIPLE_CHOICE:
        options = _checked_options(sample)
        text += "\n" + "\n".join(f"{option_letter(i)}. {opt}" for i, opt in enumerate(options))
        if style.mc_answer == MCAnswerStyle.LETTER and style.mc_letter_instruction:
            text += "\n" + style.mc_letter_instruction
    if IMAGE_TOKEN in text:
        # The generator placed the tokens itself; the count check below decides if that is valid.
        return text
    n = len(sample.images)
    if n == 0:
        return text
    if n == 1 or not style.label_multiple_images:
        return "\n".join([IMAGE_TOKEN] * n) + "\n" + text
    labels = "\n".join(f"Image {i + 1}: {IMAGE_TOKEN}" for i in range(n))
    return labels + "\n" + text


def render_answer(sample: SampleView, style: TurnStyle) -> str:
    if sample.form != AnswerForm.MULTIPLE_CHOICE:
        return sample.answer.strip()
    options = _checked_options(sample)
    assert sample.answer_index is not None
    letter = option_letter(sample.answer_index)
    if style.mc_answer == MCAnswerStyle.LETTER:
        return letter
    return f"{letter}. {options[sample.answer_index]}"


def _checked_options(sample: SampleView) -> list[str]:
    options = sample.options or []
    if len(options) < 2:
        raise RecordError(
            f"sample {sample.id!r}: field options: multiple choice needs at least 2 options, "
            f"got {len(options)}"
        )
    if sample.answer_index is None or not 0 <= sample.answer_index < len(options):
        raise RecordError(
            f"sample {sample.id!r}: field answer_index: {sample.answer_index!r} does not index "
            f"the {len(options)} options"
        )
    if options[sample.answer_index].strip() != sample.answer.strip():
        raise RecordError(
            f"sample {sample.id!r}: field answer: {sample.answer!r} differs from the correct "
            f"option {options[sample.answer_index]!r}"
        )
    return options


def sample_metadata(sample: SampleView) -> dict[str, Any]:
    """What travels with every exported record: provenance plus the typed answer."""
    if isinstance(sample, StoredSample):  # already JSON: exported as the run stored it
        return {
            "provenance": sample.exported_provenance(),
            "form": sample.form.value,
            "answer_type": sample.answer_type,
            "answer_value": sample.answer_value,
            "options": sample.options,
            "answer_index": sample.answer_index,
            "source_images": list(sample.images),
        }
    provenance = sample.provenance
    if not isinstance(provenance, BaseModel):
        raise TypeError(f"sample {sample.id!r}: provenance is neither a model nor stored JSON")
    return {
        "provenance": provenance.model_dump(mode="json"),
        "form": sample.form.value,
        "answer_type": sample.answer_type,
        "answer_value": _jsonable(sample.answer_value),
        "options": sample.options,
        "answer_index": sample.answer_index,
        "source_images": list(sample.images),
    }


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def resolve_image(path: str, image_root: Path | None) -> Path:
    """The file an image path names. With an ``image_root``, a path leaving it (``..``, an
    absolute path elsewhere, a symlink out) is a :class:`RecordError`: the loaders' rule
    (``scenesynth.sources.common.image_path_problem``), applied again where bytes are read."""
    p = Path(path)
    if image_root is not None:
        problem = image_path_problem(image_root, path)
        if problem:
            raise RecordError(f"image path {path!r:.80} rejected: {problem}")
    if not p.is_absolute() and image_root is not None:
        p = image_root / p
    return p


class ImagePaths:
    """Resolves sample image paths for one export, cached: datasets ask many questions per image.

    ``lookup(path)`` gives (the source file, whether it exists, the path to write: relative to
    ``out_dir`` when the file exists, else the path as given); a path leaving the image root is
    a :class:`RecordError` (:func:`resolve_image`): an export must never copy or reference a
    file outside the dataset it was made from.
    """

    def __init__(self, out_dir: Path, image_root: Path | None) -> None:
        self.out_dir = os.path.abspath(out_dir)
        self.image_root = image_root
        self._cache: dict[str, tuple[Path, bool, str]] = {}

    def lookup(self, path: str) -> tuple[Path, bool, str]:
        hit = self._cache.get(path)
        if hit is None:
            source = resolve_image(path, self.image_root)
            exists = source.is_file()
            written = _relative_or_absolute(source, self.out_dir) if exists else path
            hit = self._cache[path] = (source, exists, written)
        return hit


def to_conversation(
    sample: SampleView,
    style: TurnStyle,
    out_dir: Path,
    image_root: Path | None = None,
    require_images: bool = True,
    paths: ImagePaths | None = None,
) -> Conversation:
    """Render ``sample``; image paths are rewritten relative to ``out_dir`` when possible.

    Raises :class:`RecordError` (naming sample and field) for anything a trainer would reject.
    Pass one ``paths`` resolver per export to cache path lookups.
    """
    if paths is None:
        paths = ImagePaths(out_dir, image_root)
    images: list[str] = []
    for i, img in enumerate(sample.images):
        try:
            source, exists, written = paths.lookup(img)
        except RecordError as exc:
            raise RecordError(f"sample {sample.id!r}: field images[{i}]: {exc}") from None
        if require_images and not exists:
            raise RecordError(
                f"sample {sample.id!r}: field images[{i}]: image file {str(source)!r} not found"
            )
        images.append(written)
    conv = Conversation(
        id=sample.id,
        turns=[(USER, render_question(sample, style)), (ASSISTANT, render_answer(sample, style))],
        images=images,
        metadata=sample_metadata(sample),
    )
    problems = conversation_problems(conv.turns, len(conv.images))
    if problems:
        raise RecordError(f"sample {sample.id!r}: " + "; ".join(problems))
    return conv


def _relative_or_absolute(path: Path, out_dir: str) -> str:
    absolute = os.path.abspath(path)
    try:
        return os.path.relpath(absolute, out_dir)
    except ValueError:  # different drive (Windows)
        return absolute


def conversation_problems(
    turns: list[tuple[str, str]],
    n_images: int,
    turns_field: str = "turns",
    images_field: str = "images",
    role_names: dict[str, str] | None = None,
) -> list[str]:
    """Trainer rules on a conversation; each problem is ``"field <name>: <what is wrong>"``.

    ``turns_field`` / ``images_field`` are the format's key names and ``role_names`` its role
    spellings (LLaVA: human/gpt), used in the messages.

    Rules: at least one user and one assistant turn; an optional system turn first; roles
    alternate user/assistant starting with user and ending with assistant; no empty turn; no
    ``<image>`` token in assistant turns; ``<image>`` tokens in user turns equal the image count.
    """
    problems: list[str] = []
    names = role_names or {}
    start = 1 if turns and turns[0][0] == SYSTEM else 0
    body = turns[start:]
    if len(body) < 2:
        problems.append(
            f"field {turns_field}: needs a user and an assistant turn, got {len(body)} turn(s)"
        )
    n_tokens = 0
    for i, (role, text) in enumerate(turns):
        where = f"field {turns_field}[{i}]"
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: empty {names.get(role, role)!r} turn")
            text = text if isinstance(text, str) else ""
        if i >= start:
            expected = USER if (i - start) % 2 == 0 else ASSISTANT
            if role != expected:
                problems.append(
                    f"{where}: role {names.get(role, role)!r} where "
                    f"{names.get(expected, expected)!r} was expected (roles must alternate "
                    f"{names.get(USER, USER)}/{names.get(ASSISTANT, ASSISTANT)}, starting with "
                    f"{names.get(USER, USER)})"
                )
        if role == ASSISTANT and IMAGE_TOKEN in text:
            problems.append(
                f"{where}: {names.get(ASSISTANT, ASSISTANT)!r} turn (an answer) contains a "
                f"literal {IMAGE_TOKEN} token"
            )
        elif role in (USER, SYSTEM):
            n_tokens += text.count(IMAGE_TOKEN)
    if body and body[-1][0] != ASSISTANT and len(body) >= 2:
        last = body[-1][0]
        problems.append(
            f"field {turns_field}[{len(turns) - 1}]: conversation ends with "
            f"{names.get(last, last)!r}; the last turn must be "
            f"{names.get(ASSISTANT, ASSISTANT)!r}"
        )
    if n_tokens != n_images:
        problems.append(
            f"field {images_field}: {n_tokens} {IMAGE_TOKEN} token(s) in the prompt turns but "
            f"{n_images} image(s)"
        )
    return problems
