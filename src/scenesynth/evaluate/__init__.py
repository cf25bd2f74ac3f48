"""Evaluating vision-language models on a run: contamination-safe splits, answer parsing per
form, and accuracy per family next to chance, majority and blind baselines."""

from scenesynth.evaluate.parse import Verdict, score
from scenesynth.evaluate.run import EvalError, EvalReport, evaluate
from scenesynth.evaluate.split import split_ids, split_run
from scenesynth.models.vlm import (
           HFVisionModel,
           OpenAIVisionModel,
           Query,
           VisionModel,
           load_model,
)

__all__ = ["EvalError", "EvalReport", "HFVisionModel", "OpenAIVisionModel", "Query", "Verdict",
           "VisionModel", "evaluate", "load_model", "score", "split_ids", "split_run"]
