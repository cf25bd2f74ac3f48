"""The paraphrase bank: new phrasings of the template engine's question templates.

The writer proposes phrasings of each template (:func:`propose`); each one is checked
mechanically (:func:`phrasing_problem`) and the accepted ones are stored as a JSON data file
(``{"version": 1, "templates": {template_id: {"template": ..., "phrasings": [...]}}}``), so the
template path can gain variety with no LLM at run time. Checks, each a drop reason:

* ``slots``: the phrasing's ``{slot}`` fields are not exactly the template's (same names, same
  counts), it has stray braces, or a slot is glued to letters (``{plural_phrase}s``);
* ``answer_mentioned``: it contains a digit or an answer word (yes, no, true, false, answer);
* ``form``: it is not one question (one "?" at the end, 3 to 30 words, one line), or it asks
  for another kind of answer than the template (:func:`question_kind`: yes/no, count, wh);
* ``duplicate``: it normalises to the template, another accepted phrasing, or an existing
  template of the same family.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scenesynth.ioutil import atomic_write
from scenesynth.programs.writer import (
    Paraphrases,
    QuestionWriter,
    WriterCache,
    WriterError,
    ask,
    paraphrase_messages,
)
from scenesynth.quality.dedup import normalize_question

_ANSWER_WORDS = frozenset({"yes", "no", "true", "false", "answer", "correct"})


def template_catalog() -> dict[str, str]:
    """template id -> template text, for every single-image template table
    (``*_TEMPLATES`` dicts of ``scenesynth.generators.single``)."""
    from scenesynth.generators.single import attributes, counting, grounding, relations, spatial

    catalog: dict[str, str] = {}
    for module in (attributes, counting, grounding, relations, spatial):
        for attr, table in sorted(vars(module).items()):
            if not attr.endswith("_TEMPLATES") or not isinstance(table, dict):
                continue
            for tid, text in sorted(table.items()):
                if isinstance(text, str):
                    catalog.setdefault(tid, text)
    return catalog


_YES_NO_OPENERS = frozenset({"is", "are", "am", "was", "were", "do", "does", "did", "can",
                             "could", "has", "have", "will", "would", "should"})


def question_kind(text: str) -> str:
    """yes_no (opens with an auxiliary verb), count (asks how many / the number of), or wh:
    a phrasing must ask for the same kind of answer as its template."""
    bare = re.sub(r"\{[^{}]*\}", "X", text).lower()
    first = bare.split()[0] if bare.split() else ""
    if first in _YES_NO_OPENERS:
        return "yes_no"
    if re.search(r"\bhow many\b|\bnumber of\b", bare):
        return "count"
    return "wh"


def slots(text: str) -> Counter[str] | None:
    """The ``{slot}`` names with their counts, or None when the braces are malformed."""
    try:
        return Counter(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)
    except ValueError:
        return None


def phrasing_problem(template: str, phrasing: str, taken: set[str]) -> str | None:
    """The drop reason of a proposed phrasing, or None when it is accepted."""
    text = phrasing.strip()
    found = slots(text)
    if found is None or found != slots(template) or any(not f for f in found):
        return "slots"
    # a slot glued to letters ("{plural_phrase}s") would render "cubess"
    if re.search(r"[A-Za-z]\{|\}[A-Za-z]", text):
        return "slots"
    bare = re.sub(r"\{[^{}]*\}", " ", text).lower()
    if re.search(r"\d", bare) or _ANSWER_WORDS & set(re.findall(r"[a-z]+", bare)):
        return "answer_mentioned"
    if "\n" in text or not text.endswith("?") or text.count("?") != 1 \
            or not 3 <= len(text.split()) <= 30 or question_kind(text) != question_kind(template):
        return "form"
    if normalize_question(text) in taken:
        return "duplicate"
    return None


def propose(writer: QuestionWriter, catalog: Mapping[str, str], per_template: int = 3,
            cache: WriterCache | None = None, max_attempts: int = 3
            ) -> tuple[dict[str, list[str]], Counter[str]]:
    """Ask the writer for phrasings of every template; (accepted per template id, drops by
    reason)."""
    accepted: dict[str, list[str]] = {}
    drops: Counter[str] = Counter()
    taken = {normalize_question(t) for t in catalog.values()}
    for seed, (tid, template) in enumerate(sorted(catalog.items())):
        try:
            answer = ask(writer, paraphrase_messages(tid, template, per_template), Paraphrases,
                         seed, "", cache, max_attempts)
        except WriterError:
            drops["writer_failed"] += 1
            continue
        for phrasing in answer.phrasings:
            problem = phrasing_problem(template, phrasing, taken)
            if problem is not None:
                drops[problem] += 1
                continue
            text = " ".join(phrasing.split())
            taken.add(normalize_question(text))
            accepted.setdefault(tid, []).append(text)
    return accepted, drops


def write_bank(path: str | Path, catalog: Mapping[str, str],
               accepted: Mapping[str, list[str]], writer: str) -> None:
    bank: dict[str, Any] = {
        "version": 1, "writer": writer,
        "templates": {tid: {"template": catalog[tid], "phrasings": list(p)}
                      for tid, p in sorted(accepted.items())},
    }
    with atomic_write(path) as fh:
        json.dump(bank, fh, indent=1, ensure_ascii=False, sort_keys=True)
        fh.write("\n")


def load_bank(path: str | Path) -> dict[str, list[str]]:
    """template id -> accepted phrasings; every phrasing is checked again on load against
    the template it was stored with, so a hand-edited bank cannot break the slots."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for tid, entry in data.get("templates", {}).items():
        template = entry["template"]
        good = [p for p in entry.get("phrasings", [])
                if phrasing_problem(template, p, {normalize_question(template)}) is None]
        if good:
            out[tid] = good
    return out
