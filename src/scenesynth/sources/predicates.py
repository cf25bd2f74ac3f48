"""Relation categories for dataset predicates.

Spatial predicates are the ones :func:`scenesynth.graph.canonical_spatial` knows (they can be
checked against geometry) plus a few locative phrases it does not decide; the rest come from a
small table of interactional / functional / social / emotional verbs; anything else is ``other``.
"""

from __future__ import annotations

from scenesynth.graph import RelationCategory, canonical_spatial

# Locative phrases that are spatial but have no geometric rule in graph.geometry.
_EXTRA_SPATIAL = frozenset(
    " ".join(p.split())
    for p in """
    beside|by|along|against|at|across|across from|around|between|among|outside|outside of
    on side of|on the side of|at the side of|on edge of|on the edge of|in middle of
    in the middle of|on front of|on back of|in back of|on bottom of|on top|atop|alongside
    adjacent to|surrounding|surrounded by|opposite|facing|below of|above of|inside of|within
    on the other side of|on right side of|on left side of|in center of|in the center of|
    near the|close by|next|upon|onto|into|off|over the|underneath of|beneath of
    """.replace("\n", "|").split("|")
    if p.strip()
)

_INTERACTIONAL = """
hold holds holding|carry carries carrying carried|ride rides riding|riding on|
eat eats eating|drink drinks drinking|drinking from|throw throws throwing|catch catches catching|
kick kicks kicking|hit hits hitting|push pushes pushing|pull pulls pulling|swing swings swinging|
use uses using|touch touches touching|grab grabs grabbing|grip gripping|feed feeds feeding|
cut cuts cutting|cutting with|play plays playing|playing on|playing in|
look at|looks at|looking at|watch watches watching|staring at|looking into|looking out|
sit on|sits on|sitting on|sitting in|sitting at|sitting by|sitting near|seated on|
stand on|stands on|standing on|standing in|standing by|standing near|standing next to|
walk on|walks on|walking on|walking in|walking down|walking along|walking across|walking toward|
lie on|lies on|lying on|laying on|laying in|lying in|sleeping on|resting on|leaning on|
lean on|leaning against|jumping over|jumping on|flying|flying in|flying over|running on|
running in|driving|driving on|drives|pulling|towing|reaching for|biting|licking|
sniffing|chewing|chewing on|brushing|washing|cooking|typing on|talking on|pointing at|
skiing on|skiing down|surfing|surfing on|skating on|grazing on|grazing in|parked on|
parked in|parked at|parked near|parked beside|climbing|climbing on|crossing|entering|
exiting|opening|closing|lifting|picking up|putting|serving|slicing|stirring|pouring|
wiping|kneeling on|squatting on|crouching on|floating on|floating in|swimming in
"""

_FUNCTIONAL = """
has|have|having|with|of|part of|belonging to|belongs to|owned by|wear|wears|wearing|
wearing a|dressed in|covered in|covered with|covering|covers|made of|attached to|
mounted on|hanging on|hanging from|hanging in|hangs on|supporting|supports|holding up|
used for|for|connected to|filled with|full of|growing on|growing in|painted on|
printed on|says|written on|displayed on|displaying|showing|shows|contain|containing|
topped with|decorated with|reflected in|reflecting in|casting|casts|lined with|
stacked on|piled on|plugged into|powered by|draped over|wrapped in|wrapped around|
tied to|carved into|built into|sewn on|stuck on|glued to|pinned to|leaning against wall
"""

_SOCIAL = """
talking to|talks to|talking with|hugging|hugs|kissing|kisses|shaking hands with|greeting|
greets|following|follows|chasing|chases|helping|helps|dancing with|married to|
friends with|leading|leads|teaching|teaches|fighting|fighting with|playing with|
standing with|walking with|sitting with|accompanying|waving at|waving to|
guiding|guarding|protecting|interviewing|meeting|posing with|riding with|herding
"""

_EMOTIONAL = """
love|loves|loving|like|likes|liking|hate|hates|hating|afraid of|scared of|fears|
smiling at|smiles at|laughing at|laughs at|angry at|enjoying|enjoys|admiring|admires|
fond of|crying|crying at|frowning at|annoyed by|happy with|excited about|worried about|
bored by|surprised by|proud of|jealous of|comforting|consoling
"""


def _table(text: str) -> frozenset[str]:
    phrases: set[str] = set()
    for group in text.replace("\n", "").split("|"):
        words = group.split()
        if not words:
            continue
        if len(words) > 1 and _is_inflection_list(words):
            phrases.update(words)
        else:
            phrases.add(" ".join(words))
    return frozenset(phrases)


def _is_inflection_list(words: list[str]) -> bool:
    """True for "hold holds holding" (forms of one verb), False for "looking at"."""
    stem = words[0][:2]
    return all(w.startswith(stem) for w in words)


_CATEGORY_TABLE: dict[str, RelationCategory] = {}
for _text, _category in (
    (_INTERACTIONAL, RelationCategory.INTERACTIONAL),
    (_FUNCTIONAL, RelationCategory.FUNCTIONAL),
    (_SOCIAL, RelationCategory.SOCIAL),
    (_EMOTIONAL, RelationCategory.EMOTIONAL),
):
    for _phrase in _table(_text):
        # First table wins, so a phrase listed twice keeps its more specific category.
        _CATEGORY_TABLE.setdefault(_phrase, _category)


def normalize_predicate(predicate: str) -> str:
    return " ".join(predicate.lower().split())


def classify_predicate(predicate: str) -> RelationCategory:
    """Category of a dataset predicate (``"ON"`` -> spatial, ``"holding"`` -> interactional)."""
    p = normalize_predicate(predicate)
    if canonical_spatial(p) is not None or p in _EXTRA_SPATIAL:
        return RelationCategory.SPATIAL
    found = _CATEGORY_TABLE.get(p)
    if found is not None:
        return found
    # "is holding", "are riding": drop a leading auxiliary and try again.
    for aux in ("is ", "are ", "was ", "were "):
        if p.startswith(aux):
            return classify_predicate(p[len(aux) :])
    return RelationCategory.OTHER
