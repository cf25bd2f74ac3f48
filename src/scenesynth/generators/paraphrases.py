"""The paraphrase bank: reviewed alternative wordings of the single-image question templates.

A bank is a JSON file, the format ``scenesynth paraphrase-templates`` writes::

    {"version": 1, "source": "human-reviewed",
     "templates": {"count_how_many": {"template": "How many {plural_phrase} are there?",
                                      "phrasings": ["What is the total number of ..."]}}}

``source`` says where the phrasings come from (``human-reviewed`` for the bank shipped in
``generators/data/paraphrases.json``, ``writer-proposed`` for the command's output, whose
``writer`` names the model). A run given a bank (``generate --paraphrases PATH`` or
``--paraphrases default``) lets each template's phrasings join its wordings: after the seeded
template draw, a second draw of the same rng picks the template's own text or one of its
phrasings, so the template ids keep their balance and the sample's provenance keeps the
template id (``extra.wording`` names the phrasing used, ``<template id>#<n>``). The program,
and so the answer, never depends on the wording.

Every phrasing is checked on load (:func:`phrasing_problem`) against the template the running
code has for that id, so a stale or hand-edited bank fails the run with one line naming the
file, entry and field instead of rendering a broken question.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scenesynth.graph.keys import normalize_question

DEFAULT_BANK = Path(__file__).parent / "data" / "paraphrases.json"
BANK_VERSION = 1

_ANSWER_WORDS = frozenset({"yes", "no", "true", "false", "answer", "correct"})
_YES_NO_OPENERS = frozenset({"is", "are", "am", "was", "were", "do", "does", "did", "can",
                             "could", "has", "have", "will", "would", "should"})

# template text -> ((wording id, phrasing), ...): what GenConfig.wordings holds
Wordings = dict[str, tuple[tuple[str, str], ...]]


class BankError(ValueError):
    """A paraphrase bank that cannot be used; the message names file, entry and field."""


def template_catalog() -> dict[str, str]:
    """template id -> template text, for every single-image template table: the
    ``*_TEMPLATES`` dicts of the modules of single-image generators, and the ``templates``
    of generators registered with parameters."""
    import sys

    from scenesynth.generators.base import registered

    catalog: dict[str, str] = {}
    classes = sorted((c for c in registered().values() if not c.spec.multi_image),
                     key=lambda c: (c.__module__, c.spec.name))
    tables: list[dict[str, object]] = []
    for module_name in sorted({c.__module__ for c in classes}):
        module = sys.modules[module_name]
        tables.extend(table for attr, table in sorted(vars(module).items())
                      if attr.endswith("_TEMPLATES") and isinstance(table, dict))
    tables.extend(c.__dict__["templates"] for c in classes if "templates" in c.__dict__)
    for table in tables:
        for tid, text in sorted(table.items()):
            if isinstance(text, str):
                catalog.setdefault(tid, text)
    return catalog


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
    """The drop reason of a proposed phrasing (slots, answer_mentioned, form, duplicate), or
    None when it is accepted; ``taken`` holds normalised questions it must differ from."""
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


def bank_document(catalog: Mapping[str, str], accepted: Mapping[str, list[str]], source: str,
                  writer: str | None = None) -> dict[str, Any]:
    """The bank's JSON document (the one format both the command and a run read)."""
    doc: dict[str, Any] = {"version": BANK_VERSION, "source": source}
    if writer is not None:
        doc["writer"] = writer
    doc["templates"] = {tid: {"template": catalog[tid], "phrasings": list(p)}
                        for tid, p in sorted(accepted.items())}
    return doc


def resolve_bank(spec: str | Path) -> Path:
    """``default`` is the shipped, human-reviewed bank; anything else is a path."""
    return DEFAULT_BANK if str(spec) == "default" else Path(spec)


def read_bank(spec: str | Path, catalog: Mapping[str, str] | None = None
              ) -> dict[str, list[str]]:
    """template id -> phrasings of a bank file, each checked against the template the code
    has for that id (``catalog``, default: :func:`template_catalog`). Raises
    :class:`BankError` naming the file, the entry and the field of the first problem."""
    path = resolve_bank(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BankError(f"{path}: paraphrase bank cannot be read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BankError(f"{path}: paraphrase bank is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise BankError(f"{path}: field 'templates': missing, expected an object of "
                        "template id -> {template, phrasings}")
    if data.get("version", BANK_VERSION) != BANK_VERSION:
        raise BankError(f"{path}: field 'version': {data.get('version')!r} is not "
                        f"{BANK_VERSION}")
    known = template_catalog() if catalog is None else catalog
    out: dict[str, list[str]] = {}
    for tid, entry in data["templates"].items():
        where = f"{path}: template {tid!r}"
        if tid not in known:
            raise BankError(f"{where}: unknown template id (not a single-image template of "
                            "this version)")
        if not isinstance(entry, dict) or not isinstance(entry.get("phrasings"), list):
            raise BankError(f"{where}: field 'phrasings': missing, expected a list of strings")
        template = known[tid]
        stored = entry.get("template", template)
        if stored != template:
            raise BankError(f"{where}: field 'template': {stored!r} is not the current "
                            f"template {template!r} (stale bank)")
        taken = {normalize_question(template)}
        phrasings: list[str] = []
        for i, phrasing in enumerate(entry["phrasings"]):
            if not isinstance(phrasing, str):
                raise BankError(f"{where}: field 'phrasings[{i}]': not a string")
            problem = phrasing_problem(template, phrasing, taken)
            if problem == "slots":
                raise BankError(
                    f"{where}: field 'phrasings[{i}]': slots {sorted(slots(phrasing) or {})} "
                    f"do not match the template's {sorted(slots(template) or {})} "
                    f"({phrasing!r})")
            if problem is not None:
                raise BankError(f"{where}: field 'phrasings[{i}]': rejected ({problem}): "
                                f"{phrasing!r}")
            text = " ".join(phrasing.split())
            taken.add(normalize_question(text))
            phrasings.append(text)
        if phrasings:
            out[tid] = phrasings
    return out


def load_wordings(spec: str | Path) -> Wordings:
    """A bank as a run uses it (``GenConfig.wordings``): template text -> its phrasings, each
    with its wording id ``<template id>#<n>`` (n counts from 1 in the bank's list)."""
    catalog = template_catalog()
    return {catalog[tid]: tuple((f"{tid}#{n}", p) for n, p in enumerate(phrasings, 1))
            for tid, phrasings in sorted(read_bank(spec, catalog).items())}
