"""Quality control: answer balance, deduplication, answer-distribution reports, and
verification that an image shows its scene graph."""

from scenesynth.quality.balance import AnswerBalancer
from scenesynth.quality.dedup import Deduplicator, normalize_question
from scenesynth.quality.report import AnswerReport, answer_report, render_report
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
