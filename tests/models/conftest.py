"""The tiny random-weight model fixtures (built once per module from configs, saved to tmp dirs)."""

from tiny_models import tiny_gligen_dir, tiny_owlvit_dir  # noqa: F401
