"""Optional mypyc compilation of the generation hot path (see build_backend/).

Everything else about the package is declared in pyproject.toml. With ``SCENESYNTH_COMPILE=1``
the modules listed in ``build_backend/scenesynth_build.py`` are compiled to C extensions (same
behaviour, byte-identical output, faster generation); without it the build is pure Python.
Compile a normal install, not an editable one: a compiled module shadows edits to its ``.py``
source until it is rebuilt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).parent / "build_backend"))
from scenesynth_build import (
    COMPILED_MODULES,
    compile_requested,
    listing_requirements,
)

ext_modules = []
if compile_requested() and not listing_requirements():
    from mypyc.build import mypycify

    # The project's mypy settings apply; unused-ignore warnings are off because the build
    # environment lacks some optional third-party packages (their types become Any there).
    ext_modules = mypycify(
        ["--no-warn-unused-ignores",
         *(f"src/{m.replace('.', '/')}.py" for m in COMPILED_MODULES)],
        opt_level=os.environ.get("SCENESYNTH_COMPILE_OPT", "3"),
        debug_level="0",
    )

setup(ext_modules=ext_modules)
