"""Any folder of photos as a source: model roles (``scenesynth.models.roles``) annotate each
image into a scene graph, or fill in the masks and depth a human graph lacks (augment mode).

Where it sits: after ``engine`` (it reuses the shard files and manifest) and before ``cli``."""

from scenesynth.annotate.pipeline import Roles, WorkItem, annotate_batch
from scenesynth.annotate.runner import AnnotateSummary, run_annotate

__all__ = ["AnnotateSummary", "Roles", "WorkItem", "annotate_batch", "run_annotate"]
