"""The engine: resumable, sharded, parallel pipeline runs (local process pool or Ray).

Public API::

    from scenesynth.engine import RunConfig, load_config, run
    summary = run(load_config("examples/generate_clevr.yaml", {"workers": 2}))

See :mod:`scenesynth.engine.runner` (the run), :mod:`~scenesynth.engine.shards` (output layout,
manifest), :mod:`~scenesynth.engine.stages` (the stage contract) and
:mod:`~scenesynth.engine.config` (the config file).
"""

from scenesynth.engine.config import (
    EXECUTION_FIELDS,
    ConfigError,
    RefineConfig,
    RunConfig,
    load_config,
)
from scenesynth.engine.runner import RunAborted, RunSummary, build_stages, run
from scenesynth.engine.shards import (
    Manifest,
    ManifestMismatch,
    ShardEntry,
    iter_samples,
    samples_path,
)
from scenesynth.engine.stages import (
    FailureRecord,
    GenerateStage,
    RefineStage,
    Resources,
    ShardBatch,
    Stage,
    run_stages,
)
from scenesynth.graph.seeds import derive_seed

__all__ = [
    "EXECUTION_FIELDS",
    "ConfigError",
    "FailureRecord",
    "GenerateStage",
    "Manifest",
    "ManifestMismatch",
    "RefineConfig",
    "RefineStage",
    "Resources",
    "RunAborted",
    "RunConfig",
    "RunSummary",
    "ShardBatch",
    "ShardEntry",
    "Stage",
    "build_stages",
    "derive_seed",
    "iter_samples",
    "load_config",
    "run",
    "run_stages",
    "samples_path",
]
