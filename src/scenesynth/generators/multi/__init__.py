"""Multi-image generators: questions whose answer needs two or more scene graphs.

Importing this package registers every multi-image generator with
:func:`scenesynth.generators.base.register`.
"""

from scenesynth.generators.multi import (  # noqa: F401  (imports register the generators)
    across,
    aggregation,
    attributes,
    comparison,
    negation,
    relations,
    selection,
)
