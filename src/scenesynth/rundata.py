"""Reading a finished run folder back: its samples, scene graphs, images and failures.

Two layouts exist. A ``generate``/``run`` folder holds ``manifest.json`` and
``shards/samples-*.jsonl`` (the exact :class:`InstructionSample` objects) but not the graphs:
those are re-read from the source the manifest names. A ``synth`` folder (its manifest's config
has ``synthesize``) also holds the export (``data.json`` etc.), ``graphs.jsonl`` and
``images/``; its samples are rebuilt from the exported records, whose ``metadata`` carries the
provenance and typed answer (the run balances answers over all shards when it exports).

The viewer, ``eval`` and ``mix`` all read runs through :class:`RunData`, so they agree on
which samples a run has and where its images are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.export.records import TurnStyle, option_letter
from scenesynth.graph import AnswerForm, InstructionSample, Provenance, SceneGraph
from scenesynth.graph.io import graph_from_json

EXPORT_FILES = tuple(f"{folder}data.{ext}" for folder in ("", "export/")
                     for ext in ("json", "jsonl", "parquet"))
_IMAGE_LINE = re.compile(r"^(Image \d+: )?<image>$")


class RunError(ValueError):
    """A run folder that cannot be read; the message names the file and what is wrong."""


@dataclass
class RunData:
    """A run folder, read lazily; every method streams or caches what it reads."""

    root: Path
    image_dirs: list[Path] = field(default_factory=list)  # extra folders to find images in
    _config: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not self.root.is_dir():
            raise RunError(f"{self.root}: not a run folder (no such directory)")
        if not self.sample_files() and self.export_file() is None:
            raise RunError(
                f"{self.root}: no samples found (expected shards/samples-*.jsonl from generate, "
                f"or data.json / export/data.json from synth)"
            )

    # -- what the run holds ----------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            manifest = self.root / "manifest.json"
            self._config = {}
            if manifest.is_file():
                self._config = json.loads(manifest.read_text(encoding="utf-8")).get("config", {})
        return self._config

    @property
    def source(self) -> Path | None:
        src = self.config.get("source")
        return Path(src) if src else None

    def sample_files(self) -> list[Path]:
        if self.config.get("synthesize"):
            # a synthesizing run balances answers over the whole run at export time: its
            # samples are the exported ones, not the shards' (which hold them before that)
            return []
        return sorted((self.root / "shards").glob("samples-*.jsonl"))

    def export_file(self) -> Path | None:
        for name in EXPORT_FILES:
            if (self.root / name).is_file():
                return self.root / name
        return None

    def samples(self) -> Iterator[InstructionSample]:
        """Every sample of the run, in run order."""
        files = self.sample_files()
        if files:
            for file in files:
                with file.open("rb") as fh:
                    for line_no, line in enumerate(fh, 1):
                        if line.strip():
                            try:
                                yield InstructionSample.model_validate_json(line)
                            except ValueError as exc:
                                raise RunError(
                                    f"{file}: line {line_no}: not an instruction sample: "
                                    f"{str(exc).splitlines()[0]}"
                                ) from None
            return
        export = self.export_file()
        assert export is not None
        for i, record in enumerate(_read_records(export)):
            try:
                yield sample_from_record(record)
            except (KeyError, TypeError, ValueError) as exc:
                raise RunError(
                    f"{export}: record {i} (id {record.get('id')!r}): cannot rebuild the sample: "
                    f"{exc}"
                ) from None

    def failures(self) -> Iterator[dict[str, Any]]:
        path = self.root / "failures.jsonl"
        if not path.is_file():
            return
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def graphs(self, image_ids: Iterable[str] | None = None) -> dict[str, SceneGraph]:
        """The run's scene graphs by image id (only ``image_ids`` when given)."""
        wanted = set(image_ids) if image_ids is not None else None
        out: dict[str, SceneGraph] = {}
        for graph in self._iter_graphs():
            if wanted is None or graph.image.id in wanted:
                out[graph.image.id] = graph
        return out

    def _iter_graphs(self) -> Iterator[SceneGraph]:
        stored = self.root / "graphs.jsonl"
        if stored.is_file():
            with stored.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        yield graph_from_json(line)
            return
        if self.source is None or not self.source.exists():
            return
        from scenesynth.sources import load  # lazy: the loaders pull ijson

        yield from load(self.source, self.config.get("source_format"))

    # -- images ----------------------------------------------------------------------------

    def candidate_image_dirs(self) -> list[Path]:
        dirs = [*self.image_dirs, self.root, self.root / "export"]
        if self.source is not None:
            dirs.append(self.source if self.source.is_dir() else self.source.parent)
        return dirs

    def resolve_image(self, path: str) -> Path | None:
        """The image file a sample's path names, or None when it is nowhere to be found."""
        p = Path(path)
        if p.is_absolute():
            return p if p.is_file() else None
        for folder in self.candidate_image_dirs():
            candidate = folder / p
            if candidate.is_file():
                return candidate
        return None


def _read_records(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # lazy: only Parquet exports need it

        # Only the text columns: the embedded image bytes are not needed to rebuild samples.
        table = pq.ParquetFile(path)
        for batch in table.iter_batches(columns=["id", "messages", "metadata"]):
            for row in batch.to_pylist():
                row["metadata"] = json.loads(row["metadata"])
                yield row
        return
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise RunError(f"{path}: expected a JSON array of records")
    yield from data


def _human_and_answer(record: dict[str, Any]) -> tuple[str, str]:
    if "conversations" in record:
        turns = [(t["from"], t["value"]) for t in record["conversations"]]
        human = next(v for r, v in turns if r == "human")
        answer = next(v for r, v in turns if r == "gpt")
    else:
        turns = [(t["role"], t["content"]) for t in record["messages"]]
        human = next(v for r, v in turns if r == "user")
        answer = next(v for r, v in turns if r == "assistant")
    return human, answer


def sample_from_record(record: dict[str, Any]) -> InstructionSample:
    """Rebuild the :class:`InstructionSample` an exported LLaVA/ShareGPT record was made from.

    The question is the human turn without its image-token lines and, for multiple choice,
    without the lettered option lines (the options are in ``metadata``).
    """
    meta = record["metadata"]
    human, answer = _human_and_answer(record)
    lines = [line for line in human.split("\n") if not _IMAGE_LINE.match(line.strip())]
    form = AnswerForm(meta.get("form", "short"))
    options = meta.get("options")
    if form == AnswerForm.MULTIPLE_CHOICE and options:
        # The exporter appends the lettered options (and, for letter answers, an instruction
        # line) after the sample's question; remove exactly that block, whatever the question
        # itself says.
        if lines and lines[-1] == TurnStyle().mc_letter_instruction:
            lines = lines[:-1]
        block = [f"{option_letter(i)}. {opt}" for i, opt in enumerate(options)]
        if lines[-len(block):] == block:
            lines = lines[: -len(block)]
        answer = options[meta["answer_index"]]
    return InstructionSample(
        id=record["id"],
        images=list(meta.get("source_images") or []),
        question="\n".join(lines).strip(),
        answer=answer,
        form=form,
        options=options,
        answer_index=meta.get("answer_index"),
        answer_value=meta.get("answer_value"),
        answer_type=meta.get("answer_type", "text"),
        provenance=Provenance.model_validate(meta["provenance"]),
    )


def question_key(sample: InstructionSample) -> str:
    """What the forms of one question share: its images, generator, template and program.

    The short, yes/no and multiple-choice renderings of a question are separate samples with
    the same key; ``mix`` uses one of them at most, the viewer shows them together.
    """
    prov = sample.provenance
    program = [(s.op, s.inputs, s.args) for s in prov.program]
    return json.dumps([prov.image_ids, prov.generator, prov.template, program], sort_keys=True,
                      default=str)
