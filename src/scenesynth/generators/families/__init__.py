"""The question generators, one module per subject of the question.

Single image: ``existence_count`` (is there, how many), ``attributes`` (what color, which are
red, same material), ``relations`` (what is on the table, multi-hop), ``position`` (left of,
higher than, which part of the image), ``size_depth`` (closer, bigger, depth order, closest /
farthest / largest object), ``grounding`` (boxes, referring expressions, descriptions, logic).
Multi-image: ``multi_aggregate`` (totals over images, in how many / every image),
``multi_select`` (which image has the most ...), ``multi_compare`` (categories in common, same
count, more than), ``multi_attributes``, ``multi_relations``.

Importing this package registers every generator with
:func:`scenesynth.generators.base.register`.
"""

from scenesynth.generators.families import (  # noqa: F401  (imports register the generators)
    attributes,
    existence_count,
    grounding,
    multi_aggregate,
    multi_attributes,
    multi_compare,
    multi_relations,
    multi_select,
    position,
    relations,
    size_depth,
)
