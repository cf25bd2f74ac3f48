"""`scenesynth VERB` imports only the module registering VERB: `generate` starts without the
render stack, torch, the LLM client or plotting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import typer

from scenesynth import cli


def test_every_verb_is_mapped_to_the_module_that_registers_it():
    for module in cli.MODULES:
        app = typer.Typer()
        __import__(f"scenesynth.cli.{module}", fromlist=["register"]).register(app)
        verbs = [c.name or c.callback.__name__.replace("_", "-")
                 for c in app.registered_commands]
        verbs += [g.name for g in app.registered_groups]
        assert verbs, module
        for verb in verbs:
            assert cli.VERB_MODULES.get(verb) == module, (verb, module)
    full = cli.app
    names = {c.name or c.callback.__name__.replace("_", "-") for c in full.registered_commands}
    names |= {g.name for g in full.registered_groups}
    assert names == set(cli.VERB_MODULES) | {"version"}


def test_generate_help_imports_no_render_stack_and_no_heavy_libraries():
    code = (
        "import sys, json\n"
        "sys.argv = ['scenesynth', 'generate', '--help']\n"
        "import scenesynth.cli\n"
        "try:\n"
        "    scenesynth.cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout
    assert "Usage:" in out and "--per-image" in out
    modules = json.loads(out.strip().splitlines()[-1])
    heavy = [m for m in modules if m.split(".")[0] in
             ("torch", "transformers", "matplotlib", "openai", "webdataset", "pyarrow", "PIL")
             or m.startswith(("scenesynth.render", "scenesynth.cli.synth", "scenesynth.models"))]
    assert heavy == []
