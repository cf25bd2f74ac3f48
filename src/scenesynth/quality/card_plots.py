"""The dataset card's plots, shared by the ``generate`` and ``synth`` cards.

:class:`CardStats` counts, in one streaming pass over samples and graphs, what the plots show:
the answer distribution per family, the yes share per template, objects and relations per
image, relation categories, the position of the correct multiple-choice option, and a blind
baseline. :func:`write_plots` draws them with matplotlib (Agg, no display needed) into PNGs and
returns the markdown that references them; :func:`hub_readme` wraps a card in the YAML header
the Hugging Face Hub (and ``datasets.load_dataset(folder)``) reads.

The blind baseline answers without looking at the image: it learns the most frequent answer of
each (family, template, form) on 4 of 5 images (by a hash of the image id) and is scored on
the fifth. For multiple choice it learns the most frequent correct *position*; balanced
positions keep it near chance. Box and set answers have no such prior and are left out.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scenesynth.graph import AnswerForm, InstructionSample, SampleView, SceneGraph

TOP_ANSWERS_PLOTTED = 6
MAX_TEMPLATES_PLOTTED = 40
BLIND_HELD_OUT = 5  # one image in 5 scores the blind baseline


def card_answer_key(value: Any) -> str:
    """Histogram key of a typed answer: yes/no for booleans, one bucket for boxes and sets."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | dict):
        return f"<{type(value).__name__}>"  # boxes and sets: no meaningful histogram
    return str(value)


def image_bucket(image_ids: Sequence[str], buckets: int) -> int:
    """A stable bucket of a sample's images (the same across runs, processes and machines)."""
    digest = hashlib.sha1("\x1f".join(image_ids).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def blind_answer_key(sample: SampleView) -> str | None:
    """What a blind model can learn to guess: the correct position for multiple choice, the
    answer for others; None for boxes and sets, which have no such prior."""
    if sample.form == AnswerForm.MULTIPLE_CHOICE:
        return None if sample.answer_index is None else f"option {sample.answer_index}"
    if isinstance(sample.answer_value, list | tuple | dict):
        return None
    return card_answer_key(sample.answer_value)


class GraphCounts:
    """Objects and relations per image and relations by category, over scene graphs as loaded:
    the per-image plots' counts. A run's shards count their own graphs and keep the counts in
    their manifest entries (:meth:`to_dict`), so the card merges them (:meth:`merge_dict`)
    instead of reading the whole source again, and a resumed run's card is the same."""

    def __init__(self) -> None:
        self.objects_per_image: Counter[int] = Counter()
        self.relations_per_image: Counter[int] = Counter()
        self.relation_categories: Counter[str] = Counter()

    def add(self, graph: SceneGraph) -> None:
        self.objects_per_image[len(graph.objects)] += 1
        self.relations_per_image[len(graph.relations)] += 1
        self.relation_categories.update(r.category.value for r in graph.relations)

    def to_dict(self) -> dict[str, dict[str, int]]:
        """JSON-ready and deterministic: per-image counts keyed by their number as text, in
        numeric order."""
        return {
            "objects_per_image": {str(k): v for k, v in sorted(self.objects_per_image.items())},
            "relations_per_image": {str(k): v for k, v in
                                    sorted(self.relations_per_image.items())},
            "relation_categories": dict(sorted(self.relation_categories.items())),
        }

    def merge_dict(self, data: dict[str, dict[str, int]]) -> None:
        """Add counts written by :meth:`to_dict` (a shard's, read back from its manifest)."""
        for key, n in data["objects_per_image"].items():
            self.objects_per_image[int(key)] += n
        for key, n in data["relations_per_image"].items():
            self.relations_per_image[int(key)] += n
        self.relation_categories.update(data["relation_categories"])


class CardStats:
    """Streaming counts behind the plots; :meth:`to_dict` is deterministic (sorted keys)."""

    def __init__(self) -> None:
        self.answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.yes_by_template: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.mc_positions: Counter[str] = Counter()
        self.graphs = GraphCounts()
        self._blind_fit: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._blind_eval: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # the last image ids seen and whether the blind baseline holds them out: a run's
        # samples come image by image, hundreds per image
        self._last_images: list[str] | None = None
        self._last_held_out = False

    def add_sample(self, sample: SampleView) -> None:
        prov = sample.provenance
        family = prov.family
        value = sample.answer_value
        self.answers[family][card_answer_key(value)] += 1
        if isinstance(value, bool):
            self.yes_by_template[f"{family}/{prov.template}"]["yes" if value else "no"] += 1
        if sample.form == AnswerForm.MULTIPLE_CHOICE and sample.answer_index is not None:
            n = len(sample.options or [])
            self.mc_positions[f"{n}:{sample.answer_index}"] += 1
        blind = blind_answer_key(sample)
        if blind is not None:
            key = f"{family}\x1f{prov.template}\x1f{sample.form.value}"
            images = prov.image_ids
            if images != self._last_images:
                self._last_images = list(images)
                self._last_held_out = image_bucket(images, BLIND_HELD_OUT) == 0
            held_out = self._last_held_out
            (self._blind_eval if held_out else self._blind_fit)[key][blind] += 1

    def add_graph(self, graph: SceneGraph) -> None:
        self.graphs.add(graph)

    def watch(self, samples: Iterable[InstructionSample]) -> Iterable[InstructionSample]:
        for sample in samples:
            self.add_sample(sample)
            yield sample

    def blind_baseline(self) -> dict[str, dict[str, Any]]:
        """Per family: held-out samples scored and the blind baseline's accuracy on them."""
        scored: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        for key, counts in self._blind_eval.items():
            family = key.split("\x1f", 1)[0]
            fit = self._blind_fit.get(key)
            guess = min(fit.items(), key=lambda kv: (-kv[1], kv[0]))[0] if fit else None
            scored[family][0] += counts.get(guess, 0) if guess is not None else 0
            scored[family][1] += sum(counts.values())
        return {family: {"n": n, "accuracy": round(correct / n, 4)}
                for family, (correct, n) in sorted(scored.items()) if n}

    def to_dict(self) -> dict[str, Any]:
        return {
            "answers_by_family": {f: dict(sorted(c.items())) for f, c in
                                  sorted(self.answers.items())},
            "yes_no_by_template": {t: {"yes": c["yes"], "no": c["no"]} for t, c in
                                   sorted(self.yes_by_template.items())},
            "mc_correct_position": dict(sorted(self.mc_positions.items())),
            **self.graphs.to_dict(),
            "blind_baseline": self.blind_baseline(),
        }


# -- drawing -------------------------------------------------------------------------------

def pyplot_agg() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    # No timestamp or version in the PNG: the same data gives the same bytes. A figure with
    # fixed margins (``ss_fixed_layout``) skips the tight bounding box, which draws it twice.
    tight = None if getattr(fig, "ss_fixed_layout", False) else "tight"
    fig.savefig(tmp, dpi=80, format="png", metadata={"Software": None}, bbox_inches=tight)
    tmp.replace(path)


def _answers_per_family(plt: Any, stats: dict[str, Any]) -> Any:
    families = stats["answers_by_family"]
    cols = 3
    rows = max(1, -(-len(families) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 1.9 * rows), squeeze=False)
    for ax, (family, counts) in zip(axes.flat, families.items(), strict=False):
        total = sum(counts.values())
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ANSWERS_PLOTTED]
        rest = total - sum(n for _, n in top)
        labels = [a[:18] for a, _ in top] + (["(other)"] if rest else [])
        shares = [n / total for _, n in top] + ([rest / total] if rest else [])
        ax.barh(range(len(labels)), shares, color="#4c72b0")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(f"{family} ({total} samples, {len(counts)} answers)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    fig.suptitle("Answer share per family (top answers)", fontsize=10)
    # Fixed margins: tight_layout over a grid of axes costs more than all the other plots.
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.75 / fig.get_figheight(),
                        bottom=0.3 / fig.get_figheight(), wspace=0.55, hspace=0.75)
    fig.ss_fixed_layout = True
    return fig


def _yes_share(plt: Any, stats: dict[str, Any]) -> Any:
    items = list(stats["yes_no_by_template"].items())
    items = sorted(items, key=lambda kv: -(kv[1]["yes"] + kv[1]["no"]))[:MAX_TEMPLATES_PLOTTED]
    items.sort()
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(items) + 1.2))
    shares = [c["yes"] / max(1, c["yes"] + c["no"]) for _, c in items]
    ax.barh(range(len(items)), shares, color="#55a868")
    ax.axvspan(0.45, 0.55, color="#cccccc", alpha=0.5, label="45-55 %")
    ax.axvline(0.5, color="black", lw=0.8)
    ax.set_yticks(range(len(items)), [f"{t} ({c['yes'] + c['no']})" for t, c in items],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of 'yes'")
    ax.set_title("Yes share per template (yes/no answers)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def _per_image(plt: Any, stats: dict[str, Any]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
    for ax, key, label in ((axes[0], "objects_per_image", "objects"),
                           (axes[1], "relations_per_image", "relations")):
        hist = {int(k): v for k, v in stats[key].items()}
        ax.bar(list(hist), list(hist.values()), color="#8172b2", width=0.9)
        ax.set_xlabel(f"{label} per image")
        ax.set_ylabel("images")
        n = sum(hist.values())
        mean = sum(k * v for k, v in hist.items()) / n if n else 0
        ax.set_title(f"{label} per image (mean {mean:.1f}, {n} images)", fontsize=9)
    fig.tight_layout()
    return fig


def _relation_categories(plt: Any, stats: dict[str, Any]) -> Any:
    cats = stats["relation_categories"]
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar(list(cats), list(cats.values()), color="#c44e52")
    ax.set_ylabel("relations")
    ax.set_title(f"Relation categories ({sum(cats.values())} relations)", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    return fig


def _mc_position(plt: Any, stats: dict[str, Any]) -> Any:
    by_n: defaultdict[int, dict[int, int]] = defaultdict(dict)
    for key, count in stats["mc_correct_position"].items():
        n, index = (int(x) for x in key.split(":"))
        by_n[n][index] = count
    fig, ax = plt.subplots(figsize=(6, 2.6))
    width = 0.8 / max(1, len(by_n))
    for j, (n, counts) in enumerate(sorted(by_n.items())):
        total = sum(counts.values())
        xs = [i + j * width for i in range(n)]
        ax.bar(xs, [counts.get(i, 0) / total for i in range(n)], width=width,
               label=f"{n} options ({total})")
        ax.hlines(1 / n, -0.4, n - 0.2, colors="black", linestyles="dotted", lw=0.8)
    letters = max(by_n) if by_n else 4
    ax.set_xticks(range(letters), [chr(65 + i) for i in range(letters)])
    ax.set_ylabel("share of correct answers")
    ax.set_title("Position of the correct option (dotted: uniform)", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def _blind(plt: Any, stats: dict[str, Any]) -> Any:
    blind = stats["blind_baseline"]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(blind) + 1.2))
    ax.barh(range(len(blind)), [d["accuracy"] for d in blind.values()], color="#937860")
    ax.set_yticks(range(len(blind)), [f"{f} ({d['n']})" for f, d in blind.items()], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy without the image (held-out fifth of the images)")
    ax.set_title("Blind baseline: most frequent answer per template", fontsize=10)
    return fig


PLOTS: tuple[tuple[str, str, str, Any], ...] = (
    # (file stem, title, stats key that must be non-empty, drawing function)
    ("answers_per_family", "Answer distribution per family", "answers_by_family",
     _answers_per_family),
    ("yes_share_per_template", "Yes share per template", "yes_no_by_template", _yes_share),
    ("objects_relations_per_image", "Objects and relations per image", "objects_per_image",
     _per_image),
    ("relation_categories", "Relation categories", "relation_categories",
     _relation_categories),
    ("mc_position", "Multiple-choice: position of the correct option", "mc_correct_position",
     _mc_position),
    ("blind_baseline", "Blind baseline accuracy per family", "blind_baseline", _blind),
)


def write_plots(stats: dict[str, Any], plots_dir: Path, link_prefix: str) -> list[str]:
    """Draw every plot the stats have data for into ``plots_dir``; return the markdown section
    (image links are ``link_prefix`` + file name)."""
    plt = pyplot_agg()
    lines = ["## Plots", ""]
    for stem, title, key, draw in PLOTS:
        if not stats.get(key):
            continue
        fig = draw(plt, stats)
        save_png(fig, plots_dir / f"{stem}.png")
        plt.close(fig)
        lines += [f"### {title}", "", f"![{title}]({link_prefix}{stem}.png)", ""]
    return lines


def hub_readme(markdown: str, data_files: dict[str, str], pretty_name: str) -> str:
    """The card with the YAML header the Hub reads: one ``default`` config whose splits are
    ``data_files`` (split -> file or glob, relative to the folder)."""
    header = {
        "pretty_name": pretty_name,
        "configs": [{
            "config_name": "default",
            "data_files": [{"split": split, "path": path} for split, path in data_files.items()],
        }],
        "tags": ["scenesynth", "synthetic", "visual-question-answering"],
    }
    import yaml

    return "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n\n" + markdown



def hub_data_files(export_dir: Path) -> dict[str, str]:
    """Split name -> Parquet file of an export folder: ``data.parquet`` is the train split,
    ``NAME.parquet`` the split NAME (``holdout`` from ``scenesynth split``)."""
    files: dict[str, str] = {}
    for path in sorted(export_dir.glob("*.parquet")):
        files["train" if path.stem == "data" else path.stem] = path.name
    return files


__all__ = ["CardStats", "blind_answer_key", "card_answer_key", "hub_data_files", "hub_readme",
           "image_bucket", "pyplot_agg", "save_png", "write_plots"]
