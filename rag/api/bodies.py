"""The request bodies of the API (pydantic): each field bounded, unknown fields refused."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.answers.retrieval import Filters
from rag.api.errors import ApiError
from rag.text.question import MAX_QUESTION_CHARS

DAY = r"^\d{4}-\d{2}-\d{2}$"


AS_OF = "the day 'yesterday' counts from (an ISO date from 1000-01-01 to 9998-12-31)"


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, max_length=100)
    date_from: str | None = Field(None, description="ISO date, inclusive", pattern=DAY)
    date_to: str | None = Field(None, description="ISO date, inclusive", pattern=DAY)

    def to_filters(self) -> Filters:
        try:
            return Filters(tuple(self.sources), self.date_from, self.date_to)
        except ValueError as err:
            raise ApiError(422, "invalid_filters", str(err)) from None


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[Turn] = Field(default_factory=list, max_length=50)
    k: int | None = Field(None, ge=1, le=50)
    filters: FiltersIn | None = None
    language: Literal["ar", "en"] | None = None
    as_of: str | None = Field(None, description=AS_OF, pattern=DAY)
    stream: bool = False


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int | None = Field(None, ge=1, le=50)
    filters: FiltersIn | None = None
    as_of: str | None = Field(None, description=AS_OF, pattern=DAY)


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=2_000)
    content: str = Field(min_length=1)
    url: str = Field("", max_length=4_000)
    source: str = Field("", max_length=200)
    date: str = Field("", max_length=40)
    author: str = Field("", max_length=500)


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=4_000)
    interval: int | None = Field(None, ge=10, le=7 * 24 * 3600)


class ArticlesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    articles: list[ArticleIn] = Field(min_length=1, max_length=1_000)


class ContentPart(BaseModel):
    """An OpenAI content part; only ``text`` parts are read (images and the like ignored)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=50)
    text: str | None = Field(None, max_length=20_000)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = Field(None, max_length=100)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionIn(BaseModel):
    model: str = "rag"
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    model_config = ConfigDict(extra="allow")  # temperature etc. are accepted and ignored
