"""Reading a model's free-text reply as an answer, per form, and scoring it.

Conventions follow the generation-based evaluators (VLMEvalKit's rule-based option extraction,
lmms-eval's VQA normalisation), without an LLM judge:

- multiple choice: the option letter when exactly one letter can be read ("B", "(B)", "B.",
  "Answer: B", "The answer is B"); else the option whose text the reply names, when exactly
  one does; anything else is wrong with a reason;
- yes/no answers: the reply's leading yes/no (or true/false);
- numbers: the first number in the reply (digits or a number word up to twenty), right when
  within the family's tolerance (exact for counts);
- boxes: four numbers ``x0 y0 x1 y1`` in pixels (or all in [0, 1]: normalised), right at
  IoU >= 0.5 with the true box;
- other text: lower-cased, punctuation and articles removed, equal to the answer (lists of
  names compared as sequences, or as sets when their order carries no meaning).

Every wrong answer carries a reason: ``wrong`` (read fine, not the answer) or ``malformed: ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scenesynth.graph import AnswerForm, InstructionSample

IOU_THRESHOLD = 0.5
# Absolute tolerance per family for numeric answers; counts (every numeric family today)
# must be exact.
NUMERIC_TOLERANCE: dict[str, float] = {}
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s,\[\]\.-]|(?<!\d)\.|\.(?!\d)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ANSWER_PREFIX = re.compile(
    r"^\s*(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)\s*(?:is|:)?\s*", re.I)
ORDERED_GENERATORS_HINT = ("order", "sort", "rank")


@dataclass(frozen=True)
class Verdict:
    correct: bool
    parsed: Any  # what was read from the reply (letter index, bool, number, box, text)
    reason: str  # "correct", "wrong" or "malformed: ..."


def normalize(text: str) -> str:
    text = text.strip().lower()
    text = _PUNCT.sub(" ", text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _strip_prefix(reply: str) -> str:
    first = reply.strip().split("\n", 1)[0]
    return _ANSWER_PREFIX.sub("", first).strip()


def parse_option(reply: str, options: list[str]) -> tuple[int | None, str]:
    """The chosen option's index, or None with why not."""
    letters = [chr(65 + i) for i in range(len(options))]
    text = reply.strip()
    head = _strip_prefix(text)
    found = {c for c in re.findall(r"\b([A-Z])\b", text) if c in letters}
    # A bare letter, "(B)", "B." or "B)" at the start of the reply or after "answer is",
    # unless the reply names other letters too ("A or B").
    for candidate in (head, text):
        m = re.match(r"^\(?([A-Z])\)?(?:[.:)\s]|$)", candidate)
        if m and m.group(1) in letters and found <= {m.group(1)}:
            return letters.index(m.group(1)), ""
    if len(found) == 1:
        return letters.index(found.pop()), ""
    named = [i for i, opt in enumerate(options)
             if re.search(r"(?<!\w)" + re.escape(normalize(opt)) + r"(?!\w)", normalize(text))]
    # A named option that is part of another named option ("boulder" in "boulder, bridge")
    # does not count on its own.
    named = [i for i in named if not any(
        j != i and normalize(options[i]) in normalize(options[j]) for j in named)]
    if len(named) == 1:
        return named[0], ""
    if len(found) > 1 or len(named) > 1:
        return None, "malformed: several options named"
    return None, "malformed: no option letter or option text"


def parse_yes_no(reply: str) -> bool | None:
    words = normalize(_strip_prefix(reply) or reply).split()
    for word in words[:3]:
        word = word.strip(",.")
        if word in ("yes", "true"):
            return True
        if word in ("no", "false"):
            return False
    return None


def parse_number(reply: str) -> float | None:
    text = reply.lower()
    m = _NUMBER.search(text)
    word = re.search(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", text)
    if m and (word is None or m.start() < word.start()):
        return float(m.group())
    if word:
        return float(NUMBER_WORDS[word.group(1)])
    return None


def parse_box(reply: str, width: float | None, height: float | None) -> list[float] | None:
    numbers = [float(x) for x in _NUMBER.findall(reply)]
    if len(numbers) < 4:
        return None
    box = numbers[:4]
    if all(0 <= v <= 1 for v in box) and width and height:
        box = [box[0] * width, box[1] * height, box[2] * width, box[3] * height]
    return box


def box_iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(
        0.0, b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def is_box(value: Any) -> bool:
    return (isinstance(value, list | tuple) and len(value) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))


def score(sample: InstructionSample, reply: str | None,
          image_size: tuple[float, float] | None = None) -> Verdict:
    """Is ``reply`` the sample's answer? (None: the model gave no reply at all.)"""
    if reply is None or not reply.strip():
        return Verdict(False, None, "malformed: empty reply")
    value = sample.answer_value
    if sample.form == AnswerForm.MULTIPLE_CHOICE and sample.options:
        index, why = parse_option(reply, sample.options)
        if index is None:
            return Verdict(False, None, why)
        ok = index == sample.answer_index
        return Verdict(ok, chr(65 + index), "correct" if ok else "wrong")
    if isinstance(value, bool):
        yn = parse_yes_no(reply)
        if yn is None:
            return Verdict(False, None, "malformed: no yes/no")
        return Verdict(yn == value, yn, "correct" if yn == value else "wrong")
    if isinstance(value, int | float):
        number = parse_number(reply)
        if number is None:
            return Verdict(False, None, "malformed: no number")
        ok = abs(number - float(value)) <= NUMERIC_TOLERANCE.get(sample.provenance.family, 0.0)
        return Verdict(ok, number, "correct" if ok else "wrong")
    if sample.answer_type == "box" and is_box(value):
        w, h = image_size or (None, None)
        box = parse_box(reply, w, h)
        if box is None:
            return Verdict(False, None, "malformed: no box of four numbers")
        ok = box_iou(box, [float(v) for v in value]) >= IOU_THRESHOLD
        return Verdict(ok, box, "correct" if ok else "wrong")
    got = normalize(_strip_prefix(reply) or reply)
    want = normalize(sample.answer)
    if got == want:
        return Verdict(True, got, "correct")
    if isinstance(value, list):
        items_got = [x.strip() for x in got.split(",") if x.strip()]
        items_want = [x.strip() for x in want.split(",") if x.strip()]
        ordered = any(h in sample.provenance.generator or h in (sample.provenance.template or "")
                      for h in ORDERED_GENERATORS_HINT) or sample.question.lower().startswith(
                          ("order", "sort", "rank"))
        if not ordered and sorted(items_got) == sorted(items_want):
            return Verdict(True, items_got, "correct")
    return Verdict(False, got, "wrong")
