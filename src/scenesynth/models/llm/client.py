"""The client: one structured request, answered within a budget, cached, counted.

:meth:`LLMClient.request` sends chat messages until an answer parses (leniently), validates
against a pydantic model and passes the caller's post-processing, within ``max_attempts``:

* each retry sends a different seed (``seed_policy="vary"``), so a deterministic server can
  give a different answer; ``max_tokens`` is scaled to the request by the caller;
* answers are streamed and cut as soon as the text repeats itself (a repetition loop), so a
  loop costs seconds, not ``max_tokens``, and the server stops generating when we hang up;
* an invalid request (4xx, or a 5xx whose body says so) is never retried: while the
  structured-output form is not confirmed the next form is tried (strategies.py), after that
  the request fails;
* ``breaker_failures`` requests in a row without an answer open a circuit breaker that ends
  the run (:class:`LLMFatalError`, one line) instead of retrying once per scene;
* every attempt is recorded in the disk cache, so a re-run replays the same answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import openai
import orjson
from pydantic import BaseModel, ValidationError

try:  # the HTTP library the openai SDK ships with (some builds name it httpx2)
    import httpx
except ImportError:  # pragma: no cover - depends on the installed openai build
    import httpx2 as httpx  # type: ignore[no-redef,unused-ignore]

from scenesynth.models.llm.cache import ResponseCache, request_key
from scenesynth.models.llm.config import LLMConfig, default_cache_dir
from scenesynth.models.llm.jsonparse import parse_json_lenient
from scenesynth.models.llm.stats import LLMStats
from scenesynth.models.llm.strategies import (
    SCHEMA_IN_PROMPT,
    identify,
    says_invalid_request,
    structured_output,
    with_schema_in_prompt,
)

log = logging.getLogger("scenesynth.models.llm")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# repetition detection: the streamed text is checked every CHECK_EVERY characters; a tail of
# at least MIN_SPAN characters that repeats with a period of at most MAX_PERIOD is a loop
CHECK_EVERY = 128
MIN_SPAN = 240
MAX_PERIOD = 160


class LLMError(RuntimeError):
    """The model gave no usable answer within the retry budget (or the request is invalid)."""


class LLMFatalError(LLMError):
    """The run cannot go on: the server is unreachable, refuses us, or keeps failing."""


class ResponseRejected(Exception):
    """Raised by a response post-processor: the parsed answer is unusable; retry."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class _NoAnswer(Exception):
    """An attempt that got no answer: ``kind`` is transport (retry), invalid (do not retry)
    or fatal (stop the run)."""

    def __init__(self, kind: str, reason: str, detail: str, retry_after: float | None = None
                 ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.kind = kind
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


def repetition_period(text: str, min_span: int = MIN_SPAN, max_period: int = MAX_PERIOD
                      ) -> int | None:
    """The period of a loop at the end of ``text`` (its last ``min_span`` characters equal
    the ones ``period`` characters earlier), or None."""
    n = len(text)
    for period in range(1, max_period + 1):
        span = max(min_span, 3 * period)
        if n < span + period:
            return None
        if text[n - span:] == text[n - span - period:n - period]:
            return period
    return None


def attempt_seed(seed: int | None, attempt: int, policy: str) -> int | None:
    """The sampling seed of attempt ``attempt`` (0-based) of a request seeded ``seed``."""
    if policy == "none":
        return None
    base = 0 if seed is None else seed
    if attempt == 0 or policy == "fixed":
        return seed if policy == "fixed" else base
    digest = hashlib.sha256(f"retry:{base}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class LLMClient:
    """Asks the model for JSON that validates against a pydantic model, within a budget."""

    def __init__(
        self,
        config: LLMConfig,
        stats: LLMStats | None = None,
        client: openai.OpenAI | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.stats = stats if stats is not None else LLMStats()
        api_key = config.api_key
        if api_key is None:
            if config.base_url is None:
                raise LLMFatalError(
                    "no API key: set SCENESYNTH_LLM_API_KEY or OPENAI_API_KEY, or point "
                    "SCENESYNTH_LLM_BASE_URL at a local server")
            api_key = "not-needed"  # local servers (vLLM, llama.cpp, Ollama) ignore the key
        self._client = client or openai.OpenAI(
            base_url=config.base_url,
            api_key=api_key,
            timeout=config.timeout_s,
            max_retries=0,  # retries are ours, so that each one is counted
        )
        # plain answers are posted through one pooled keep-alive HTTP client (a connection per
        # request in flight): the SDK's request building and response models cost ~2.5 ms CPU
        # per request, which made the client, not a fast server, the limit; streamed answers
        # keep the SDK's event-stream parser
        self._chat_url = str(self._client.base_url).rstrip("/") + "/chat/completions"
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}",
                     "Content-Type": "application/json"},
            timeout=config.timeout_s,
            limits=httpx.Limits(max_connections=max(1, config.concurrency),
                                max_keepalive_connections=max(1, config.concurrency)))
        self._sleep = sleep
        self.cache = (
            ResponseCache(config.cache_dir or default_cache_dir()) if config.use_cache else None
        )
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._lock = threading.Lock()
        self._strategy: str | None = None
        self._candidates: list[str] = []
        self._family = ""
        self._confirmed = False
        self._failures_in_a_row = 0
        self._open: str | None = None  # why the breaker opened

    # -- structured-output strategy -------------------------------------------------------

    @property
    def confirmed_strategy(self) -> str | None:
        """The form an answer has confirmed (or that was configured), else None."""
        return self._strategy if self._confirmed else None

    def strategy(self) -> str:
        """The structured-output form in use; detected on first call when ``auto``."""
        with self._lock:
            if self._strategy is None:
                self._detect()
            assert self._strategy is not None
            return self._strategy

    def _detect(self) -> None:
        cfg = self.config
        if cfg.strategy != "auto":
            self._strategy, self._confirmed = cfg.strategy, True
            self.stats.note_strategy(f"{cfg.strategy} (configured)")
            return
        cached = self.cache.get_strategy(cfg.base_url, cfg.model) if self.cache else None
        if cached is not None:
            self._strategy, self._confirmed = cached, True
            self.stats.note_strategy(f"{cached} (detected by an earlier run, cached)")
            return
        self.stats.add(probe_requests=1)
        owned_by: list[str] = []
        try:
            page = self._client.models.list()
            owned_by = [str(getattr(m, "owned_by", "") or "") for m in page.data]
        except openai.APIConnectionError as exc:
            raise LLMFatalError(
                f"cannot reach the LLM server at {cfg.base_url or 'api.openai.com'}: "
                f"{_one_line(exc)}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise LLMFatalError(f"the LLM server refused the API key: {_one_line(exc)}") from None
        except (openai.APIError, ValueError, TypeError):
            pass  # no /models route: an unknown server
        self._family, forms = identify(owned_by)
        self._strategy, self._candidates = forms[0], list(forms[1:])
        self.stats.note_strategy(
            f"{self._family} (GET /models owned_by={sorted(set(owned_by))[:3]}): "
            f"trying {forms[0]}")

    def _refused(self, strategy: str, detail: str) -> None:
        """The server refused ``strategy`` as an invalid request: move to the next form."""
        with self._lock:
            if self._strategy != strategy:
                return  # another thread already moved on
            if not self._candidates:
                raise LLMFatalError(
                    f"{self._family or 'the server'} refused every structured-output form; "
                    f"last ({strategy}): {detail}")
            self._strategy = self._candidates.pop(0)
            self.stats.add(wasted_requests=1)
            self.stats.count("strategies", strategy, -1)  # only requests the form carried
            self.stats.note_strategy(
                f"{self._family} refused {strategy} ({detail[:120]}); using {self._strategy}",
                logging.WARNING)

    def _confirm(self, strategy: str) -> None:
        with self._lock:
            if self._confirmed or self._strategy != strategy:
                return
            self._confirmed = True
            note = f"{self._family}: {strategy} confirmed by an answer"
            self.stats.note_strategy(note)
            if self.cache is not None:
                self.cache.put_strategy(self.config.base_url, self.config.model, strategy, note)

    # -- one request ------------------------------------------------------------------------

    def request(
        self,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        model_cls: type[M],
        postprocess: Callable[[M], T],
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> T:
        """Send ``messages`` until an answer parses, validates as ``model_cls`` and passes
        ``postprocess`` (which raises :class:`ResponseRejected` for unusable answers).

        ``max_tokens`` bounds this request's answer (capped by the config's ``max_tokens``).
        """
        return self._request_with(messages, schema_name, schema, model_cls, postprocess, seed,
                                  max_tokens)

    def _request_with(
        self,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        model_cls: type[M],
        postprocess: Callable[[M], T],
        seed: int | None,
        max_tokens: int | None,
    ) -> T:
        cfg = self.config
        limit = cfg.max_tokens
        if max_tokens is not None:
            limit = max_tokens if limit is None else min(limit, max_tokens)
        params: dict[str, Any] = {"temperature": cfg.temperature, **cfg.extra_params}
        if limit is not None:
            params["max_tokens"] = limit
        # the structured-output form is not part of the key: it is how the server is asked,
        # and it is detected only when a live request is needed (a re-run asks nothing)
        key = request_key(messages, cfg.model, {
            **params, "seed": seed, "seed_policy": cfg.seed_policy,
            "schema_name": schema_name, "schema": schema})
        record = list((self.cache.get(key) if self.cache else None) or [])
        reasons: Counter[str] = Counter()
        used = 0
        # replay what earlier runs received, through today's validation; rejections are
        # counted again, so that a re-run reports (and writes) the same events
        for recorded in record:
            content = recorded.get("content")
            if not isinstance(content, str):
                reason = str(recorded.get("rejected") or recorded.get("error") or "no_answer")
                self.stats.reject(reason, str(recorded.get("detail", "")), logging.WARNING)
                if "rejected" in recorded:  # an answer cut on the wire: it used an attempt
                    used += 1
                    reasons[reason] += 1
                    self.stats.add(cache_hits=1)
                continue  # no answer at all (timeout, 5xx): asked again below if needed
            used += 1
            self.stats.add(cache_hits=1)
            try:
                result = self._accept(content, model_cls, postprocess)
            except ResponseRejected as exc:
                self.stats.reject(exc.reason, exc.detail, logging.WARNING)
                reasons[exc.reason] += 1
                continue
            self.stats.add(responses_accepted=1)
            return result
        while used < cfg.max_attempts:
            self._check_breaker()
            strategy = self.strategy()
            attempt = len(record)
            used += 1
            request_params = dict(params)
            attempt_s = attempt_seed(seed, attempt, cfg.seed_policy)
            if attempt_s is not None:
                request_params["seed"] = attempt_s
            elif attempt:
                request_params["temperature"] = min(1.5, cfg.temperature + 0.1 * attempt)
            retry_after: float | None = None
            try:
                content = self._call(strategy, messages, schema_name, schema, request_params)
            except _NoAnswer as exc:
                if exc.kind == "invalid":
                    if not self._confirmed:
                        # the form, not the request, was refused: try the next form
                        self._refused(strategy, exc.detail)
                        used -= 1
                        continue
                    self.stats.reject("bad_request", exc.detail, logging.WARNING)
                    raise LLMError(f"{cfg.model}: request refused: {exc.detail}") from None
                if exc.kind == "fatal":
                    self._open = exc.detail
                    self.stats.reject(exc.reason, exc.detail, logging.WARNING)
                    raise LLMFatalError(exc.detail) from None
                self.stats.reject(exc.reason, exc.detail, logging.WARNING)
                reasons[exc.reason] += 1
                record.append({"seed": attempt_s, "error": exc.reason, "detail": exc.detail})
                self._save(key, record)
                self._failed_request(exc.reason, exc.detail)
                retry_after = exc.retry_after
                if used < cfg.max_attempts:
                    self.stats.count("retries", exc.reason)
                    self._backoff(used - 1, retry_after)
                continue
            except ResponseRejected as exc:  # an answer, but cut or malformed on the wire
                self._answered(strategy)
                record.append({"seed": attempt_s, "rejected": exc.reason, "detail": exc.detail})
                self._save(key, record)
                self.stats.reject(exc.reason, exc.detail, logging.WARNING)
                reasons[exc.reason] += 1
                if used < cfg.max_attempts:
                    self.stats.count("retries", exc.reason)
                    self._backoff(used - 1, None)
                continue
            self._answered(strategy)
            record.append({"seed": attempt_s, "strategy": strategy, "content": content})
            self._save(key, record)
            try:
                result = self._accept(content, model_cls, postprocess)
            except ResponseRejected as exc:
                self.stats.reject(exc.reason, exc.detail, logging.WARNING)
                reasons[exc.reason] += 1
                if used < cfg.max_attempts:
                    self.stats.count("retries", exc.reason)
                    self._backoff(used - 1, None)
                continue
            self.stats.add(responses_accepted=1)
            return result
        raise LLMError(
            f"{cfg.model}: no usable {schema_name} answer after "
            f"{cfg.max_attempts} attempts ({dict(reasons)})"
        )

    def _save(self, key: str, record: list[dict[str, Any]]) -> None:
        if self.cache is not None:
            self.cache.put(key, record, self.config.model)

    # -- the circuit breaker ------------------------------------------------------------------

    def _check_breaker(self) -> None:
        if self._open is not None:
            raise LLMFatalError(self._open)

    def _answered(self, strategy: str) -> None:
        with self._lock:
            self._failures_in_a_row = 0
        self._confirm(strategy)

    def _failed_request(self, reason: str, detail: str) -> None:
        with self._lock:
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.config.breaker_failures and self._open is None:
                self._open = (
                    f"LLM server {self.config.base_url or 'api.openai.com'} failed "
                    f"{self._failures_in_a_row} requests in a row (last: {reason}: "
                    f"{detail[:160]}); run stopped")

    def _backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = self.config.backoff_s * (2**attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = min(delay, self.config.max_backoff_s)
        if delay > 0:
            self._sleep(delay)

    # -- the HTTP call ------------------------------------------------------------------------

    def _call(
        self,
        strategy: str,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        params: dict[str, Any],
    ) -> str:
        if strategy in SCHEMA_IN_PROMPT:
            messages = with_schema_in_prompt(messages, schema)
        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            **structured_output(strategy, schema_name, schema),
            **params,
        }
        extra = {k: request.pop(k) for k in list(request)
                 if k not in _CREATE_ARGS and k != "extra_body"}
        if extra:
            request["extra_body"] = {**request.get("extra_body", {}), **extra}
        self.stats.add(requests=1)
        self.stats.count("strategies", strategy)
        started = time.monotonic()
        with self._slots:
            try:
                if self.config.stream:
                    content, finish = self._stream(request, started)
                else:
                    content, finish = self._complete(request)
            except (openai.APITimeoutError, httpx.TimeoutException) as exc:
                raise _NoAnswer("transport", "timeout", _one_line(exc)) from None
            except (openai.APIConnectionError, httpx.TransportError) as exc:
                raise _NoAnswer("transport", "connection_error", _one_line(exc)) from None
            except openai.APIStatusError as exc:
                raise _classify_status(exc.status_code, str(exc), exc.response) from None
            except openai.APIError as exc:  # e.g. a 200 whose body is not a chat completion
                raise ResponseRejected("malformed_response", _one_line(exc)) from None
            except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
                # a body that is not JSON (a proxy's HTML page) or JSON but no completion
                raise ResponseRejected("malformed_response",
                                       f"{type(exc).__name__}: {exc}") from None
        self.stats.add_latency(time.monotonic() - started)
        if not content:
            raise ResponseRejected("empty_response")
        period = repetition_period(content)
        if period is not None:
            raise ResponseRejected("repetition_loop",
                                   f"period {period} chars after {len(content)} chars")
        if finish == "length":
            raise ResponseRejected("truncated_at_max_tokens",
                                   f"{params.get('max_tokens')} tokens: {content[-80:]!r}")
        return content

    def _complete(self, request: dict[str, Any]) -> tuple[str, str | None]:
        body = {k: v for k, v in request.items() if k != "extra_body"}
        body.update(request.get("extra_body") or {})
        response = self._http.post(self._chat_url, content=orjson.dumps(body))
        if response.status_code >= 400:
            raise _classify_status(
                response.status_code, f"Error code: {response.status_code} - {response.text}",
                response)
        data = orjson.loads(response.content)  # not JSON: a ValueError, malformed_response
        usage = data.get("usage")
        if isinstance(usage, dict):
            self.stats.add(prompt_tokens=int(usage.get("prompt_tokens") or 0),
                           completion_tokens=int(usage.get("completion_tokens") or 0))
        choice = data["choices"][0]
        content = choice["message"].get("content")
        return (content if isinstance(content, str) else ""), choice.get("finish_reason")

    def _stream(self, request: dict[str, Any], started: float) -> tuple[str, str | None]:
        """Stream the answer, hanging up on a repetition loop or at the timeout."""
        stream = self._client.chat.completions.create(**request, stream=True)
        parts: list[str] = []
        length = 0
        checked = 0
        finish: str | None = None
        try:
            for chunk in stream:
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    self.stats.add(prompt_tokens=int(usage.prompt_tokens or 0),
                                   completion_tokens=int(usage.completion_tokens or 0))
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                piece = choice.delta.content if choice.delta is not None else None
                if not piece:
                    continue
                parts.append(piece)
                length += len(piece)
                self.stats.add(stream_chunks=1)
                if length - checked >= CHECK_EVERY:
                    checked = length
                    text = "".join(parts)
                    period = repetition_period(text)
                    if period is not None:
                        raise ResponseRejected(
                            "repetition_loop",
                            f"period {period} chars, stopped after {length} chars")
                if time.monotonic() - started > self.config.timeout_s:
                    raise _NoAnswer("transport", "timeout",
                                    f"answer still streaming after {self.config.timeout_s} s")
        except (ResponseRejected, _NoAnswer, openai.APIError):
            raise
        except Exception as exc:  # the connection broke mid-answer (httpx errors)
            raise _NoAnswer("transport", "stream_broken", _one_line(exc)) from None
        finally:
            with contextlib.suppress(Exception):
                stream.close()  # hang up: the server stops generating
        return "".join(parts), finish

    def _accept(self, content: str, model_cls: type[M], postprocess: Callable[[M], T]) -> T:
        try:
            data, repairs = parse_json_lenient(content)
        except ValueError as exc:
            raise ResponseRejected("invalid_json", str(exc)) from None
        try:
            parsed = model_cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise ResponseRejected(
                "schema_invalid", f"{len(exc.errors())} errors, first {loc}: {first['msg']}"
            ) from None
        result = postprocess(parsed)
        for repair in repairs:
            self.stats.count("repairs", repair)
        return result


# the keyword arguments chat.completions.create takes itself; others go in extra_body
_CREATE_ARGS = frozenset({
    "messages", "model", "frequency_penalty", "logit_bias", "logprobs", "max_completion_tokens",
    "max_tokens", "n", "presence_penalty", "response_format", "seed", "stop", "temperature",
    "top_logprobs", "top_p", "user", "stream_options",
})


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())[:300]


def _classify_status(status: int, message: str, response: httpx.Response | None) -> _NoAnswer:
    """What an HTTP error status means for the run (``message`` carries the server's body)."""
    detail = f"HTTP {status}: {_one_line(message)}"
    if status in (401, 403):
        return _NoAnswer("fatal", f"http_{status}",
                         f"the LLM server refused the request ({detail})")
    if status == 404:
        return _NoAnswer("fatal", "http_404",
                         f"no chat endpoint or model at the LLM server ({detail})")
    if status == 429:
        retry_after: float | None = None
        header = response.headers.get("retry-after") if response is not None else None
        if header is not None:
            with contextlib.suppress(ValueError):  # an HTTP date instead of seconds: ignore
                retry_after = float(header)
        return _NoAnswer("transport", "rate_limited", detail, retry_after)
    if status < 500 or says_invalid_request(message):
        return _NoAnswer("invalid", f"http_{status}", detail)
    return _NoAnswer("transport", "server_error", detail)
