"""Prompt templates, kept as files in ``prompts/`` and filled with ``$name`` placeholders.

The package ships them as ``rag/data/prompts`` (a link to ``prompts/`` in a checkout).

``$name`` (``string.Template``) rather than ``{name}``: sources quoted into a prompt often
contain braces, and must never be able to inject a placeholder of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from rag.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "data" / "prompts"  # shipped in the wheel
LANGUAGE_NAMES = {"ar": "Arabic", "en": "English"}


@dataclass(frozen=True)
class Prompts:
    """Reads templates from one folder."""

    folder: Path = PROMPTS_DIR

    def text(self, name: str) -> str:
        path = self.folder / f"{name}.md"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(f"prompt template {path} cannot be read: {err.strerror}") from None

    def render(self, name: str, **values: str) -> str:
        return Template(self.text(name)).substitute(values)

    def localized(self, name: str, language: str, **values: str) -> str:
        """``name.<language>.md``, falling back to English; ``values`` filled in."""
        path = self.folder / f"{name}.{language}.md"
        text = self.text(f"{name}.{language}" if path.exists() else f"{name}.en")
        return Template(text).substitute(values) if values else text
