"""Quality control: answer balance, deduplication, answer-distribution reports, and
verification that an image shows its scene graph."""

from typing import TYPE_CHECKING, Any

from scenesynth.quality.balance import AnswerBalancer
from scenesynth.quality.dedup import Deduplicator, normalize_question
from scenesynth.quality.report import AnswerReport, answer_report, render_report

if TYPE_CHECKING:
    from scenesynth.quality.verify import (
        ConstructionVerifier,
        DetectorVerifier,
        Finding,
        Reason,
        Verdict,
        VerificationTally,
        Verifier,
        verify_all,
    )

# Verification needs the render stack (numpy, the rasterizer); generation and export do not,
# so its names are imported on first use.
_VERIFY_NAMES = ("ConstructionVerifier", "DetectorVerifier", "Finding", "Reason", "Verdict",
                 "VerificationTally", "Verifier", "verify_all")


def __getattr__(name: str) -> Any:
    if name in _VERIFY_NAMES:
        from scenesynth.quality import verify

        return getattr(verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AnswerBalancer",
    "AnswerReport",
    "ConstructionVerifier",
    "Deduplicator",
    "DetectorVerifier",
    "Finding",
    "Reason",
    "Verdict",
    "VerificationTally",
    "Verifier",
    "answer_report",
    "normalize_question",
    "render_report",
    "verify_all",
]
