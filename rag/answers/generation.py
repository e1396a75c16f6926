"""Answer generation through litellm, to whatever model the user configured.

A litellm ``Router`` gives timeouts, retries and fallback models. Any failure that survives
them is raised as ``GenerationError``; the answerer then falls back to the extractive answer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger(__name__)

PRIMARY = "answer-model"


class GenerationError(RagError):
    """Every configured language model failed."""


@dataclass(frozen=True)
class LLMConfig:
    """Which language model(s) to call. ``model`` is a litellm name such as
    ``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``, ``ollama/qwen2.5``, or
    ``openai/<name>`` with ``api_base`` for any OpenAI-compatible server."""

    model: str
    api_base: str = ""
    api_key: str = field(default="", repr=False)
    fallbacks: tuple[str, ...] = ()
    timeout: float = Settings.llm_timeout
    retries: int = Settings.llm_retries
    temperature: float = Settings.llm_temperature
    max_tokens: int = 600

    def __post_init__(self):
        if not self.model.strip():
            raise ValueError("llm model must not be empty")
        if self.timeout <= 0:
            raise ValueError(f"llm timeout must be positive, got {self.timeout}")
        if self.retries < 0:
            raise ValueError(f"llm retries must be >= 0, got {self.retries}")


class Generator:
    """Calls the configured model (and its fallbacks), streaming tokens as they come.

    >>> generator = Generator(LLMConfig("ollama/qwen2.5"))          # doctest: +SKIP
    >>> generator.complete([{"role": "user", "content": "Hi"}])      # doctest: +SKIP
    ('Hello!', 'ollama/qwen2.5')
    """

    def __init__(self, config: LLMConfig):
        self.config = config
        self._router = None

    @property
    def router(self):
        if self._router is None:
            self._router = _make_router(self.config)
        return self._router

    def complete(
        self, messages: list[dict], on_token: Callable[[str], None] | None = None
    ) -> tuple[str, str]:
        """The model's reply and the name of the model that wrote it."""
        try:
            if on_token is None:
                response = self.router.completion(model=PRIMARY, messages=messages)
                return _content(response), _model_of(response, self.config.model)
            return self._stream(messages, on_token)
        except GenerationError:
            raise
        except Exception as err:  # litellm raises many kinds; all mean "no answer"
            log.warning("language model call failed: %s", _describe(err))
            raise GenerationError(f"the language model failed: {_describe(err)}") from err

    def _stream(self, messages, on_token) -> tuple[str, str]:
        parts: list[str] = []
        model = self.config.model
        for chunk in self.router.completion(model=PRIMARY, messages=messages, stream=True):
            model = getattr(chunk, "model", None) or model
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta.content or ""
            if delta:
                parts.append(delta)
                on_token(delta)
        text = "".join(parts)
        if not text.strip():
            raise GenerationError("the language model returned an empty answer")
        return text, model


def _make_router(config: LLMConfig):
    # litellm fetches a price list from the internet at import unless told not to.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from litellm import Router

    litellm.suppress_debug_info = True
    names = [PRIMARY] + [f"fallback-{i}" for i in range(len(config.fallbacks))]
    models = [config.model, *config.fallbacks]
    model_list = []
    for name, model in zip(names, models, strict=True):
        params = {
            "model": model,
            "timeout": config.timeout,
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
        }
        if config.api_base:
            params["api_base"] = config.api_base
        if config.api_key:
            params["api_key"] = config.api_key
        model_list.append({"model_name": name, "litellm_params": params})
    return Router(
        model_list=model_list,
        fallbacks=[{PRIMARY: names[1:]}] if len(names) > 1 else [],
        num_retries=config.retries,
        timeout=config.timeout,
        retry_after=0,
    )


def _content(response) -> str:
    text = response.choices[0].message.content or ""
    if not text.strip():
        raise GenerationError("the language model returned an empty answer")
    return text


def _model_of(response, default: str) -> str:
    return getattr(response, "model", None) or default


def _describe(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__
