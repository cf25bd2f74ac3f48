"""Validators for exported files: what trainers need, checked record by record.

Every error names the file, the record (index and id) and the field::

    out/data.json: record 3 (id='q7'): field conversations[1]: 'gpt' turn (an answer) contains a
    literal <image> token

Checks, for every format: the number of ``<image>`` tokens equals the number of images; no
``<image>`` inside answers; image paths resolve (relative to the file's folder, or absolute) or
embedded image bytes decode; the image field's type fits the image count (LLaVA: a string for
one image, a list for several; ShareGPT/WebDataset: a list); roles alternate; no empty turn.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson

from scenesynth.export.jsonfmt import DATASET_INFO, LLAVA_ROLES
from scenesynth.export.records import ASSISTANT, SYSTEM, USER, conversation_problems

FORMATS = ("llava", "llama-factory", "parquet", "webdataset")
# Earlier names still accepted everywhere a format is named.
FORMAT_ALIASES = {"sharegpt": "llama-factory"}


def canonical_format(fmt: str) -> str | None:
    """The format's current name (aliases resolved), or None when unknown."""
    name = FORMAT_ALIASES.get(fmt, fmt)
    return name if name in FORMATS else None

_LLAVA_TO_ROLE = {v: k for k, v in LLAVA_ROLES.items()}
# Messages kept of the absent-image references a report counts (a scene-graph-only run of
# millions of samples has one per record).
ABSENT_IMAGE_EXAMPLES = 20


class UnknownFormatError(ValueError):
    """A readable file that is not in any export format."""


@dataclass
class ValidationReport:
    path: Path
    fmt: str
    n_records: int = 0
    n_invalid: int = 0  # records with at least one error
    errors: list[str] = field(default_factory=list)  # file-level and per-record errors
    # folder validation: files beside the export in no export format (with why)
    skipped_files: list[str] = field(default_factory=list)
    # With require_images=False (scene-graph-only data), references to image files that do
    # not exist are counted here instead of reported in ``errors`` (every record of such a run
    # has one, so only the first few messages are kept, as examples).
    require_images: bool = True
    absent_images: list[str] = field(default_factory=list)
    n_absent_images: int = 0
    image_root: Path | None = None  # second place relative image paths are looked for

    @property
    def ok(self) -> bool:
        return not self.errors

    def note_absent_images(self, messages: list[str], count: int | None = None) -> None:
        """Count references to absent image files, keeping the first few messages."""
        self.n_absent_images += len(messages) if count is None else count
        room = ABSENT_IMAGE_EXAMPLES - len(self.absent_images)
        if room > 0:
            self.absent_images.extend(messages[:room])

    def merge(self, other: ValidationReport) -> None:
        self.n_records += other.n_records
        self.n_invalid += other.n_invalid
        self.errors.extend(other.errors)
        self.skipped_files.extend(other.skipped_files)
        self.note_absent_images(other.absent_images, other.n_absent_images)

    def summary(self) -> str:
        state = "OK" if self.ok else f"{len(self.errors)} error(s)"
        return (
            f"{self.path} [{self.fmt}]: {self.n_records} record(s), {self.n_invalid} invalid: "
            f"{state}"
        )


def validate(
    path: str | Path,
    fmt: str | None = None,
    require_images: bool = True,
    image_root: str | Path | None = None,
) -> ValidationReport:
    """Validate an exported file, or every export file in a folder.

    ``fmt`` is one of ``llava|llama-factory|parquet|webdataset`` (or the alias ``sharegpt``);
    None detects it from the file (``.parquet``, ``.tar``, ``.jsonl``; ``.json`` by its first
    record's keys). A relative image path is looked for beside the export file, then under
    ``image_root`` (the source's image folder, for exports that reference images they did not
    copy). ``require_images=False`` counts references to absent image files in
    ``n_absent_images`` (the first few messages in ``absent_images``) instead of reporting them
    as errors (data made from scene graphs without their images). A ``dataset_info.json``
    in a folder is checked against the files beside it.
    """
    p = Path(path)
    if fmt is not None:
        name = canonical_format(fmt)
        if name is None:
            raise ValueError(
                f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}"
            )
        fmt = name
    root = Path(image_root) if image_root is not None else None
    if p.is_dir():
        report = ValidationReport(path=p, fmt=fmt or "auto", require_images=require_images)
        files = sorted(f for f in p.iterdir() if f.is_file() and _is_export_file(f, fmt))
        fmts = set()
        for f in files:
            if f.name == DATASET_INFO:
                report.errors.extend(
                    dataset_info_problems(f, {x.name for x in p.iterdir() if x.is_file()})
                )
                continue
            if fmt is None:
                try:
                    detect_format(f)
                except UnknownFormatError as exc:
                    # Other stages keep JSON beside the export (graphs.jsonl, failures.jsonl).
                    report.skipped_files.append(str(exc))
                    continue
                except ValueError:
                    pass  # unreadable export file: validate() below reports it
            sub = validate(f, fmt, require_images, root)
            fmts.add(sub.fmt)
            report.merge(sub)
        if not fmts:
            report.errors.append(f"{p}: no export files found")
        if len(fmts) == 1:
            report.fmt = fmts.pop()
        return report
    if not p.is_file():
        return ValidationReport(path=p, fmt=fmt or "unknown", errors=[f"{p}: file not found"])
    try:
        detected = fmt or detect_format(p)
    except ValueError as exc:
        return ValidationReport(path=p, fmt="unknown", errors=[str(exc)])
    checker = {
        "llava": _validate_llava,
        "llama-factory": _validate_sharegpt,
        "parquet": _validate_parquet,
        "webdataset": _validate_webdataset,
    }[detected]
    report = ValidationReport(path=p, fmt=detected, require_images=require_images)
    report.image_root = root
    checker(p, report)
    return report


def dataset_info_problems(
    path: Path, names: set[str], shown_as: Path | None = None
) -> list[str]:
    """What keeps LLaMA-Factory from reading a ``dataset_info.json``: each entry must name a
    data file beside it, be ``sharegpt``-formatted with a ``messages`` column, and its role tags
    must be the roles the data file uses."""
    where = shown_as or path
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{where}: not readable JSON: {exc}"]
    if not isinstance(info, dict) or not info:
        return [f"{where}: must be an object of dataset entries"]
    problems: list[str] = []
    for key, entry in info.items():
        at = f"{where}: entry {key!r}"
        if not isinstance(entry, dict):
            problems.append(f"{at}: not an object")
            continue
        file_name = entry.get("file_name")
        if not isinstance(file_name, str) or file_name not in names:
            problems.append(f"{at}: field file_name: {file_name!r} is not a file beside it")
        if entry.get("formatting") != "sharegpt":
            problems.append(f"{at}: field formatting: {entry.get('formatting')!r}, expected "
                            "'sharegpt'")
        columns = entry.get("columns") or {}
        if columns.get("messages") != "messages" or columns.get("images") != "images":
            problems.append(f"{at}: field columns: {columns!r} must map messages and images")
        tags = entry.get("tags") or {}
        expected = {"role_tag": "role", "content_tag": "content", "user_tag": USER,
                    "assistant_tag": ASSISTANT}
        wrong = {k: tags.get(k) for k, v in expected.items() if tags.get(k) != v}
        if wrong:
            problems.append(f"{at}: field tags: {wrong!r} differ from the data's "
                            f"{expected!r}")
    return problems


def _is_export_file(f: Path, fmt: str | None) -> bool:
    if f.name.startswith("."):
        return False  # temporary files of an unfinished atomic write
    suffixes = {
        None: {".json", ".jsonl", ".parquet", ".tar"},
        "llava": {".json"},
        "llama-factory": {".json", ".jsonl"},
        "parquet": {".parquet"},
        "webdataset": {".tar"},
    }[fmt]
    return f.suffix in suffixes


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".tar":
        return "webdataset"
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), None)
        if first is None:
            return "llama-factory"  # an empty JSONL export
        try:
            record = json.loads(first)
        except ValueError as exc:
            raise ValueError(f"{path}: line 1 is not valid JSON: {exc}") from exc
        if isinstance(record, dict) and "messages" in record:
            return "llama-factory"
        raise UnknownFormatError(
            f"{path}: cannot tell the format: the first record has no 'messages' (ShareGPT); "
            "pass fmt="
        )
    if suffix == ".json":
        with path.open("rb") as fh:
            try:
                for prefix, event, value in _parse_events(fh):
                    if prefix == "item" and event == "map_key":
                        if value == "conversations":
                            return "llava"
                        if value == "messages":
                            return "llama-factory"
                    if prefix == "" and event == "end_array":
                        # An empty array is a valid (empty) export in either JSON format.
                        return "llava"
            except ijson.JSONError as exc:
                raise ValueError(f"{path}: not valid JSON: {exc}") from exc
        raise UnknownFormatError(
            f"{path}: cannot tell the format: the first record has neither 'conversations' "
            "(LLaVA) nor 'messages' (ShareGPT); pass fmt="
        )
    raise UnknownFormatError(f"{path}: unknown export file type {suffix!r}")


# -- shared per-record helpers ---------------------------------------------------------------


class _Record:
    """Collects one record's errors with the file/record prefix."""

    __slots__ = ("absent", "errors", "index", "path", "record", "where")

    def __init__(self, path: Path, index: int, record: Any, where: str = "") -> None:
        self.path = path
        self.index = index
        self.record = record
        self.where = where  # appended to the prefix (a WebDataset sample's key)
        self.errors: list[str] = []
        self.absent: list[str] = []

    @property
    def prefix(self) -> str:
        """Where a problem is: worked out only for a record that has one (most have none)."""
        record = self.record
        rid = record.get("id") if isinstance(record, dict) else None
        return (f"{self.path}: record {self.index}" + (f" (id={rid!r})" if rid is not None else "")
                + self.where)

    def add(self, problem: str) -> None:
        self.errors.append(f"{self.prefix}: {problem}")

    def add_absent_image(self, problem: str) -> None:
        self.absent.append(f"{self.prefix}: {problem}")

    def flush(self, report: ValidationReport) -> None:
        report.n_records += 1
        if report.require_images:
            self.errors.extend(self.absent)
        else:
            report.note_absent_images(self.absent)
        if self.errors:
            report.n_invalid += 1
            report.errors.extend(self.errors)


def _check_id(rec: _Record, record: dict[str, Any]) -> None:
    rid = record.get("id")
    if not isinstance(rid, str) or not rid.strip():
        rec.add("field id: missing or not a non-empty string")


def _check_path(
    rec: _Record, base: Path, value: Any, field_name: str, image_root: Path | None = None,
    found: dict[str, str | None] | None = None,
) -> None:
    """``found`` caches, per path string, where the file was looked for when it is absent (None
    when present): a dataset asks many questions about each image, so each is stat'ed once."""
    if not isinstance(value, str) or not value.strip():
        rec.add(f"field {field_name}: image path must be a non-empty string, got {value!r}")
        return
    if found is not None and value in found:
        looked = found[value]
    else:
        p = Path(value)
        candidates = [p] if p.is_absolute() else [base / p]
        if image_root is not None and not p.is_absolute():
            candidates.append(image_root / p)
        looked = (None if any(c.is_file() for c in candidates)
                  else " or ".join(str(c) for c in candidates))
        if found is not None:
            found[value] = looked
    if looked is not None:
        rec.add_absent_image(
            f"field {field_name}: image file {value!r} does not exist (looked for {looked})"
        )


def _check_image_bytes(rec: _Record, data: bytes | None, field_name: str) -> None:
    from PIL import Image  # lazy (as pyarrow below): JSON exports never decode images

    if not data:
        rec.add(f"field {field_name}: image bytes are empty")
        return
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except Exception as exc:  # PIL raises many types for corrupt data
        rec.add(f"field {field_name}: image bytes ({len(data)} B) do not decode as an image "
                f"({type(exc).__name__})")


def _turns(
    rec: _Record, items: Any, field_name: str, role_key: str, text_key: str,
    role_map: dict[str, str] | None,
) -> list[tuple[str, str]] | None:
    if not isinstance(items, list):
        rec.add(f"field {field_name}: missing or not a list")
        return None
    turns: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            rec.add(f"field {field_name}[{i}]: not an object")
            return None
        role = item.get(role_key)
        text = item.get(text_key)
        mapped = role_map.get(str(role)) if role_map is not None else role
        if mapped not in (USER, ASSISTANT, SYSTEM):
            allowed = sorted(role_map) if role_map is not None else [USER, ASSISTANT, SYSTEM]
            rec.add(f"field {field_name}[{i}].{role_key}: unknown role {role!r} "
                    f"(expected one of {', '.join(allowed)})")
            return None
        if not isinstance(text, str):
            rec.add(f"field {field_name}[{i}].{text_key}: not a string ({type(text).__name__})")
            text = ""
        turns.append((mapped, text))
    return turns


# -- JSON formats ------------------------------------------------------------------------


def _iter_json_records(path: Path, report: ValidationReport) -> Iterator[tuple[int, Any]]:
    try:
        if path.suffix.lower() == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    if not line.strip():
                        continue
                    try:
                        yield i, json.loads(line)
                    except json.JSONDecodeError as exc:
                        report.errors.append(f"{path}: line {i + 1}: not valid JSON: {exc}")
                        report.n_records += 1
                        report.n_invalid += 1
        else:
            yield from _iter_array_items(path)
    except ijson.JSONError as exc:
        report.errors.append(f"{path}: not a valid JSON array of records: {exc}")


def _parse_events(fh: Any) -> Iterator[tuple[str, str, Any]]:
    """ijson's parse events of ``fh``, by the pure-Python backend when the fast one stops at an
    integer beyond 64 bits (see :func:`_iter_array_items`)."""
    try:
        yield from ijson.parse(fh)
        return
    except ijson.JSONError as exc:
        if "integer overflow" not in str(exc):
            raise
    fh.seek(0)
    # events before the overflow were seen already: only format detection reads these, and it
    # stops at the first key it knows, so a replay from the start changes nothing
    yield from ijson.get_backend("python").parse(fh)


def _iter_array_items(path: Path) -> Iterator[tuple[int, Any]]:
    """``(index, item)`` of the JSON array in ``path``. ijson's fast C backend stops at an
    integer beyond 64 bits (a valid JSON number: an id or answer a trainer reads fine); the
    file is then read on from that record with ijson's pure-Python backend, which has no limit."""
    done = 0
    try:
        with path.open("rb") as fh:
            for item in ijson.items(fh, "item", use_float=True):
                yield done, item
                done += 1
        return
    except ijson.JSONError as exc:
        if "integer overflow" not in str(exc):
            raise
    python_backend = ijson.get_backend("python")
    with path.open("rb") as fh:
        for index, item in enumerate(python_backend.items(fh, "item", use_float=True)):
            if index >= done:
                yield index, item


def _validate_llava(path: Path, report: ValidationReport) -> None:
    checker = RecordChecker("llava", path, report)
    for index, record in _iter_json_records(path, report):
        checker.check(index, record)


def _check_llava_record(
    rec: _Record, record: dict[str, Any], base: Path, image_root: Path | None,
    found: dict[str, str | None],
) -> None:
    _check_id(rec, record)
    images: list[Any] = []
    if "image" in record:
        image = record["image"]
        if isinstance(image, str):
            images = [image]
        elif isinstance(image, list):
            if len(image) == 0:
                rec.add("field image: empty list; omit the field for a text-only record")
            elif len(image) == 1:
                rec.add("field image: a list of one image; LLaVA expects a string for a "
                        "single image")
            images = image
        else:
            rec.add(f"field image: must be a string or a list of strings, got "
                    f"{type(image).__name__}")
    for i, img in enumerate(images):
        name = "image" if isinstance(record.get("image"), str) else f"image[{i}]"
        _check_path(rec, base, img, name, image_root, found)
    turns = _turns(rec, record.get("conversations"), "conversations", "from", "value",
                   _LLAVA_TO_ROLE)
    if turns is not None:
        for problem in conversation_problems(turns, len(images), "conversations", "image",
                                             LLAVA_ROLES):
            rec.add(problem)


def _check_sharegpt_record(
    rec: _Record, record: dict[str, Any], base: Path, image_root: Path | None,
    found: dict[str, str | None],
) -> None:
    images = _check_messages_record(rec, record)
    for i, img in enumerate(images or []):
        _check_path(rec, base, img, f"images[{i}]", image_root, found)


class RecordChecker:
    """The per-record checks of one JSON export file (``llava`` or ``llama-factory``), applied
    to records one at a time: by :func:`validate` to each record it re-reads, and by the
    writers to each record as it is written (so a run's own export is checked in memory, not
    parsed back). Errors name ``path`` (the file as the trainer will see it); each image path
    is stat'ed once per file."""

    def __init__(self, fmt: str, path: Path, report: ValidationReport) -> None:
        self.path = path
        self.report = report
        self._check = {"llava": _check_llava_record,
                       "llama-factory": _check_sharegpt_record}[fmt]
        self._found: dict[str, str | None] = {}
        self._index = 0

    def check(self, index: int, record: Any) -> None:
        rec = _Record(self.path, index, record)
        if not isinstance(record, dict):
            rec.add("not a JSON object")
        else:
            self._check(rec, record, self.path.parent, self.report.image_root, self._found)
        rec.flush(self.report)

    def __call__(self, record: Any) -> None:
        """Check the next record of the file (records counted from 0)."""
        self.check(self._index, record)
        self._index += 1


def _check_messages_record(
    rec: _Record, record: dict[str, Any], images_field: str = "images",
) -> list[Any] | None:
    """Checks shared by ShareGPT, Parquet and WebDataset records; returns the image list."""
    _check_id(rec, record)
    images = record.get(images_field, [])
    if images is None:
        images = []
    if isinstance(images, str):
        rec.add(f"field {images_field}: must be a list of images, got a string")
        images = [images]
    elif not isinstance(images, list):
        rec.add(f"field {images_field}: must be a list, got {type(images).__name__}")
        return None
    turns = _turns(rec, record.get("messages"), "messages", "role", "content", None)
    if turns is not None:
        for problem in conversation_problems(turns, len(images), "messages", images_field):
            rec.add(problem)
    return images


def _validate_sharegpt(path: Path, report: ValidationReport) -> None:
    checker = RecordChecker("llama-factory", path, report)
    for index, record in _iter_json_records(path, report):
        checker.check(index, record)


# -- Parquet -----------------------------------------------------------------------------


def _validate_parquet(path: Path, report: ValidationReport) -> None:
    import pyarrow.parquet as pq

    from scenesynth.export.parquet import HF_METADATA_KEY

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError
        report.errors.append(f"{path}: not a readable Parquet file: {exc}")
        return
    schema = pf.schema_arrow
    names = set(schema.names)
    image_col = "images" if "images" in names else "image" if "image" in names else None
    meta = schema.metadata or {}
    features: dict[str, Any] = {}
    if HF_METADATA_KEY not in meta:
        report.errors.append(f"{path}: schema: no 'huggingface' features metadata, so datasets "
                             "will not decode the image column as images")
    else:
        try:
            features = json.loads(meta[HF_METADATA_KEY])["info"]["features"]
        except (ValueError, KeyError, TypeError) as exc:
            report.errors.append(f"{path}: schema: unreadable 'huggingface' metadata: {exc}")
    if features and image_col is not None:
        feat = features.get(image_col)
        if image_col == "image" and feat != {"_type": "Image"}:
            report.errors.append(f"{path}: schema: column 'image' feature is {feat!r}, "
                                 "expected Image")
        if image_col == "images" and not (
            isinstance(feat, dict) and feat.get("_type") in ("Sequence", "List")
            and feat.get("feature") == {"_type": "Image"}
        ):
            report.errors.append(f"{path}: schema: column 'images' feature is {feat!r}, "
                                 "expected Sequence(Image())")
    for col in ("id", "messages"):
        if col not in names:
            report.errors.append(f"{path}: schema: missing column {col!r}")
    if "messages" not in names:
        return
    base = path.parent
    index = 0
    for batch in pf.iter_batches(batch_size=256):
        for row in batch.to_pylist():
            rec = _Record(path, index, row)
            if image_col == "image":  # one struct per row; checked as a list of one
                row["image"] = [] if row["image"] is None else [row["image"]]
            images = _check_messages_record(rec, row, image_col or "images")
            for i, img in enumerate(images or []):
                name = "image" if image_col == "image" else f"images[{i}]"
                if not isinstance(img, dict) or (img.get("bytes") is None
                                                 and img.get("path") is None):
                    rec.add(f"field {name}: neither bytes nor path")
                elif img.get("bytes") is not None:
                    _check_image_bytes(rec, img["bytes"], name)
                else:
                    _check_path(rec, base, img["path"], f"{name}.path", report.image_root)
            rec.flush(report)
            index += 1


# -- WebDataset --------------------------------------------------------------------------


def _validate_webdataset(path: Path, report: ValidationReport) -> None:
    try:
        with tarfile.open(path) as tar:
            _validate_tar(path, tar, report)
    except (tarfile.TarError, OSError) as exc:
        report.errors.append(f"{path}: not a readable tar file: {exc}")


def _tar_samples(
    tar: tarfile.TarFile, no_extension: list[str] | None = None,
) -> dict[str, dict[str, tarfile.TarInfo]]:
    """Members grouped as WebDataset groups them: key = name up to the first dot of the
    basename; member names without an extension are listed in ``no_extension``."""
    samples: dict[str, dict[str, tarfile.TarInfo]] = {}
    for member in tar.getmembers():
        if not member.isfile():
            continue
        folder, _, base = member.name.rpartition("/")
        stem, dot, ext = base.partition(".")
        if not dot:
            if no_extension is not None:
                no_extension.append(member.name)
            continue
        key = f"{folder}/{stem}" if folder else stem
        samples.setdefault(key, {})[ext] = member
    return samples


def _validate_tar(path: Path, tar: tarfile.TarFile, report: ValidationReport) -> None:
    no_extension: list[str] = []
    samples = _tar_samples(tar, no_extension)
    report.errors.extend(f"{path}: member {name!r} has no extension" for name in no_extension)
    for index, (key, members) in enumerate(samples.items()):
        _check_wds_sample(path, tar, index, key, members, report)


def _check_wds_sample(
    path: Path, tar: tarfile.TarFile, index: int, key: str,
    members: dict[str, tarfile.TarInfo], report: ValidationReport,
) -> None:
    record: Any = None
    if "json" in members:
        fh = tar.extractfile(members["json"])
        try:
            record = json.loads(fh.read()) if fh is not None else None
        except ValueError as exc:
            report.errors.append(f"{path}: record {index} (key={key!r}): field json: "
                                 f"not valid JSON: {exc}")
            report.n_records += 1
            report.n_invalid += 1
            return
    rec = _Record(path, index, record, f" (key={key!r})")
    if not isinstance(record, dict):
        rec.add("field json: missing the .json member (or it is not an object)")
        rec.flush(report)
        return
    images = _check_messages_record(rec, record)
    for i, ext in enumerate(images or []):
        if not isinstance(ext, str) or ext not in members:
            rec.add(f"field images[{i}]: member {key}.{ext} is not in the shard "
                    f"(members: {', '.join(sorted(members))})")
            continue
        fh = tar.extractfile(members[ext])
        _check_image_bytes(rec, fh.read() if fh is not None else None, f"images[{i}]")
    rec.flush(report)


# -- reading records back (for the export-level checker) --------------------------------------


@dataclass
class ExportedRecord:
    """One record as a trainer reads it: its turns (roles mapped to user/assistant/system),
    how many images it carries, and its ``metadata`` (None when absent or unreadable).
    ``location`` names the file and record (``out/data.json: record 3``)."""

    location: str
    id: str | None
    turns: list[tuple[str, str]]
    n_images: int
    metadata: dict[str, Any] | None


def export_files(path: str | Path, fmt: str | None = None) -> list[tuple[Path, str]]:
    """(file, format) of every export file at ``path`` (a file or a folder); files beside an
    export in no export format (graphs.jsonl, failures.jsonl), and unreadable ones, are left
    out, as validate() leaves them out (it reports the unreadable ones)."""
    p = Path(path)
    if not p.is_dir():
        try:
            return [(p, fmt or detect_format(p))] if p.is_file() else []
        except ValueError:
            return []
    out: list[tuple[Path, str]] = []
    for f in sorted(f for f in p.iterdir() if f.is_file() and _is_export_file(f, fmt)):
        try:
            out.append((f, fmt or detect_format(f)))
        except ValueError:  # UnknownFormatError included: not an export file
            continue
    return out


def read_records(path: str | Path, fmt: str | None = None) -> Iterator[ExportedRecord]:
    """Every record of the export file(s) at ``path``, in file order. Records that validate()
    rejects as malformed (not an object, no turn list) are skipped here: validate() reports
    them."""
    for f, detected in export_files(path, fmt):
        reader = {
            "llava": _read_llava, "llama-factory": _read_sharegpt,
            "parquet": _read_parquet, "webdataset": _read_webdataset,
        }[detected]
        try:
            yield from reader(f)
        except (OSError, ValueError, tarfile.TarError):
            continue  # an unreadable file: validate() reports it


def _plain_turns(
    items: Any, role_key: str, text_key: str, role_map: dict[str, str] | None,
) -> list[tuple[str, str]] | None:
    if not isinstance(items, list):
        return None
    turns: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        role = str(item.get(role_key))
        text = item.get(text_key)
        turns.append((role_map.get(role, role) if role_map is not None else role,
                      text if isinstance(text, str) else ""))
    return turns


def _metadata(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):  # Parquet keeps it as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _exported(
    location: str, record: dict[str, Any], turns: list[tuple[str, str]] | None, n_images: int,
) -> ExportedRecord | None:
    if turns is None:
        return None
    rid = record.get("id")
    return ExportedRecord(location, rid if isinstance(rid, str) else None, turns, n_images,
                          _metadata(record.get("metadata")))


def _read_llava(path: Path) -> Iterator[ExportedRecord]:
    scratch = ValidationReport(path=path, fmt="llava")
    for index, record in _iter_json_records(path, scratch):
        if not isinstance(record, dict):
            continue
        image = record.get("image")
        n = 1 if isinstance(image, str) else len(image) if isinstance(image, list) else 0
        turns = _plain_turns(record.get("conversations"), "from", "value", _LLAVA_TO_ROLE)
        rec = _exported(f"{path}: record {index}", record, turns, n)
        if rec is not None:
            yield rec


def _messages_images(record: dict[str, Any], images_field: str = "images") -> int:
    images = record.get(images_field)
    return len(images) if isinstance(images, list) else 1 if isinstance(images, str) else 0


def _read_sharegpt(path: Path) -> Iterator[ExportedRecord]:
    scratch = ValidationReport(path=path, fmt="sharegpt")
    for index, record in _iter_json_records(path, scratch):
        if not isinstance(record, dict):
            continue
        turns = _plain_turns(record.get("messages"), "role", "content", None)
        rec = _exported(f"{path}: record {index}", record, turns, _messages_images(record))
        if rec is not None:
            yield rec


def _read_parquet(path: Path) -> Iterator[ExportedRecord]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    text_columns = [c for c in ("id", "messages", "metadata") if c in names]
    image_col = "images" if "images" in names else "image" if "image" in names else None
    index = 0
    columns = [*text_columns, image_col] if image_col is not None else text_columns
    for batch in pf.iter_batches(batch_size=256, columns=columns):
        # image counts from the column's structure, without turning image bytes into Python
        counts: list[int] = [0] * batch.num_rows
        if image_col == "image":
            counts = [int(v) for v in pc.is_valid(batch.column(image_col)).to_pylist()]
        elif image_col == "images":
            counts = [n or 0 for n in pc.list_value_length(batch.column(image_col)).to_pylist()]
        rows = batch.select(text_columns).to_pylist()
        for row, n in zip(rows, counts, strict=True):
            turns = _plain_turns(row.get("messages"), "role", "content", None)
            rec = _exported(f"{path}: record {index}", row, turns, n)
            if rec is not None:
                yield rec
            index += 1


def _read_webdataset(path: Path) -> Iterator[ExportedRecord]:
    with tarfile.open(path) as tar:
        for index, (key, members) in enumerate(_tar_samples(tar).items()):
            if "json" not in members:
                continue
            fh = tar.extractfile(members["json"])
            try:
                record = json.loads(fh.read()) if fh is not None else None
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            turns = _plain_turns(record.get("messages"), "role", "content", None)
            rec = _exported(f"{path}: record {index} (key={key!r})", record, turns,
                            _messages_images(record))
            if rec is not None:
                yield rec
