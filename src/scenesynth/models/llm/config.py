"""How to reach an OpenAI-compatible model server and how patiently to ask it.

Every knob has one name, used by the Python API (:class:`LLMConfig` fields), the environment
(``SCENESYNTH_LLM_<NAME>``, see :data:`ENV_VARS`), a run-config table (``[llm]`` in TOML,
``llm:`` in YAML) and the ``--llm-*`` command-line flags. Precedence, strongest first: flag,
run config, environment, default (:func:`resolve_config`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# How structured output is requested. "auto" asks the server who it is (GET /models) and
# confirms the choice on the first answer; the others are forced. See strategies.py.
STRATEGIES: tuple[str, ...] = (
    "auto", "json_schema", "json_object_schema", "guided_json", "json_object", "prompt",
)
# Sampling seed per attempt: "vary" derives a new seed for each retry (a retry that sends the
# same seed gets the same answer from a deterministic server), "fixed" resends the request's
# seed, "none" sends no seed and raises the temperature a little per retry instead.
SEED_POLICIES: tuple[str, ...] = ("vary", "fixed", "none")

# field -> environment variable
ENV_VARS: dict[str, str] = {
    "model": "SCENESYNTH_LLM_MODEL",
    "base_url": "SCENESYNTH_LLM_BASE_URL",
    "api_key": "SCENESYNTH_LLM_API_KEY",
    "strategy": "SCENESYNTH_LLM_STRATEGY",
    "temperature": "SCENESYNTH_LLM_TEMPERATURE",
    "max_tokens": "SCENESYNTH_LLM_MAX_TOKENS",
    "timeout_s": "SCENESYNTH_LLM_TIMEOUT",
    "max_attempts": "SCENESYNTH_LLM_ATTEMPTS",
    "concurrency": "SCENESYNTH_LLM_CONCURRENCY",
    "seed_policy": "SCENESYNTH_LLM_SEED_POLICY",
    "stream": "SCENESYNTH_LLM_STREAM",
    "breaker_failures": "SCENESYNTH_LLM_BREAKER_FAILURES",
    "backoff_s": "SCENESYNTH_LLM_BACKOFF",
    "cache_dir": "SCENESYNTH_LLM_CACHE_DIR",
    "use_cache": "SCENESYNTH_LLM_USE_CACHE",
}


class LLMConfigError(ValueError):
    """A configuration value is missing or invalid (one line, names the knob)."""


def default_cache_dir() -> Path:
    env = os.environ.get("SCENESYNTH_LLM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scenesynth" / "llm"


@dataclass(frozen=True)
class LLMConfig:
    """One model role's client settings (shared by every role: KG proposals, later VLMs)."""

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    strategy: str = "auto"
    temperature: float = 0.7
    # upper bound: a request asks for less when it knows its answer is short (scaled to k)
    max_tokens: int | None = 2048
    timeout_s: float = 60.0  # per request, the whole streamed answer included
    max_attempts: int = 4  # per request, first try included
    backoff_s: float = 1.0  # doubled after each failed attempt
    max_backoff_s: float = 30.0  # also caps a server's Retry-After
    concurrency: int = 1  # requests in flight per process
    seed_policy: str = "vary"
    stream: bool = True  # stream answers so that a repetition loop is cut early
    # consecutive failed requests (no answer at all) after which the run is ended
    breaker_failures: int = 6
    cache_dir: str | None = None  # None: default_cache_dir()
    use_cache: bool = True
    scene_count: int = 40  # scenes asked for when no scene list is given
    # further request parameters, e.g. {"top_p": 0.9}
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise LLMConfigError(
                "no LLM model: set SCENESYNTH_LLM_MODEL or pass --llm-model")
        if self.strategy not in STRATEGIES:
            raise LLMConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.seed_policy not in SEED_POLICIES:
            raise LLMConfigError(
                f"seed_policy must be one of {', '.join(SEED_POLICIES)}, "
                f"got {self.seed_policy!r}")
        for name in ("max_attempts", "concurrency", "breaker_failures"):
            if getattr(self, name) < 1:
                raise LLMConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.timeout_s <= 0:
            raise LLMConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_tokens is not None and self.max_tokens < 16:
            raise LLMConfigError(f"max_tokens must be >= 16, got {self.max_tokens}")

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMConfig:
        """Config from ``SCENESYNTH_LLM_*`` variables; keyword arguments take precedence."""
        return resolve_config(overrides)

    def redacted(self) -> dict[str, Any]:
        """The settings as written to a dataset card: never the key."""
        values = dataclasses.asdict(self)
        values["api_key"] = "***" if self.api_key else None
        return values


_FIELDS = {f.name: f for f in dataclasses.fields(LLMConfig)}


def _convert(name: str, raw: Any, where: str) -> Any:
    """Parse a value from the environment or a config file into the field's type."""
    kind = _FIELDS[name].type
    if raw is None or not isinstance(raw, str):
        return raw
    text = raw.strip()
    try:
        if kind in ("float",):
            return float(text)
        if kind in ("int",):
            return int(text)
        if kind == "int | None":
            return None if text.lower() in ("", "none") else int(text)
        if kind == "bool":
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
    except ValueError:
        raise LLMConfigError(f"{where}: expected {kind}, got {raw!r}") from None
    return text or None if kind == "str | None" else text


def env_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The knobs set in the environment (``OPENAI_API_KEY`` also supplies the key)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, var in ENV_VARS.items():
        if env.get(var):
            values[name] = _convert(name, env[var], var)
    if "api_key" not in values and env.get("OPENAI_API_KEY"):
        values["api_key"] = env["OPENAI_API_KEY"]
    return values


def resolve_config(
    flags: Mapping[str, Any] | None = None,
    file_values: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LLMConfig:
    """Flags over the run config's ``llm`` table over the environment over the defaults.

    ``None`` in ``flags`` means "not given". Unknown keys in the run config are an error that
    names the key (a typo must not silently fall back to a default).
    """
    values = env_values(environ)
    for key, raw in (file_values or {}).items():
        if key not in _FIELDS:
            raise LLMConfigError(
                f"run config [llm]: unknown key {key!r}; known: {', '.join(sorted(_FIELDS))}")
        values[key] = _convert(key, raw, f"run config [llm].{key}")
    for key, value in (flags or {}).items():
        if key not in _FIELDS:
            raise LLMConfigError(f"unknown LLM setting {key!r}")
        if value is not None:
            values[key] = value
    values.setdefault("model", "")
    return LLMConfig(**values)


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``llm`` table of a TOML or YAML run config (or the whole file if it has none)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LLMConfigError(f"{p}: cannot read the LLM config: {exc.strerror}") from None
    data: Any
    try:
        if p.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # any parse error becomes one line naming the file
        raise LLMConfigError(f"{p}: not a valid config file: {exc}") from None
    if not isinstance(data, dict):
        raise LLMConfigError(f"{p}: expected a table of settings")
    table = data.get("llm", data)
    if not isinstance(table, dict):
        raise LLMConfigError(f"{p}: [llm] must be a table of settings")
    return dict(table)
