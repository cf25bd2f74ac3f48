"""Multi-image generators: questions whose answer needs two or more scene graphs.

Importing this package registers every multi-image generator with
:func:`scenesynth.generators.base.register`.
"""
