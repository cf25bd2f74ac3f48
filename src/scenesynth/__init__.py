"""scenesynth: correct, balanced, traceable vision instruction data from scene graphs."""

__version__ = "0.1.0"
