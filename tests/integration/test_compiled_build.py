"""The compiled build (``SCENESYNTH_COMPILE=1``, mypyc) behaves exactly like the pure-Python
one. These run only where the compiled package is the one imported (``.ci/run`` builds it,
puts it first on PYTHONPATH and sets ``SCENESYNTH_EXPECT_COMPILED=1``); the rest of the suite
runs against it there as well."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build_backend"))
from scenesynth_build import COMPILED_MODULES  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.environ.get("SCENESYNTH_EXPECT_COMPILED") != "1",
    reason="the compiled build is checked by .ci/run (SCENESYNTH_EXPECT_COMPILED=1)",
)

# One shard with every generator and every form, multi-image groups included, over four
# sources; prints the sha256 of the samples' JSON lines.
_SCRIPT = """
import hashlib, itertools, sys
from pathlib import Path
import scenesynth.pipeline.shard as runner
from scenesynth.generators.base import GenConfig
from scenesynth.graph import AnswerForm
from scenesynth.sources import load
data = Path(sys.argv[1])
graphs = [*itertools.islice(load(data / "clevr" / "CLEVR_train_scenes_1000.json"), 60),
          *load(data / "gqa" / "debug_sceneGraphs.json"),
          *load(data / "visual_genome"),
          *load(data / "coco_panoptic" / "panoptic_coco_detection_format.json")]
res = runner.generate_shard(graphs, None, 3, tuple(AnswerForm), 7, GenConfig(), (2, 3))
h = hashlib.sha256()
for s in res.samples:
    h.update(s.model_dump_json().encode()); h.update(b"\\n")
print(runner.__file__)
print(len(res.samples), len(res.failures), h.hexdigest())
"""


def test_hot_path_modules_are_compiled() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in COMPILED_MODULES:
        module = importlib.import_module(name)
        assert str(module.__file__).endswith(suffixes), f"{name} is not compiled"


def test_compiled_output_is_byte_identical_to_pure_python(shared_data: Path) -> None:
    outputs = []
    for pythonpath in (os.environ.get("PYTHONPATH", ""), ""):  # compiled, then pure Python
        env = {**os.environ, "PYTHONPATH": pythonpath}
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(shared_data)], env=env,
                              cwd=REPO, capture_output=True, text=True, timeout=600,
                              check=True)
        outputs.append(proc.stdout.split("\n", 1))
    (compiled_file, compiled), (pure_file, pure) = outputs
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    assert compiled_file.endswith(suffixes) and pure_file.endswith(".py")
    n_samples, n_failures, _ = compiled.split()
    assert int(n_samples) > 1000 and n_failures == "0"
    assert compiled == pure
