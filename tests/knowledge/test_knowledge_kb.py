"""The built-in knowledge base: its size, its plausibility rules, and the loader's errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scenesynth.graph.vocab import COLORS, MATERIALS, STATES
from scenesynth.knowledge import FORMS, PLACEMENTS, KnowledgeBaseError, load_kb
from scenesynth.knowledge.kb import DATA_DIR


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_kb_size_meets_the_spec(kb):
    stats = kb.stats()
    assert stats.scenes >= 150
    assert stats.avg_objects_per_scene >= 15
    assert stats.indoor_scenes >= 50 and stats.outdoor_scenes >= 50
    # objects are defined once, in the object table; every one that is drawn (depictions.yaml)
    # is used by some scene, and the others are never placed
    drawn = {n for n, spec in kb.objects.items() if spec.depiction is not None}
    assert stats.objects == len(kb.objects)
    assert stats.objects_used == len(drawn) >= 240
    assert stats.support_pairs >= 500
    for required in ("kitchen", "street", "beach", "office", "farm", "classroom", "garage",
                     "park"):
        assert any(required in name for name in kb.scenes), required


def test_every_object_has_plausible_typed_fields(kb):
    for name, spec in kb.objects.items():
        assert spec.name == name == name.lower()
        # a colour wherever the drawing shows one (none for an emoji of a person)
        assert set(spec.colors) <= COLORS, name
        assert spec.colors or spec.depiction is not None, name
        assert set(spec.materials) <= MATERIALS, name
        assert set(spec.states) <= STATES, name
        assert spec.form in FORMS and spec.placement in PLACEMENTS
        assert all(x > 0 for x in spec.size)
    # spot checks of real-world sizes and hints (metres)
    assert kb.objects["cup"].placement == "surface"
    assert kb.objects["cup"].size[1] < 0.2
    assert kb.objects["bus"].size[2] > 8
    assert kb.objects["ceiling lamp"].placement == "ceiling"
    assert kb.objects["sun"].placement == "sky" and kb.objects["sun"].unique
    assert kb.objects["person"].form == "person"
    assert set(kb.objects["lamp"].states) == {"lit", "off"}  # YAML's bare off is quoted


def test_support_table_allows_plausible_pairs_only(kb):
    for item, base in [("cup", "table"), ("cup", "counter"), ("cup", "desk"), ("cup", "shelf"),
                       ("pillow", "bed"), ("pigeon", "statue"), ("candle", "cake"),
                       ("box", "box"), ("surfboard", "car"), ("pot", "stove")]:
        assert kb.can_support(item, base), (item, base)
    for item, base in [("cup", "ceiling lamp"), ("cup", "ceiling fan"), ("table", "cup"),
                       ("car", "table"), ("painting", "table"), ("elephant", "bench"),
                       ("sofa", "cup"), ("cup", "sun")]:
        assert not kb.can_support(item, base), (item, base)
    assert "table" in kb.supporters_of("cup")
    for item, base in kb.support:
        assert kb.objects[base].placement not in ("ceiling", "sky")
        assert kb.objects[item].placement not in ("wall", "ceiling", "sky")


def test_kitchen_scene_lists_kitchen_objects(kb):
    kitchen = kb.scenes["kitchen"]
    assert kitchen.setting == "indoor"
    # listed in scenes.yaml; only the drawn ones are placed (depictions.yaml)
    assert {"refrigerator", "stove", "cup", "counter", "sink"} <= set(kitchen.listed)
    assert {"cup", "counter", "table"} <= set(kitchen.objects) <= set(kitchen.listed)
    assert "elephant" not in kitchen.listed and "stove" not in kitchen.objects
    beach = kb.scenes["beach"]
    assert beach.setting == "outdoor" and {"surfboard", "seagull", "sun"} <= set(beach.listed)


# -- loader errors: name the file, the entry and the field -----------------------------------


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    for name in ("objects.yaml", "scenes.yaml", "support.yaml", "overlaps.yaml",
                 "depictions.yaml"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_copy_of_builtin_kb_loads(kb_copy, kb):
    assert load_kb(kb_copy).stats() == kb.stats()


def test_unknown_color_names_file_entry_and_field(kb_copy):
    _replace(kb_copy / "objects.yaml", "cup: {colors: [white,", "cup: {colors: [sparkly,")
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(kb_copy)
    msg = str(err.value)
    assert "objects.yaml" in msg and "'cup'" in msg and "field colors" in msg and "sparkly" in msg


def test_unquoted_yaml_boolean_is_explained(kb_copy):
    _replace(kb_copy / "objects.yaml", 'states: [lit, "off"], size: [0.3, 0.5', "states: [lit, off]"
             ", size: [0.3, 0.5")
    with pytest.raises(KnowledgeBaseError, match=r"'lamp'.*field states.*boolean.*quote"):
        load_kb(kb_copy)


def test_missing_size_is_reported(kb_copy):
    _replace(kb_copy / "objects.yaml", "size: [0.08, 0.1, 0.08], form: container",
             "form: container")
    with pytest.raises(KnowledgeBaseError, match=r"objects.yaml: entry 'cup': field size"):
        load_kb(kb_copy)


def test_scene_with_unknown_object_is_reported(kb_copy):
    _replace(kb_copy / "scenes.yaml", "kitchen: {setting: indoor, objects: [refrigerator,",
             "kitchen: {setting: indoor, objects: [flux capacitor, refrigerator,")
    with pytest.raises(KnowledgeBaseError,
                       match=r"scenes.yaml: entry 'kitchen': field objects: .*flux capacitor"):
        load_kb(kb_copy)


def test_implausible_support_rule_is_rejected(kb_copy):
    _replace(kb_copy / "support.yaml", "rules:\n", "rules:\n  - {items: [cup], supporters: "
             "[ceiling lamp]}\n")
    with pytest.raises(KnowledgeBaseError, match=r"support.yaml: entry 'rules\[0\]'.*ceiling"):
        load_kb(kb_copy)
    text = (kb_copy / "support.yaml").read_text().replace("[ceiling lamp]", "[cup]")
    (kb_copy / "support.yaml").write_text(text.replace("items: [cup]", "items: [car]"))
    with pytest.raises(KnowledgeBaseError, match=r"'car' on 'cup'.*too large"):
        load_kb(kb_copy)


def test_missing_file_is_reported(kb_copy):
    (kb_copy / "scenes.yaml").unlink()
    with pytest.raises(KnowledgeBaseError, match=r"scenes.yaml: knowledge-base file is missing"):
        load_kb(kb_copy)


def test_overlap_with_unknown_object_is_reported(kb_copy):
    _replace(kb_copy / "overlaps.yaml", "  fish: [goldfish]", "  fish: [goldfish, nemo]")
    with pytest.raises(KnowledgeBaseError, match=r"overlaps.yaml: entry 'fish': unknown .*nemo"):
        load_kb(kb_copy)
