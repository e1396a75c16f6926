"""Sentence-aware chunking: runs of whole sentences, with exact offsets into the article."""

from __future__ import annotations

from dataclasses import dataclass

from rag.text.sentences import split_sentences
from rag.types import Article, Chunk, Span

# chosen by measurement (docs/benchmarks.md, "Chunk size and headlines")
DEFAULT_TARGET_CHARS = 600


@dataclass(frozen=True)
class ChunkingParams:
    """How articles are cut. Sizes are in characters of the original text.

    ``target_chars``: a chunk grows by whole sentences up to this size.
    ``overlap_sentences``: trailing sentences of a chunk repeated at the start of the next.
    ``max_sentence_chars``: a longer "sentence" (a run-on paragraph) is cut at spaces, which
    keeps every chunk well under the encoder's 512-token window.
    """

    target_chars: int = DEFAULT_TARGET_CHARS
    overlap_sentences: int = 1
    max_sentence_chars: int = 600

    def __post_init__(self):
        if self.target_chars < 50:
            raise ValueError(f"target_chars must be at least 50, got {self.target_chars}")
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {self.overlap_sentences}")
        if self.max_sentence_chars < 50:
            raise ValueError(
                f"max_sentence_chars must be at least 50, got {self.max_sentence_chars}"
            )


def chunk_article(article: Article, params: ChunkingParams = ChunkingParams()) -> list[Chunk]:
    """The chunks of ``article``, in order; ``article.text[c.start:c.end] == c.text``."""
    sentences = _bounded_sentences(article.text, params.max_sentence_chars)
    groups = _group(sentences, params)
    return [_make_chunk(article, ordinal, group) for ordinal, group in enumerate(groups)]


def _bounded_sentences(text: str, max_chars: int) -> list[Span]:
    spans: list[Span] = []
    for span in split_sentences(text):
        spans.extend(_cut_long(text, span, max_chars))
    return spans


def _cut_long(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut a span longer than ``max_chars`` at the last space before the limit."""
    pieces = []
    start = span.start
    while span.end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        if cut == -1:
            cut = start + max_chars
        pieces.append(Span(start, cut))
        start = cut
        while start < span.end and text[start].isspace():
            start += 1
    if start < span.end:
        pieces.append(Span(start, span.end))
    return pieces


def _group(sentences: list[Span], params: ChunkingParams) -> list[list[Span]]:
    groups: list[list[Span]] = []
    current: list[Span] = []
    for sentence in sentences:
        if current and sentence.end - current[0].start > params.target_chars:
            groups.append(current)
            current = _overlap(current, params)
            if current and sentence.end - current[0].start > params.target_chars:
                current = []  # no room for the overlap beside this sentence
        current.append(sentence)
    if current and (not groups or current[-1] != groups[-1][-1]):
        groups.append(current)
    return groups


def _overlap(previous: list[Span], params: ChunkingParams) -> list[Span]:
    """The trailing sentences to repeat (never the whole previous chunk)."""
    if params.overlap_sentences == 0 or len(previous) <= 1:
        return []
    tail = previous[-params.overlap_sentences :]
    return [] if tail == previous else list(tail)


def _make_chunk(article: Article, ordinal: int, group: list[Span]) -> Chunk:
    start, end = group[0].start, group[-1].end
    return Chunk(
        id=f"{article.id}:{ordinal}",
        article_id=article.id,
        ordinal=ordinal,
        text=article.text[start:end],
        start=start,
        end=end,
        sentences=tuple(group),
        title=article.title,
        source=article.source,
        date=article.date,
        url=article.url,
    )
