"""Dataset loaders: Visual Genome, GQA, COCO (instances / panoptic), CLEVR and scenesynth JSONL,
all streamed into the one :class:`~scenesynth.graph.SceneGraph` model with provenance
(``image.source``; ``graph.meta`` = source file, record index and id; dataset extras in object
``meta``).

Use::

    stream = scenesynth.sources.load("data/visual_genome")   # format sniffed; or format="vg"
    for graph in stream:
        ...
    print(stream.report.summary())   # bad records: reported, counted, skipped

``load(..., strict=True)`` raises :class:`LoadError` (file, record, field) on the first error.
"""

from scenesynth.sources.clevr import read_clevr
from scenesynth.sources.coco import read_coco
from scenesynth.sources.common import LoadOptions
from scenesynth.sources.dispatch import (
    FORMATS,
    GraphStream,
    UnknownFormatError,
    find_sources,
    load,
    sniff_file,
)
from scenesynth.sources.gqa import read_gqa
from scenesynth.sources.jsonl import read_jsonl
from scenesynth.sources.predicates import classify_predicate
from scenesynth.sources.report import LoadError, LoadIssue, LoadReport, Severity
from scenesynth.sources.visual_genome import read_visual_genome

__all__ = [
    "FORMATS",
    "GraphStream",
    "LoadError",
    "LoadIssue",
    "LoadOptions",
    "LoadReport",
    "Severity",
    "UnknownFormatError",
    "classify_predicate",
    "find_sources",
    "load",
    "read_clevr",
    "read_coco",
    "read_gqa",
    "read_jsonl",
    "read_visual_genome",
    "sniff_file",
]
