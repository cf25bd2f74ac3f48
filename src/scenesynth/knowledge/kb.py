"""The built-in knowledge base: scenes, the objects plausible in them, a support table, and
which names overlap (a man is a person).

The data lives as reviewable YAML beside this module (``data/objects.yaml``,
``data/scenes.yaml``, ``data/support.yaml``, ``data/overlaps.yaml``, and
``data/depictions.yaml``: the emoji that draws each object, or none). :func:`load_kb` reads
and validates it with pydantic; any problem raises :class:`KnowledgeBaseError` naming the file,
the entry and the field.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scenesynth.graph.vocab import AttributeKind, canonical_value, vocabulary

DATA_DIR = Path(__file__).with_name("data")

Form = Literal[
    "box", "round", "tall", "flat", "long", "person", "animal", "plant", "vehicle", "container"
]
Placement = Literal["floor", "surface", "wall", "ceiling", "sky", "ground", "any"]
Setting = Literal["indoor", "outdoor"]
FORMS: tuple[str, ...] = get_args(Form)
PLACEMENTS: tuple[str, ...] = get_args(Placement)

# Typical height (metres) of the bottom edge of an object for each placement; used to judge
# which "above"/"below" pairs are plausible. Wall objects are centred at eye level, ceiling
# objects hang from a 2.6 m ceiling, sky objects are far overhead; "any" has no typical height.
TABLETOP_HEIGHT = 0.75
WALL_CENTRE_HEIGHT = 1.5
CEILING_HEIGHT = 2.6
SKY_HEIGHT = 50.0


class KnowledgeBaseError(ValueError):
    """Invalid knowledge-base data; the message names the file, the entry and the field."""


def _reject_non_string(value: Any, what: str) -> Any:
    # YAML 1.1 reads bare on/off/yes/no as booleans; say so instead of a generic type error.
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is a boolean: quote it in the YAML (e.g. \"on\")")
    return value


def _check_vocab(values: tuple[str, ...], kind: AttributeKind) -> tuple[str, ...]:
    known = vocabulary(kind)
    out = []
    for raw in values:
        raw = _reject_non_string(raw, f"{kind.value} value")
        v = canonical_value(str(raw))
        if v != raw:
            raise ValueError(f"{kind.value} {raw!r} is not canonical: write {v!r}")
        if v not in known:
            raise ValueError(
                f"{kind.value} {raw!r} is not in scenesynth.graph.vocab's {kind.value} vocabulary"
            )
        out.append(v)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate {kind.value} values in {list(values)}")
    return tuple(out)


class ObjectSpec(BaseModel):
    """One object category of the object table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    colors: tuple[str, ...] = Field(min_length=1)
    materials: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    size: tuple[float, float, float]  # width, height, depth in metres
    form: Form
    placement: Placement
    elevation: float | None = Field(default=None, ge=0.0)
    unique: bool = False
    # Set from depictions.yaml at load time (not written in objects.yaml): the emoji code
    # points that draw the object and the drawing's width / height. None: not drawable.
    depiction: str | None = None
    aspect: float | None = None

    @field_validator("colors")
    @classmethod
    def _colors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _check_vocab(v, AttributeKind.COLOR)

    @field_validator("materials")
    @classmethod
    def _materials(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _check_vocab(v, AttributeKind.MATERIAL)

    @field_validator("states", mode="before")
    @classmethod
    def _states_before(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            for item in v:
                _reject_non_string(item, "state")
        return v

    @field_validator("states")
    @classmethod
    def _states(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _check_vocab(v, AttributeKind.STATE)

    @field_validator("size")
    @classmethod
    def _size(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x <= 0 for x in v):
            raise ValueError(f"every size dimension must be positive, got {list(v)}")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        norm = " ".join(v.lower().split())
        if norm != v or not v:
            raise ValueError(f"object names are lowercase single-spaced nouns, got {v!r}")
        return v

    @property
    def bottom(self) -> float | None:
        """Typical height of the bottom edge above the floor (None: can be anywhere)."""
        if self.elevation is not None:
            return self.elevation
        height = self.size[1]
        return {
            "floor": 0.0,
            "ground": 0.0,
            "surface": TABLETOP_HEIGHT,
            "wall": max(0.0, WALL_CENTRE_HEIGHT - height / 2),
            "ceiling": max(0.0, CEILING_HEIGHT - height),
            "sky": SKY_HEIGHT,
            "any": None,
        }[self.placement]

    @property
    def top(self) -> float | None:
        bottom = self.bottom
        return None if bottom is None else bottom + self.size[1]

    @property
    def can_repeat(self) -> bool:
        """Whether a graph may hold two of it: each copy needs its own color to stay
        describable, so at least two colors are required."""
        return not self.unique and len(self.colors) >= 2


class Depiction(BaseModel):
    """How the CPU renderer draws one object (an entry of ``data/depictions.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # an emoji (its code points, and its own CLDR name), or a built-in drawing's name
    emoji: str | None = Field(default=None, pattern=r"^[0-9A-F]{4,6}(-[0-9A-F]{4,6})*$")
    emoji_name: str | None = Field(default=None, min_length=1)
    drawing: str | None = Field(default=None, min_length=1)
    aspect: float = Field(gt=0.05, lt=20.0)
    synonyms: tuple[str, ...] = ()
    tint: bool = False
    color: str | None = None
    materials: tuple[str, ...] = ()
    states: tuple[str, ...] = ()

    @property
    def sprite(self) -> str:
        """What ``meta["depiction"]`` carries: emoji code points, or ``drawing:<name>``."""
        return self.emoji if self.emoji is not None else f"drawing:{self.drawing}"

    @property
    def sprite_name(self) -> str:
        """The depiction's own name: the emoji's, or the drawing's."""
        return self.emoji_name if self.emoji_name is not None else str(self.drawing)

    @model_validator(mode="after")
    def _color_or_tint(self) -> Depiction:
        if (self.emoji is None) == (self.drawing is None):
            raise ValueError("give either 'emoji' (with 'emoji_name') or 'drawing'")
        if self.emoji is not None and self.emoji_name is None:
            raise ValueError("an emoji needs its 'emoji_name'")
        if self.tint and self.color is not None:
            raise ValueError("a tinted emoji takes the object's colours: drop 'color'")
        if self.color is not None:
            _check_vocab((self.color,), AttributeKind.COLOR)
        _check_vocab(self.materials, AttributeKind.MATERIAL)
        _check_vocab(self.states, AttributeKind.STATE)
        return self


class SceneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    setting: Setting
    objects: tuple[str, ...] = Field(min_length=8)
    # every object scenes.yaml lists, drawn or not (``objects`` keeps only the drawn ones):
    # what an image of the scene may be asked about as absent
    listed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _distinct(self) -> SceneSpec:
        seen: set[str] = set()
        for o in self.objects:
            if o in seen:
                raise ValueError(f"object {o!r} listed twice")
            seen.add(o)
        return self


class SupportRule(BaseModel):
    """``items`` may sit on top of ``supporters``; ``@name`` refers to a group."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    items: tuple[str, ...] = Field(min_length=1)
    supporters: tuple[str, ...] = Field(min_length=1)


class SupportFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    rules: tuple[SupportRule, ...] = Field(min_length=1)


class OverlapsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    overlaps: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class KBStats:
    scenes: int
    objects: int
    objects_used: int
    avg_objects_per_scene: float
    support_pairs: int
    overlap_pairs: int
    indoor_scenes: int
    outdoor_scenes: int


@dataclass(frozen=True)
class KnowledgeBase:
    """Validated knowledge base. ``support`` holds (item, supporter) name pairs."""

    objects: Mapping[str, ObjectSpec]
    scenes: Mapping[str, SceneSpec]
    support: frozenset[tuple[str, str]]
    _supporters: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # name -> names that can denote the same thing (symmetric; see data/overlaps.yaml)
    overlaps: Mapping[str, frozenset[str]] = field(default_factory=dict)
    _scene_support: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, repr=False
    )

    def scene_names(self) -> list[str]:
        return sorted(self.scenes)

    def can_support(self, item: str, supporter: str) -> bool:
        """Whether ``item`` may be ``on top of`` ``supporter``."""
        return (item, supporter) in self.support

    def supporters_of(self, item: str) -> tuple[str, ...]:
        return self._supporters.get(item, ())

    def support_pairs_in(self, scene: str) -> tuple[tuple[str, str], ...]:
        """Sorted (item, supporter) pairs whose two objects both belong to ``scene``."""
        return self._scene_support.get(scene, ())

    def overlapping(self, name: str) -> frozenset[str]:
        """Other names that can denote the same thing as ``name`` (a man is a person)."""
        return self.overlaps.get(name, frozenset())

    def stats(self) -> KBStats:
        used = {o for s in self.scenes.values() for o in s.objects}
        n = len(self.scenes)
        return KBStats(
            scenes=n,
            objects=len(self.objects),
            objects_used=len(used),
            avg_objects_per_scene=sum(len(s.objects) for s in self.scenes.values()) / max(n, 1),
            support_pairs=len(self.support),
            overlap_pairs=sum(len(v) for v in self.overlaps.values()) // 2,
            indoor_scenes=sum(1 for s in self.scenes.values() if s.setting == "indoor"),
            outdoor_scenes=sum(1 for s in self.scenes.values() if s.setting == "outdoor"),
        )


def _read_yaml(path: Path) -> Any:
    try:
        with path.open("rb") as fh:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            return yaml.load(fh, Loader=loader)  # a safe loader: builds plain data only
    except FileNotFoundError as exc:
        raise KnowledgeBaseError(f"{path}: knowledge-base file is missing") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path}: not valid YAML: {exc}") from exc


def _format_error(path: Path, entry: str, exc: ValidationError) -> str:
    errors = exc.errors()
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "(entry)"
        parts.append(f"field {loc}: {err['msg']}")
    more = f" (and {len(errors) - 5} more errors)" if len(errors) > 5 else ""
    return f"{path}: entry {entry!r}: " + "; ".join(parts) + more


def _mapping(path: Path, data: Any, key: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise KnowledgeBaseError(f"{path}: expected a top-level mapping with a {key!r} mapping")
    return data[key]


def _expand(names: Iterable[str], groups: Mapping[str, tuple[str, ...]], where: str) -> list[str]:
    out: list[str] = []
    for n in names:
        if n.startswith("@"):
            if n[1:] not in groups:
                raise KnowledgeBaseError(f"{where}: unknown group {n!r}")
            out.extend(groups[n[1:]])
        else:
            out.append(n)
    return out


def load_kb(directory: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base (the built-in one when ``directory`` is None).

    The built-in knowledge base is parsed once per process and shared.
    """
    if directory is None:
        return _builtin_kb()
    return _load(Path(directory))


@functools.lru_cache(maxsize=1)
def _builtin_kb() -> KnowledgeBase:
    return _load(DATA_DIR)


def _load(directory: Path) -> KnowledgeBase:
    objects_path = directory / "objects.yaml"
    scenes_path = directory / "scenes.yaml"
    support_path = directory / "support.yaml"
    depictions_path = directory / "depictions.yaml"

    raw_objects = _read_yaml(objects_path)
    if not isinstance(raw_objects, dict) or not raw_objects:
        raise KnowledgeBaseError(f"{objects_path}: expected a mapping of object name -> spec")
    objects: dict[str, ObjectSpec] = {}
    for name, spec in raw_objects.items():
        if not isinstance(spec, dict):
            raise KnowledgeBaseError(f"{objects_path}: entry {name!r}: expected a mapping")
        try:
            objects[str(name)] = ObjectSpec.model_validate({"name": str(name), **spec})
        except ValidationError as exc:
            raise KnowledgeBaseError(_format_error(objects_path, str(name), exc)) from None

    if depictions_path.exists():
        objects = _apply_depictions(depictions_path, objects)

    scenes: dict[str, SceneSpec] = {}
    for name, spec in _mapping(scenes_path, _read_yaml(scenes_path), "scenes").items():
        if not isinstance(spec, dict):
            raise KnowledgeBaseError(f"{scenes_path}: entry {name!r}: expected a mapping")
        try:
            scene = SceneSpec.model_validate({"name": str(name), **spec})
        except ValidationError as exc:
            raise KnowledgeBaseError(_format_error(scenes_path, str(name), exc)) from None
        unknown = [o for o in scene.objects if o not in objects]
        if unknown:
            raise KnowledgeBaseError(
                f"{scenes_path}: entry {name!r}: field objects: unknown objects {unknown} "
                f"(define them in {objects_path.name})"
            )
        if depictions_path.exists():
            # objects that nothing draws faithfully are never placed
            drawable = tuple(o for o in scene.objects if objects[o].depiction is not None)
            if len(drawable) < MIN_DRAWABLE_PER_SCENE:
                continue  # a scene too bare to sample from is left out
            scene = scene.model_copy(update={"objects": drawable, "listed": scene.objects})
        scenes[scene.name] = scene

    raw_support = _read_yaml(support_path)
    try:
        support_file = SupportFile.model_validate(raw_support)
    except ValidationError as exc:
        raise KnowledgeBaseError(_format_error(support_path, "(file)", exc)) from None
    for gname, members in support_file.groups.items():
        unknown = [m for m in members if m not in objects]
        if unknown:
            raise KnowledgeBaseError(
                f"{support_path}: entry 'groups.{gname}': unknown objects {unknown}"
            )
    pairs: set[tuple[str, str]] = set()
    for i, rule in enumerate(support_file.rules):
        where = f"{support_path}: entry 'rules[{i}]'"
        items = _expand(rule.items, support_file.groups, where)
        bases = _expand(rule.supporters, support_file.groups, where)
        for name in (*items, *bases):
            if name not in objects:
                raise KnowledgeBaseError(f"{where}: unknown object {name!r}")
        for item in items:
            for sup in bases:
                _check_support(objects[item], objects[sup], where)
                pairs.add((item, sup))

    overlaps_path = directory / "overlaps.yaml"
    try:
        overlaps_file = OverlapsFile.model_validate(_read_yaml(overlaps_path))
    except ValidationError as exc:
        raise KnowledgeBaseError(_format_error(overlaps_path, "(file)", exc)) from None
    overlaps: dict[str, set[str]] = {}
    for name, others in overlaps_file.overlaps.items():
        for other in (name, *others):
            if other not in objects:
                raise KnowledgeBaseError(
                    f"{overlaps_path}: entry {name!r}: unknown object {other!r}"
                )
        for other in others:
            if other == name:
                raise KnowledgeBaseError(f"{overlaps_path}: entry {name!r}: lists itself")
            overlaps.setdefault(name, set()).add(other)
            overlaps.setdefault(other, set()).add(name)

    supporters: dict[str, list[str]] = {}
    for item, sup in sorted(pairs):
        supporters.setdefault(item, []).append(sup)
    return KnowledgeBase(
        objects=objects,
        scenes=scenes,
        support=frozenset(pairs),
        _supporters={k: tuple(v) for k, v in supporters.items()},
        overlaps={k: frozenset(v) for k, v in overlaps.items()},
        _scene_support={
            name: tuple(
                (i, b) for i, b in sorted(pairs) if i in scene.objects and b in scene.objects
            )
            for name, scene in scenes.items()
        },
    )


MIN_DRAWABLE_PER_SCENE = 3


def load_depictions(path: str | Path | None = None) -> dict[str, Depiction | None]:
    """The validated entries of ``depictions.yaml`` (the built-in one when ``path`` is None):
    object name -> its depiction, or None for an object nothing draws faithfully."""
    path = DATA_DIR / "depictions.yaml" if path is None else Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise KnowledgeBaseError(f"{path}: expected a mapping of object name -> depiction")
    out: dict[str, Depiction | None] = {}
    for name, entry in raw.items():
        if entry is None:
            out[str(name)] = None
            continue
        if not isinstance(entry, dict):
            raise KnowledgeBaseError(f"{path}: entry {name!r}: expected a mapping or null")
        try:
            out[str(name)] = Depiction.model_validate(entry)
        except ValidationError as exc:
            raise KnowledgeBaseError(_format_error(path, str(name), exc)) from None
    return out


def _apply_depictions(path: Path, objects: dict[str, ObjectSpec]) -> dict[str, ObjectSpec]:
    """Attach each object's depiction and keep only the attributes the drawing can show: a
    tinted emoji takes every colour of objects.yaml; an untinted one asserts its own colour
    (or none); materials and states are those the drawing shows, when objects.yaml lists
    them."""
    depictions = load_depictions(path)
    missing = [n for n in objects if n not in depictions]
    if missing:
        raise KnowledgeBaseError(f"{path}: no entry for objects {missing[:10]} "
                                 "(give each one an emoji, or null when none shows it)")
    out: dict[str, ObjectSpec] = {}
    for name, dep in depictions.items():
        if name not in objects:
            raise KnowledgeBaseError(f"{path}: entry {name!r}: unknown object")
        spec = objects[name]
        if dep is None:
            out[name] = spec
            continue
        for field_name, shown, listed in (("materials", dep.materials, spec.materials),
                                          ("states", dep.states, spec.states)):
            foreign = [v for v in shown if v not in listed]
            if foreign:
                raise KnowledgeBaseError(f"{path}: entry {name!r}: field {field_name}: {foreign}"
                                         f" are not among the object's {field_name} "
                                         f"{list(listed)}")
        if dep.tint:
            colors = spec.colors
        elif dep.color is None:
            colors = ()
        else:
            colors = (dep.color,)
        out[name] = spec.model_copy(update={
            "depiction": dep.sprite, "aspect": dep.aspect, "colors": colors,
            "materials": dep.materials, "states": dep.states,
        })
    return out


def support_problem(
    item_size: tuple[float, float, float],
    item_placement: str,
    item_form: str,
    base_size: tuple[float, float, float],
    base_placement: str,
) -> str | None:
    """Why an object cannot plausibly rest on top of another (None when it can).

    Shared by the support-table loader and the check of LLM-proposed ``on top of`` triplets.
    """
    if base_placement in ("ceiling", "sky"):
        return f"nothing rests on a {base_placement} object"
    if item_placement in ("wall", "ceiling", "sky"):
        return f"a {item_placement} object does not rest on things"
    # A supported item must not overhang its support much (footprint, in metres). Perching
    # animals (a seagull on a post) only need their length to stay within twice the support's.
    iw, _, idp = item_size
    sw, _, sd = base_size
    if item_form == "animal":
        too_large = max(iw, idp) > 2.0 * max(sw, sd)
    else:
        too_large = max(iw, idp) > 1.3 * max(sw, sd) or iw * idp > 1.5 * sw * sd
    if too_large:
        return f"size {list(item_size)} is too large to sit on size {list(base_size)}"
    return None


def _check_support(item: ObjectSpec, sup: ObjectSpec, where: str) -> None:
    """Reject support pairs that are physically implausible."""
    if item.name == sup.name and item.form not in ("box", "round", "flat", "container"):
        raise KnowledgeBaseError(f"{where}: {item.name!r} cannot be stacked on itself")
    problem = support_problem(item.size, item.placement, item.form, sup.size, sup.placement)
    if problem is not None:
        raise KnowledgeBaseError(f"{where}: {item.name!r} on {sup.name!r}: {problem}")
