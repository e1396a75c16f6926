import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.news.documents import load
from rag.text.chunking import ChunkingParams, chunk_article
from rag.types import Article
from tests.conftest import ENRICHMENT_SENTENCE, SEED_FILE, SHARED_DATA


def seed_article() -> Article:
    return next(iter(load([SEED_FILE])))


def assert_offsets_round_trip(article: Article, chunks) -> None:
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
        for sentence in chunk.sentences:
            assert chunk.start <= sentence.start < sentence.end <= chunk.end


def test_seed_chunks_carry_metadata_and_exact_offsets():
    article = seed_article()
    chunks = chunk_article(article)
    assert_offsets_round_trip(article, chunks)
    assert [c.id for c in chunks] == [f"{article.id}:{i}" for i in range(len(chunks))]
    assert all(c.title == article.title and c.article_id == article.id for c in chunks)
    holding = [c for c in chunks if ENRICHMENT_SENTENCE in c.text]
    assert holding, "the enrichment sentence must sit whole inside a chunk"
    sentence = next(
        s for s in holding[0].sentences if ENRICHMENT_SENTENCE in article.text[s.start : s.end]
    )
    assert article.text[sentence.start : sentence.end].endswith("غير قابل للتفاوض.")


def test_chunks_cover_every_sentence_and_respect_the_target_size():
    article = seed_article()
    params = ChunkingParams(target_chars=300, overlap_sentences=1)
    chunks = chunk_article(article, params)
    covered = {s for c in chunks for s in c.sentences}
    all_sentences = {
        s for c in chunk_article(article, ChunkingParams(target_chars=50)) for s in c.sentences
    }
    assert covered == all_sentences
    for chunk in chunks:
        assert len(chunk.text) <= 300 or len(chunk.sentences) == 1


def test_overlap_repeats_the_last_sentence():
    article = seed_article()
    chunks = chunk_article(article, ChunkingParams(target_chars=400, overlap_sentences=1))
    repeated = [a.sentences[-1] == b.sentences[0] for a, b in zip(chunks, chunks[1:], strict=False)]
    assert any(repeated)
    no_overlap = chunk_article(article, ChunkingParams(target_chars=400, overlap_sentences=0))
    assert all(a.end <= b.start for a, b in zip(no_overlap, no_overlap[1:], strict=False))


def test_a_run_on_paragraph_is_cut_at_spaces():
    text = " ".join(["كلمة"] * 500)  # 2,499 characters, no full stop
    article = Article(id="x", title="", text=text)
    chunks = chunk_article(article, ChunkingParams(target_chars=300, max_sentence_chars=300))
    assert_offsets_round_trip(article, chunks)
    assert all(len(c.text) <= 300 for c in chunks)
    assert not any(c.text.startswith(" ") or c.text.endswith(" ") for c in chunks)


@pytest.mark.parametrize(
    "bad", [{"target_chars": 10}, {"overlap_sentences": -1}, {"max_sentence_chars": 0}]
)
def test_params_are_validated(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ChunkingParams(**bad)


def test_offsets_round_trip_on_real_news():
    import gzip
    import itertools
    import json

    from rag.news.documents import make_article

    with gzip.open(SHARED_DATA / "news" / "saudinewsnet-2015.jsonl.gz", "rt") as lines:
        for line in itertools.islice(lines, 200):
            record = json.loads(line)
            if record.get("content", "").strip():
                article = make_article(record)
                assert_offsets_round_trip(article, chunk_article(article))


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from('ab ج.؟!\n“”"«»0123456789'), max_size=600),
    st.integers(50, 400),
)
def test_offsets_always_round_trip(text, target):
    article = Article(id="p", title="", text=text)
    assert_offsets_round_trip(
        article, chunk_article(article, ChunkingParams(target, 1, max(50, target)))
    )
