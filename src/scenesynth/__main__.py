"""``python -m scenesynth``: the same command line as the ``scenesynth`` script."""

from scenesynth.cli import main

main()
