"""A reusable client for OpenAI-compatible model servers (OpenAI, vLLM, SGLang, llama.cpp,
llama-cpp-python, Ollama), shared by every model role: knowledge-graph proposals today,
vision-language annotation, teacher and judge roles later (messages may carry image parts,
:mod:`.messages`).

Where it lives: ``models/`` holds model roles and imports only ``graph/`` and ``ioutil``
(never ``knowledge/`` or later stages), so ``knowledge/`` and every later stage can import
this package without a cycle or a backward arrow.

* :mod:`.config`: :class:`LLMConfig`, every knob by field, ``SCENESYNTH_LLM_*`` variable, run
  config table and flag;
* :mod:`.strategies`: structured output per server family, detected once per run;
* :mod:`.client`: :class:`LLMClient` (retries with new seeds, streaming with a repetition stop,
  circuit breaker), :class:`LLMError`, :class:`LLMFatalError`, :class:`ResponseRejected`;
* :mod:`.cache`: every answer recorded per request, so re-runs make no request;
* :mod:`.stats`: :class:`LLMStats` (requests, retries, tokens, latency, rejections);
* :mod:`.jsonparse`: lenient JSON.
"""

from scenesynth.models.llm.cache import ResponseCache, request_key
from scenesynth.models.llm.client import (
    LLMClient,
    LLMError,
    LLMFatalError,
    ResponseRejected,
    attempt_seed,
    repetition_period,
)
from scenesynth.models.llm.config import (
    ENV_VARS,
    SEED_POLICIES,
    STRATEGIES,
    LLMConfig,
    LLMConfigError,
    default_cache_dir,
    read_config_file,
    resolve_config,
)
from scenesynth.models.llm.jsonparse import parse_json_lenient
from scenesynth.models.llm.messages import image_part, system_message, user_message
from scenesynth.models.llm.stats import LLMStats, Rejection

__all__ = [
    "ENV_VARS",
    "SEED_POLICIES",
    "STRATEGIES",
    "LLMClient",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "LLMFatalError",
    "LLMStats",
    "Rejection",
    "ResponseCache",
    "ResponseRejected",
    "attempt_seed",
    "default_cache_dir",
    "image_part",
    "parse_json_lenient",
    "read_config_file",
    "repetition_period",
    "request_key",
    "resolve_config",
    "system_message",
    "user_message",
]
