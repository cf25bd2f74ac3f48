"""The text keys samples are grouped by: the balance bucket and the normalised question.

Both are computed for every candidate question on the generation hot path (the balancer and
the deduplicator look them up before a sample is assembled), so they live in this small module
that the compiled build compiles; everything else about samples is in ``graph.sample``.
"""

from __future__ import annotations

from typing import Final

# provenance.extra["balance_key"] is "<generator's balance key>#<template>": answers are
# balanced per template, so a family balanced on average cannot hide a template whose wording
# predicts its answer (quality.balance)
TEMPLATE_SEPARATOR: Final = "#"


def template_bucket(key: str, template: str) -> str:
    """The balance bucket of a question: its generator's balance key, per template."""
    return key + TEMPLATE_SEPARATOR + template if template else key


def normalize_question(text: str) -> str:
    """Lower-case, collapse spaces, drop trailing punctuation: "What  is it ?" -> "what is it".

    Two questions with the same normalised text are the same question (for deduplication and
    for paraphrase banks)."""
    lowered = text.lower()
    # Fast path (most generated questions): every whitespace character but the ASCII space is
    # non-printable, so a printable text with no doubled, leading or trailing space is already
    # collapsed; the split/join below would return it unchanged.
    if lowered.isprintable() and "  " not in lowered and lowered[:1] != " " \
            and lowered[-1:] != " ":
        return lowered.rstrip(" ?.!")
    # str.split() splits on exactly the characters the regex's \s matches (str.isspace)
    return " ".join(lowered.split()).rstrip(" ?.!")
