"""Random spatial KGs for the layout/render/synth tests (the KG spec, built without the KB).

Relations are read off a hidden random arrangement, so they are mutually consistent like the
KB sampler's, including stacks (on top of) and near/far pairs.
"""

from __future__ import annotations

from kgs import CATALOG, SUPPORTS, random_kg  # noqa: F401




