"""generators stage: typed question programs over scene graphs.

Importing this package fills the generator registry (:mod:`.families`: single- and
multi-image generators).
Public entry points: :func:`scenesynth.generators.runner.generate_shard`,
:func:`scenesynth.generators.refer.refer`,
:class:`scenesynth.generators.forms.FormRenderer`.
"""

from scenesynth.generators import families
from scenesynth.generators.base import registered

__all__ = ["families", "registered"]
