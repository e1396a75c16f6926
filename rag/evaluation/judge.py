"""An optional LLM judge (``rag eval --judge MODEL``): correctness against the gold answer
and faithfulness to the cited sources, with the prompt in ``prompts/judge.md``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rag.answers.generation import GenerationError, Generator
from rag.answers.prompts import Prompts
from rag.types import Answer

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass
class Judge:
    generator: Generator
    prompts: Prompts = Prompts()

    def grade(self, question: str, golds: tuple[str, ...], answer: Answer) -> dict[str, float]:
        """``judge_correct`` and ``judge_faithful`` (0 or 1); empty when the judge fails."""
        sources = "\n".join(f"[{c.marker}] {c.quote}" for c in answer.citations)
        prompt = self.prompts.render(
            "judge", question=question, gold="\n".join(golds) or "(none)",
            answer=answer.text, sources=sources or "(none)",
        )  # fmt: skip
        try:
            reply, _ = self.generator.complete([{"role": "user", "content": prompt}])
        except GenerationError:
            return {}
        verdict = _parse(reply)
        if verdict is None:
            return {}
        return {
            "judge_correct": float(verdict.get("correct") is True),
            "judge_faithful": float(verdict.get("faithful") is True),
        }


def _parse(reply: str) -> dict | None:
    found = _JSON_OBJECT.search(reply or "")
    if not found:
        return None
    try:
        verdict = json.loads(found.group(0))
    except json.JSONDecodeError:
        return None
    return verdict if isinstance(verdict, dict) else None
