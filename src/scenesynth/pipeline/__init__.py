"""The engine: resumable, sharded, parallel pipeline runs (local process pool or Ray).

Public API::

    from scenesynth.pipeline import RunConfig, load_config, run
    summary = run(load_config("examples/generate_clevr.yaml", {"workers": 2}))

See :mod:`scenesynth.pipeline.runner` (the run), :mod:`~scenesynth.pipeline.shards` (output layout,
manifest), :mod:`~scenesynth.pipeline.stages` (the stage contract) and
:mod:`~scenesynth.pipeline.config` (the config file).
"""

from scenesynth.graph.seeds import derive_seed
from scenesynth.ioutil.manifest import (
    FailureRecord,
    Manifest,
    ManifestMismatch,
    ShardEntry,
    samples_path,
)
from scenesynth.pipeline.config import (
    EXECUTION_FIELDS,
    ConfigError,
    RefineConfig,
    RunConfig,
    SynthesizeConfig,
    load_config,
)
from scenesynth.pipeline.runner import RunAborted, RunSummary, build_stages, run
from scenesynth.pipeline.shards import iter_samples
from scenesynth.pipeline.stages import (
    GenerateStage,
    RefineStage,
    Resources,
    ShardBatch,
    Stage,
    run_stages,
)

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
    "SynthesizeConfig",
    "build_stages",
    "derive_seed",
    "iter_samples",
    "load_config",
    "run",
    "run_stages",
    "samples_path",
]
