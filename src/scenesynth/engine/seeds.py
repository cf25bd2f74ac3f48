"""Stable seeds derived with hashlib, so a shard's randomness depends only on the run seed and
the shard's identity: never on worker count, scheduling order or ``PYTHONHASHSEED``."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from ``seed`` and identifying ``parts`` (shard index, image id, ...).

    Parts are joined by their ``str`` so ``derive_seed(1, "shard", 3)`` is stable across
    processes and Python versions (unlike ``hash``)."""
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1
