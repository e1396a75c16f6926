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

    def sentence_quotes(self) -> list[Sentence]:
        """The chunk's sentences as quotes with absolute offsets."""
        return [
            Sentence(self.text[s.start - self.start : s.end - self.start], s.start, s.end)
            for s in self.sentences
        ]


@dataclass(frozen=True)
class Sentence:
    """One sentence quoted from an article, with its absolute offsets (and a match score)."""

    text: str
    start: int
    end: int
    score: float = 0.0


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
    sentences: list[Sentence] = field(default_factory=list)  # scored against the query
    duplicates: list[str] = field(default_factory=list)  # chunk ids collapsed into this hit

    @property
    def dense_reciprocal_rank(self) -> float:
        """1 / its rank among the dense candidates (0 when they did not hold it)."""
        return 1.0 / self.dense_rank if self.dense_rank else 0.0

    @property
    def bm25_reciprocal_rank(self) -> float:
        """1 / its rank among the BM25 candidates (0 when they did not hold it)."""
        return 1.0 / self.bm25_rank if self.bm25_rank else 0.0


@dataclass
class Quote:
    """A sentence quoted from an article: ``article_text[start:end] == quote``."""

    quote: str
    start: int
    end: int


@dataclass
class Citation:
    """A numbered source of an answer: one article, and the sentence of it that supports the
    answer (``more``: the other sentences of it the answer quotes, in order)."""

    marker: int  # the n of [n] in the answer text
    article_id: str
    chunk_id: str
    title: str
    source: str
    date: str
    url: str
    quote: str  # verbatim from the article
    start: int  # article_text[start:end] == quote
    end: int
    more: list[Quote] = field(default_factory=list)

    def quotes(self) -> list[Quote]:
        """Every sentence quoted from this source, the citation's own first."""
        return [Quote(self.quote, self.start, self.end), *self.more]

    @classmethod
    def quoting(cls, marker: int, chunk: Chunk, sentence: Sentence) -> Citation:
        """Citation ``marker`` of ``sentence`` (absolute offsets) in ``chunk``'s article."""
        return cls(marker, chunk.article_id, chunk.id, chunk.title, chunk.source, chunk.date,
                   chunk.url, sentence.text, sentence.start, sentence.end)  # fmt: skip


@dataclass
class Claim:
    """One sentence of an answer, the markers it carries, and whether the sources back it."""

    text: str
    markers: list[int]
    supported: bool
    support: float = 0.0  # the best similarity to a sentence of a cited source


@dataclass
class Answer:
    """What every front end shows: the answer, its citations, and how it was made."""

    question: str
    text: str
    citations: list[Citation]
    uncited: list[Citation]  # retrieved sources that the answer does not cite
    claims: list[Claim]
    question_language: str
    answer_language: str
    abstained: bool
    mode: str  # "extractive", "generated", or "conversation" (a greeting: no search)
    model: str = ""  # the language model that wrote a generated answer
    # extractive: the probability that the retrieved passages answer (rag.answers.abstention);
    # generated: the best support of a claim by a cited sentence
    confidence: float = 0.0
    standalone_question: str = ""  # the question as searched (follow-ups rewritten)
    notes: list[str] = field(default_factory=list)  # shown to the user, e.g. a fallback
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    @classmethod
    def from_dict(cls, data: dict) -> Answer:
        """The inverse of ``dataclasses.asdict``: for answers kept as JSON (web state, API)."""
        fields = dict(data)
        fields["citations"] = [_citation(c) for c in data["citations"]]
        fields["uncited"] = [_citation(c) for c in data["uncited"]]
        fields["claims"] = [Claim(**c) for c in data["claims"]]
        return cls(**fields)


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some sources and/or a date range (inclusive, ISO dates)."""

    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    exclude_articles: tuple[str, ...] = ()  # e.g. to ask a question without its article

    def __post_init__(self):
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and not is_iso_date(value):
                raise ValueError(f"{name} must be a date like 2015-07-21, got {value!r}")


def is_iso_date(value: str) -> bool:
    """A whole ISO date ("2015-07-21") or date and time ("2015-07-21T10:00:00"), nothing
    after it."""
    from datetime import date, datetime

    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _citation(data: dict) -> Citation:
    return Citation(**{**data, "more": [Quote(**q) for q in data.get("more", [])]})
