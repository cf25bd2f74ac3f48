"""``annotate --engine ray``: each model role runs as a pool of Ray actors.

A role's backend object (its model still unloaded: backends load lazily, on their first
batch) is shipped to ``replicas`` actors, each reserving the role's ``num_cpus``/``num_gpus``
(``annotate.yaml``), so a model loads once per actor and stays on its GPU. The driver keeps
the local engine's flow: batches of a shard are decoded and sent through the roles by
several driver threads at once (one per actor of the widest pool), and a role call takes a
free actor of its pool. Every call gets the same whole batch the local engine passes, and
results are merged and committed in input order, so the output bytes are the local
engine's (``tests/annotate/test_annotate_ray.py``).
"""

from __future__ import annotations

import logging
import queue
from dataclasses import fields
from typing import Any

from scenesynth.annotate.config import AnnotateConfigError, RoleResources
from scenesynth.annotate.pipeline import Roles

ROLE_METHODS = {"tagger": "tag", "detector": "detect", "segmenter": "segment",
                "depth": "estimate", "attributes": "describe", "relations": "propose"}


class RoleActor:
    """One actor of a role's pool: holds the backend, calls its role method."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.backend, method)(*args)

    def assigned_resources(self) -> dict[str, float]:
        import ray

        return dict(ray.get_runtime_context().get_assigned_resources())


class RayRolePool:
    """Stands in for a role backend on the driver; each call runs on a free actor."""

    def __init__(self, ray: Any, role: str, backend: Any, resources: RoleResources) -> None:
        self.ray, self.role, self.resources = ray, role, resources
        self.name = backend.name
        remote = ray.remote(num_cpus=resources.num_cpus, num_gpus=resources.num_gpus)(RoleActor)
        self.actors = [remote.remote(backend) for _ in range(resources.replicas)]
        self._free: queue.Queue[Any] = queue.Queue()
        for actor in self.actors:
            self._free.put(actor)
        setattr(self, ROLE_METHODS[role], self._call)

    def _call(self, *args: Any) -> Any:
        actor = self._free.get()  # blocks while every actor of the pool is busy
        try:
            return self.ray.get(actor.call.remote(ROLE_METHODS[self.role], *args))
        finally:
            self._free.put(actor)

    def assigned(self) -> list[dict[str, float]]:
        """The resources Ray gave each actor (as Ray reports them, for the summary)."""
        return [self.ray.get(a.assigned_resources.remote()) for a in self.actors]


class RayRoles:
    """Starts (or joins) Ray and replaces each role of ``roles`` by its actor pool."""

    def __init__(self, roles: Roles, resources: dict[str, RoleResources]) -> None:
        try:
            import ray
        except ImportError as exc:
            raise AnnotateConfigError('engine ray needs Ray: pip install "scenesynth[ray]"'
                                      ) from exc
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
            self.started = True
        self.pools: dict[str, RayRolePool] = {}
        try:
            cluster = ray.cluster_resources()
            gpus = float(cluster.get("GPU", 0.0))
            cpus = float(cluster.get("CPU", 0.0))
            # Actors hold their resources for the whole run: pools that do not all fit would
            # wait forever for each other, so refuse them up front.
            wanted = {role: resources.get(role, RoleResources()) for role in ROLE_METHODS
                      if getattr(roles, role) is not None}
            total_cpus = sum(r.num_cpus * r.replicas for r in wanted.values())
            total_gpus = sum(r.num_gpus * r.replicas for r in wanted.values())
            if total_cpus > cpus or total_gpus > gpus:
                raise AnnotateConfigError(
                    f"the role pools need {total_cpus:g} CPU and {total_gpus:g} GPU but the "
                    f"Ray cluster has {cpus:g} CPU and {gpus:g} GPU; lower num_cpus, "
                    "num_gpus or replicas (or set device: cpu)")
            for f in fields(Roles):
                backend = getattr(roles, f.name)
                if f.name not in ROLE_METHODS or backend is None:
                    continue
                self.pools[f.name] = RayRolePool(ray, f.name, backend, wanted[f.name])
            pools: dict[str, Any] = dict(self.pools)
            self.roles = Roles(derive_relations=roles.derive_relations, **pools)
        except BaseException:
            self.close()
            raise

    @property
    def parallel(self) -> int:
        """How many batches may be in the models at once (the widest pool)."""
        return max((p.resources.replicas for p in self.pools.values()), default=1)

    def report(self) -> dict[str, Any]:
        return {role: {"replicas": p.resources.replicas, "num_cpus": p.resources.num_cpus,
                       "num_gpus": p.resources.num_gpus, "assigned": p.assigned()}
                for role, p in sorted(self.pools.items())}

    def close(self) -> None:
        for pool in self.pools.values():
            for actor in pool.actors:
                self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()
