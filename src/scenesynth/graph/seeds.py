"""Every stable seed in scenesynth comes from here.

Randomness must depend only on the run seed and the identity of what is being drawn (a
shard, an image, a generator on an image group): never on worker count, scheduling order or
``PYTHONHASHSEED``. So every seed is the first 8 bytes of a sha256 over a text that names the
purpose and the identity, and every stage derives its ``random.Random`` through one of the
functions below. The texts are kept exactly as the stages first wrote them, so a seed never
changes between releases (changing one would change every published dataset built on it).
"""

from __future__ import annotations

import _random
import hashlib
import random
from collections.abc import Sequence
from typing import Any


def seed_from_text(text: str) -> int:
    """A 64-bit seed: the first 8 bytes (big-endian) of ``sha256(text)``."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def random_from_text(text: str) -> random.Random:
    """``random.Random`` seeded with :func:`seed_from_text`; ``text`` names the purpose and
    the identity, e.g. ``f"layout:{seed}:{image_id}:{attempt}"``."""
    return random.Random(seed_from_text(text))


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from ``seed`` and identifying ``parts`` (shard index, image id, ...).

    Parts are joined by their ``str`` with ASCII unit separators, so
    ``derive_seed(1, "shard", 3)`` is stable across processes and Python versions."""
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    return seed_from_text(text) >> 1


def group_seed_hash(seed: int, image_ids: Sequence[str]) -> Any:
    """sha256 fed with what every generator on one graph (or image group) shares: the run
    seed and the image ids, joined by ASCII unit/record separators (never part of ids)."""
    return hashlib.sha256(f"{int(seed)}\x1e{chr(31).join(image_ids)}\x1e".encode())


def generator_seed_from_hash(group_hash: Any, name: str) -> int:
    """The 63-bit seed of generator ``name`` on the group hashed by :func:`group_seed_hash`
    (not changed): copying a hash that holds the prefix is cheaper than hashing it again."""
    h = group_hash.copy()
    h.update(name.encode())
    return int.from_bytes(h.digest()[:8], "big") >> 1


def generator_seed(seed: int, image_ids: Sequence[str], name: str) -> int:
    """The 63-bit seed of the draws named ``name`` (a generator, a grouping) on ``image_ids``."""
    return generator_seed_from_hash(group_seed_hash(seed, image_ids), name)


def seeded_random(seed: int) -> random.Random:
    """``random.Random(seed)``, same state, without its interpreted ``__init__`` and ``seed``
    wrappers (one per graph and generator on the hot path): the C seeding is called directly."""
    rng = random.Random.__new__(random.Random)
    _random.Random.seed(rng, seed)
    rng.gauss_next = None  # type: ignore[attr-defined]  # as random.Random.__init__ sets it
    return rng


def scene_seed(seed: int, index: int) -> int:
    """The 63-bit seed of synthesized scene ``index`` of a run with ``seed`` (its knowledge
    graph, layout and render): the same whatever the shard size, workers or engine. Retries
    derive theirs from it the same way (``scene_seed(scene_seed(seed, i), attempt)``)."""
    return seed_from_text(f"synth:{int(seed)}:{int(index)}") >> 1
