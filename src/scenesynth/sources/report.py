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
        return (
            f"{self.graphs} graphs, {self.objects} objects, {self.relations} relations loaded; "
            f"{self.errors} errors ({self.skipped_records} records, {self.skipped_objects} "
            f"objects, {self.dropped_relations} relations, {self.skipped_attributes} attributes "
            f"skipped), {self.warnings} warnings ({self.clipped_boxes} boxes clipped)"
        )


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
