"""Proposing paraphrases of the template engine's question templates with a writer.

The writer proposes phrasings of each template (:func:`propose`); each one is checked
mechanically (:func:`~scenesynth.generators.paraphrases.phrasing_problem`: slots kept, no
answer mentioned, one question of the template's kind, not a duplicate) and the accepted ones
are written as a paraphrase bank (:func:`write_bank`, the format of
:mod:`scenesynth.generators.paraphrases`), which ``generate --paraphrases PATH`` reads: the
template path gains variety with no LLM at run time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from scenesynth.authoring.writer import (
    Paraphrases,
    QuestionWriter,
    WriterCache,
    WriterError,
    ask,
    paraphrase_messages,
)
from scenesynth.generators.paraphrases import (
    bank_document,
    phrasing_problem,
    question_kind,
    read_bank,
    slots,
    template_catalog,
)
from scenesynth.ioutil import atomic_write
from scenesynth.quality.dedup import normalize_question

__all__ = ["load_bank", "phrasing_problem", "propose", "question_kind", "slots",
           "template_catalog", "write_bank"]


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
    """Write the accepted phrasings as a bank a run can read (``source``: writer-proposed,
    until a person reviews them)."""
    with atomic_write(path) as fh:
        json.dump(bank_document(catalog, accepted, "writer-proposed", writer), fh, indent=1,
                  ensure_ascii=False, sort_keys=True)
        fh.write("\n")


def load_bank(path: str | Path) -> dict[str, list[str]]:
    """template id -> phrasings of a bank, checked against the running templates
    (:func:`scenesynth.generators.paraphrases.read_bank`; raises BankError)."""
    return read_bank(path)
