"""The question generators, one module per subject of the question.

Single image: ``existence_count`` (is there, how many), ``attributes`` (what color, which are
red, same material), ``relations`` (what is on the table, multi-hop), ``position`` (left of,
higher than, which part of the image), ``size_depth`` (closer, bigger, depth order, closest /
farthest / largest object), ``grounding`` (boxes, referring expressions, descriptions, logic).
Multi-image: ``multi_aggregate`` (totals over images, in how many / every image),
``multi_select`` (which image has the most ...), ``multi_compare`` (categories in common, same
count, more than), ``multi_attributes``, ``multi_relations``.
The reference families (issue 18): ``extremes`` (which of 3-4 named objects is the leftmost /
closest / largest ..., closer to an anchor), ``points`` (two marked points), ``by_box``
(attributes and relations of the object in a box), ``multi_lacks`` (which image lacks X),
``multi_across`` (a relation in both images, totals of a red X).

Importing this package registers every generator with
:func:`scenesynth.generators.base.register`.
"""

from scenesynth.generators.families import (  # noqa: F401  (imports register the generators)
    attributes,
    by_box,
    existence_count,
    extremes,
    grounding,
    multi_across,
    multi_aggregate,
    multi_attributes,
    multi_compare,
    multi_lacks,
    multi_relations,
    multi_select,
    points,
    position,
    relations,
    size_depth,
)
