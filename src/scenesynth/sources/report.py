"""Load reports: every bad record a loader meets is recorded here (file, record, field, message),
counted and skipped, or, in strict mode, raised as a :class:`LoadError` carrying the same facts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the record / object / relation was skipped
    WARNING = "warning"  # the data was kept after a small repair (e.g. a clipped box)


@dataclass(frozen=True)
class LoadIssue:
    """One problem found while loading: where it is (file, record, field) and what it is."""

    file: str
    record: str  # record id ("image_id=1") or position ("#12") inside the file
    field: str  # path of the offending field inside the record ("objects[3].x")
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.file}: record {self.record}: {self.field}: {self.message}"


@dataclass(frozen=True)
class FileRead:
    """How far one streamed part of a source file was read: ``records`` items met (read or
    rejected); ``complete`` is False when the JSON stopped early (truncated or malformed), and
    then the records after ``problem`` are neither read nor countable."""

    file: str
    part: str  # the streamed part ("scenes.item", "annotations.item", "lines", ...)
    records: int
    complete: bool
    problem: str = ""

    def __str__(self) -> str:
        where = f"{self.file} ({self.part})"
        if self.complete:
            return f"{where}: read to the end, {self.records} records in the file"
        return (f"{where}: NOT read to the end: {self.records} records read, then {self.problem};"
                " the records after it are not loaded and cannot be counted")


class LoadError(ValueError):
    """Raised in strict mode on the first error; ``issue`` says file, record and field."""

    def __init__(self, issue: LoadIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


@dataclass
class LoadReport:
    """Counts and issues of one load. ``max_issues`` bounds memory on huge, dirty inputs: beyond
    it issues are only counted (``errors``/``warnings`` stay exact)."""

    strict: bool = False
    max_issues: int = 10_000
    graphs: int = 0  # graphs yielded
    objects: int = 0
    relations: int = 0
    skipped_records: int = 0  # whole records (images) that could not be loaded
    skipped_objects: int = 0
    dropped_relations: int = 0
    skipped_attributes: int = 0
    clipped_boxes: int = 0
    errors: int = 0
    warnings: int = 0
    issues: list[LoadIssue] = field(default_factory=list)
    by_field: Counter[str] = field(default_factory=Counter)  # "severity field" -> count
    files: list[FileRead] = field(default_factory=list)  # one per streamed file part

    @property
    def incomplete_files(self) -> list[FileRead]:
        """File parts not read to their end: a lenient run still fails on these."""
        return [f for f in self.files if not f.complete]

    @property
    def records_in_files(self) -> int | None:
        """Records counted in the source files, when every file was read to its end."""
        if not self.files or self.incomplete_files:
            return None
        return sum(f.records for f in self.files)

    def note_file(
        self, file: str, part: str, records: int, complete: bool, problem: str = ""
    ) -> None:
        self.files.append(FileRead(str(file), part, records, complete, problem))

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def error(self, file: str, record: str, field_path: str, message: str) -> None:
        """Record an error; raises :class:`LoadError` instead in strict mode."""
        issue = LoadIssue(str(file), record, field_path, message, Severity.ERROR)
        if self.strict:
            raise LoadError(issue)
        self.errors += 1
        self._keep(issue)

    def warning(self, file: str, record: str, field_path: str, message: str) -> None:
        self.warnings += 1
        self._keep(LoadIssue(str(file), record, field_path, message, Severity.WARNING))

    def _keep(self, issue: LoadIssue) -> None:
        self.by_field[f"{issue.severity} {_generic_path(issue.field)}"] += 1
        if len(self.issues) < self.max_issues:
            self.issues.append(issue)

    def error_issues(self) -> list[LoadIssue]:
        return [i for i in self.issues if i.severity == Severity.ERROR]

    def summary(self) -> str:
        text = (
            f"{self.graphs} graphs, {self.objects} objects, {self.relations} relations loaded; "
            f"{self.errors} errors ({self.skipped_records} records, {self.skipped_objects} "
            f"objects, {self.dropped_relations} relations, {self.skipped_attributes} attributes "
            f"skipped), {self.warnings} warnings ({self.clipped_boxes} boxes clipped)"
        )
        incomplete = self.incomplete_files
        if incomplete:
            text += f"; {len(incomplete)} source file part(s) NOT read to the end"
        elif self.files:
            text += "; every source file read to the end"
        return text

    def file_lines(self) -> list[str]:
        """One line per streamed file part: records in it, or where reading stopped."""
        return [str(f) for f in self.files]


def _generic_path(path: str) -> str:
    """``objects[3].x`` -> ``objects[].x`` so counts group by field, not by position."""
    out, depth = [], 0
    for ch in path:
        if ch == "[":
            depth += 1
            out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)
