"""The outcome of one export: files written, records written, and every skipped record."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("scenesynth.export")


@dataclass
class ExportResult:
    fmt: str
    paths: list[Path] = field(default_factory=list)
    n_written: int = 0
    # (sample id, message naming the field) for every sample that was skipped
    failures: list[tuple[str, str]] = field(default_factory=list)
    # final path -> the hidden temporary file holding it until the export is validated
    # (``export_samples`` publishes them; a writer called directly with ``staging=False``
    # writes final names at once)
    staged: dict[Path, Path] = field(default_factory=dict)
    # the ValidationReport of the staged files (set by ``export_samples``)
    validation: Any = None

    @property
    def n_failed(self) -> int:
        return len(self.failures)

    def failed_by_field(self) -> Counter[str]:
        """Skipped records counted by the first field their message names."""
        counts: Counter[str] = Counter()
        for _, message in self.failures:
            marker = "field "
            pos = message.find(marker)
            name = message[pos + len(marker):].split(":", 1)[0] if pos >= 0 else "unknown"
            counts[name.split("[", 1)[0]] += 1
        return counts

    def record_failure(self, sample_id: str, message: str) -> None:
        # DEBUG, not WARNING: a source without images fails every record the same way, and the
        # caller prints one grouped line (failed_by_field) and writes every record to a file.
        log.debug("export %s: skipped sample %r: %s", self.fmt, sample_id, message)
        self.failures.append((sample_id, message))

    def target(self, final: Path, staging: bool) -> Path:
        """Where a writer writes ``final``: itself, or a hidden name in the same folder (so
        the final rename is atomic) until the export has been validated."""
        if not staging:
            return final
        temp = final.with_name(f".staging.{final.name}")
        self.staged[final] = temp
        return temp

    def summary(self) -> str:
        files = ", ".join(str(p) for p in self.paths) or "no files"
        return (
            f"{self.fmt}: wrote {self.n_written} record(s) to {files}; "
            f"skipped {self.n_failed} failed record(s)"
        )
