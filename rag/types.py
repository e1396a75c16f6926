"""The plain records that travel between stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article, its text exactly as loaded (never altered afterwards)."""

    id: str
    title: str
    text: str
    url: str = ""
    source: str = ""
    date: str = ""  # ISO 8601, "YYYY-MM-DD" or "YYYY-MM-DDThh:mm:ss"; "" when unknown
    author: str = ""
    origin: str = ""  # the file (and line) the article came from


@dataclass(frozen=True)
class Span:
    """A [start, end) range of characters in an article's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article.

    ``article_text[start:end] == text``; ``sentences`` are absolute spans in the article.
    """

    id: str  # "<article id>:<ordinal>"
    article_id: str
    ordinal: int
    text: str
    start: int
    end: int
    sentences: tuple[Span, ...]
    title: str = ""
    source: str = ""
    date: str = ""
    url: str = ""


@dataclass(frozen=True)
class Sentence:
    """One sentence quoted from an article, with its absolute offsets."""

    text: str
    start: int
    end: int


@dataclass
class Hit:
    """One retrieved chunk with its scores and the sentence that best matches the query."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None
    best_sentence: Sentence | None = None
    duplicates: list[str] = field(default_factory=list)  # chunk ids collapsed into this hit
