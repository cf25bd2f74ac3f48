"""One generator class, several registered generators: each variant is the class with its own
:class:`~scenesynth.generators.base.GeneratorSpec` and parameters (the axis it asks about, its
wording), so families that differ only by a parameter share one implementation."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from scenesynth.generators.base import Generator, GeneratorSpec, register

G = TypeVar("G", bound="ParameterisedGenerator")


class ParameterisedGenerator(Generator):
    """A generator whose behaviour is set by the parameters it was registered with."""

    params: ClassVar[dict[str, Any]] = {}


def register_variant(base: type[G], spec: GeneratorSpec, **params: Any) -> type[G]:
    """Register ``base`` under ``spec.name`` with ``params`` (read as ``self.params``)."""
    variant = type(f"{base.__name__}[{spec.name}]", (base,),
                   {"spec": spec, "params": dict(params), "__module__": base.__module__})
    register(variant)
    return variant
