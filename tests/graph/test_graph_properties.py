"""Property tests (Hypothesis) for the graph hub: serialisation round trips, box conversions,
and the consistency of derived spatial relations with their inverses (undecided included)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenesynth.graph import (
    INVERSE,
    SPATIAL_PREDICATES,
    Attribute,
    AttributeKind,
    Box,
    Camera,
    ImageInfo,
    Mask,
    Relation,
    RelationCategory,
    SceneGraph,
    SceneObject,
    Vec3,
    derive_relations,
    graph_from_json,
    graph_to_json,
    spatial_relation,
)

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Whole random graphs are costly to draw; fewer examples keep the suite fast on shared CPUs.
GRAPH_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=40)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
words = st.text(
    alphabet=st.characters(categories=["L", "N", "Zs", "P"], exclude_characters="\x00"),
    min_size=1, max_size=12,
).filter(lambda s: s.strip())
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), finite, st.text(max_size=10)
)


@st.composite
def images(draw: st.DrawFn) -> ImageInfo:
    return ImageInfo(
        id=draw(words), width=draw(st.integers(1, 4000)), height=draw(st.integers(1, 4000)),
        source=draw(st.sampled_from(["visual_genome", "gqa", "coco", "clevr", "synthetic"])),
        path=draw(st.none() | words),
    )


@st.composite
def boxes_in(draw: st.DrawFn, width: int, height: int) -> Box:
    xs = sorted(draw(st.floats(0, width)) for _ in range(2))
    ys = sorted(draw(st.floats(0, height)) for _ in range(2))
    return Box(x0=xs[0], y0=ys[0], x1=xs[1], y1=ys[1])


vec3s = st.builds(Vec3, x=st.floats(-50, 50), y=st.floats(-50, 50), z=st.floats(-50, 50))


@st.composite
def cameras(draw: st.DrawFn) -> Camera:
    """A camera whose opposite directions are exact negations (as CLEVR's are); any subset of
    the six may be given, the rest follow from their opposites or the default frame."""
    directions: dict[str, Vec3] = {}
    for key, opposite in (("right", "left"), ("behind", "front"), ("above", "below")):
        v = draw(vec3s)
        present = draw(st.sampled_from(["both", "one", "other", "none"]))
        if present in ("both", "one"):
            directions[key] = v
        if present in ("both", "other"):
            directions[opposite] = Vec3(x=-v.x, y=-v.y, z=-v.z)
    return Camera(directions=directions)


@st.composite
def scene_graphs(draw: st.DrawFn) -> SceneGraph:
    image = draw(images())
    ids = draw(st.lists(words, min_size=0, max_size=6, unique_by=str.strip))
    objects = []
    for oid in ids:
        objects.append(SceneObject(
            id=oid,
            name=draw(words),
            synonyms=draw(st.lists(words, max_size=2)),
            attributes=draw(st.lists(
                st.builds(Attribute, value=words, kind=st.sampled_from(list(AttributeKind))),
                max_size=3,
            )),
            box=draw(st.none() | boxes_in(image.width, image.height)),
            mask=draw(st.none() | st.builds(
                Mask, size=st.just((image.height, image.width)),
                counts=st.lists(st.integers(0, 100), max_size=5) | st.text(max_size=8),
            )),
            depth=draw(st.none() | st.floats(0, 100)),
            position=draw(st.none() | vec3s),
            size3d=draw(st.none() | vec3s),
            distinct=draw(st.booleans()),
            meta=draw(st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)),
        ))
    relations = []
    if objects:
        kept = [o.id for o in objects]
        for _ in range(draw(st.integers(0, 6))):
            relations.append(Relation(
                subject=draw(st.sampled_from(kept)), object=draw(st.sampled_from(kept)),
                predicate=draw(words), category=draw(st.sampled_from(list(RelationCategory))),
                confidence=draw(st.floats(0, 1)), id=draw(st.none() | words),
            ))
    camera = draw(st.none() | cameras())
    return SceneGraph(
        image=image, objects=objects, relations=relations, camera=camera,
        meta=draw(st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)),
    )


# -- serialisation -------------------------------------------------------------------------


@GRAPH_SETTINGS
@given(scene_graphs())
def test_graph_json_round_trip(graph: SceneGraph) -> None:
    text = graph_to_json(graph)
    again = graph_from_json(text)
    assert again == graph
    assert graph_to_json(again) == text  # stable bytes


# -- box conversions -----------------------------------------------------------------------

coords = st.floats(0, 1e4)


def _close(a: tuple[float, ...], b: tuple[float, ...], tol: float = 1e-9) -> bool:
    pairs = zip(a, b, strict=True)
    return all(math.isclose(x, y, rel_tol=tol, abs_tol=tol * 1e4) for x, y in pairs)


@given(coords, coords, coords, coords)
def test_box_xywh_round_trip(x: float, y: float, w: float, h: float) -> None:
    box = Box.from_xywh(x, y, w, h)
    assert _close(box.to_xywh(), (x, y, w, h))
    assert _close(Box.from_xywh(*box.to_xywh()).as_tuple(), box.as_tuple())


@given(coords, coords, coords, coords)
def test_box_cxcywh_round_trip(cx: float, cy: float, w: float, h: float) -> None:
    box = Box.from_cxcywh(cx, cy, w, h)
    assert _close(box.to_cxcywh(), (cx, cy, w, h))
    assert _close(Box.from_cxcywh(*box.to_cxcywh()).as_tuple(), box.as_tuple())


@given(st.integers(1, 5000), st.integers(1, 5000), st.sampled_from([1.0, 1000.0]), st.data())
def test_box_normalized_round_trip(
    width: int, height: int, scale: float, data: st.DataObject
) -> None:
    box = data.draw(boxes_in(width, height))
    norm = box.to_normalized(width, height, scale)
    assert all(0.0 <= v <= scale for v in norm)
    back = Box.from_normalized(*norm, width=width, height=height, scale=scale)
    assert _close(back.as_tuple(), box.as_tuple())


# -- derived relations vs their inverses ---------------------------------------------------


@st.composite
def object_pairs(draw: st.DrawFn) -> tuple[SceneObject, SceneObject, ImageInfo, Camera | None]:
    size = st.integers(10, 1000)
    image = ImageInfo(id="img", width=draw(size), height=draw(size))
    with_position = draw(st.booleans())

    def one(oid: str) -> SceneObject:
        return SceneObject(
            id=oid, name="thing",
            box=draw(st.none() | boxes_in(image.width, image.height)),
            depth=draw(st.none() | st.floats(0.1, 50)),
            position=draw(vec3s) if with_position and draw(st.booleans()) else None,
        )

    a, b = one("a"), one("b")
    if draw(st.booleans()):
        # Nearly coincident objects exercise the undecided band.
        b = b.model_copy(update={"box": a.box, "depth": a.depth, "position": a.position})
    return a, b, image, draw(st.none() | cameras())


@PROPERTY_SETTINGS
@given(object_pairs(), st.sampled_from(SPATIAL_PREDICATES))
def test_relation_and_inverse_agree(
    pair: tuple[SceneObject, SceneObject, ImageInfo, Camera | None], predicate: str
) -> None:
    """a P b and b inverse(P) a are the same answer: True, False or undecided (None)."""
    a, b, image, camera = pair
    forward = spatial_relation(a, b, predicate, image=image, camera=camera)
    backward = spatial_relation(b, a, INVERSE[predicate], image=image, camera=camera)
    assert forward == backward


@PROPERTY_SETTINGS
@given(object_pairs(), st.sampled_from(["left of", "above", "in front of"]))
def test_opposites_never_both_true(
    pair: tuple[SceneObject, SceneObject, ImageInfo, Camera | None], predicate: str
) -> None:
    """Directional opposites: a left of b and a right of b are never both True, and when one
    is decided the other is decided the opposite way."""
    a, b, image, camera = pair
    p = spatial_relation(a, b, predicate, image=image, camera=camera)
    q = spatial_relation(a, b, INVERSE[predicate], image=image, camera=camera)
    if p is None:
        assert q is None
    else:
        assert q is (not p)


@GRAPH_SETTINGS
@given(scene_graphs())
def test_derived_relations_closed_under_inverse(graph: SceneGraph) -> None:
    derived = {r.triplet() for r in derive_relations(graph)}
    assert {(o, INVERSE[p], s) for s, p, o in derived} == derived
    assert all(r.category == RelationCategory.SPATIAL for r in derive_relations(graph))


def test_undecided_case_is_symmetric() -> None:
    """Concrete: centres 5 px apart in a 1000 px image (margin 20 px) are undecided both ways."""
    image = ImageInfo(id="i", width=1000, height=1000)
    a = SceneObject(id="a", name="a", box=Box(x0=100, y0=100, x1=200, y1=200))
    b = SceneObject(id="b", name="b", box=Box(x0=105, y0=400, x1=205, y1=500))
    assert spatial_relation(a, b, "left of", image) is None
    assert spatial_relation(b, a, "right of", image) is None
    assert spatial_relation(a, b, "above", image) is True
    assert spatial_relation(b, a, "below", image) is True
    assert spatial_relation(b, a, "above", image) is False
