"""Assembles the core objects from ``Settings``: what every front end starts from."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from functools import cached_property
from pathlib import Path

from rag.answers.abstention import AbstentionModel
from rag.answers.answering import Answerer
from rag.answers.citations import CitationChecker
from rag.answers.digest import DigestMaker
from rag.answers.extractive import ExtractiveAnswerer
from rag.answers.generation import Generator, LLMConfig
from rag.answers.prompts import Prompts
from rag.answers.retrieval import Retriever
from rag.answers.selection import HitSelector
from rag.embeddings import DEFAULT_MODEL, Embedder, load_embedder
from rag.errors import IndexExistsError
from rag.news.ingest import Indexer, IngestReport, ingest
from rag.settings import Settings
from rag.store import IndexStore, vector_index_options
from rag.store.manifest import manifest_for
from rag.text.chunking import DEFAULT_TARGET_CHARS, ChunkingParams


class Pipeline:
    """Builds every core object for one ``Settings``, each made on demand: the embedder,
    the store, the indexer, the retriever, the answerer. The one place they are assembled;
    hand it an ``embedder`` already loaded to use that one (tests, benchmarks)."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None):
        self.settings = settings
        if embedder is not None:
            self.embedder = embedder  # the cached_property below is then never called

    def model_name(self) -> str:
        """The model asked for, else the one that built the index, else the default."""
        if self.settings.embedding_model:
            return self.settings.embedding_model
        if IndexStore.exists(self.settings.index_dir):
            return IndexStore.read_manifest(self.settings.index_dir)["embedder"]["model"]
        return DEFAULT_MODEL

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        return load_embedder(
            self.model_name(),
            models_dir=s.models_dir,
            query_prefix=s.query_prefix,
            passage_prefix=s.passage_prefix,
            batch_size=s.embedding_batch_size,
            threads=s.threads or None,
        )

    def open_store(self, *, check_model: bool = True) -> IndexStore:
        """The existing index, checked against the embedder (which this loads) unless
        ``check_model`` is false; the retriever and indexer check it when they are made."""
        store = IndexStore.open(self.settings.index_dir, vector_index_options(self.settings))
        if check_model:
            store.check_compatible(self.embedder.describe())
        return store

    def indexer(self, *, rebuild: bool = False, store: IndexStore | None = None) -> Indexer:
        """Writes into ``store`` if given, else into the settings' index (made if missing)."""
        store = store or open_or_create_store(self.settings, self.embedder, rebuild=rebuild)
        return Indexer(
            store=store,
            embedder=self.embedder,
            chunking=chunking_params(self.settings, store.manifest.get("chunking")),
            embed_titles=self.settings.embed_titles,
            stemming=self.settings.stemming,
        )

    def retriever(self, store: IndexStore | None = None) -> Retriever:
        s = self.settings
        if store is None:
            store = self.open_store()
        else:
            store.check_compatible(self.embedder.describe())
        return Retriever(
            store=store,
            embedder=self.embedder,
            k=s.top_k,
            candidates=s.candidates,
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            bm25_weight=s.bm25_weight,
            bm25_weight_cross_script=s.bm25_weight_cross_script,
            query_centering=s.query_centering,
            duplicate_threshold=s.duplicate_threshold,
            stemming=store.manifest.get("stemming", True),  # as the index was built
            embed_titles=store.manifest.get("embed_titles", True),
            rerank_by_sentence=s.rerank_by_sentence,
            rerank_pool=s.rerank_pool,
            sentence_weight=s.sentence_weight,
            selector=self.hit_selector(),
            time_aware=s.time_aware,
            as_of=date.fromisoformat(s.as_of) if s.as_of else None,
        )

    def hit_selector(self) -> HitSelector | None:
        return _bundled_or_file(self.settings.hit_selection, HitSelector.load)

    def generator(self) -> Generator | None:
        """The configured language model, or ``None`` for extractive answers."""
        s = self.settings
        if not s.llm_model:
            return None
        fallbacks = tuple(m.strip() for m in s.llm_fallbacks.split(",") if m.strip())
        return Generator(
            LLMConfig(
                model=s.llm_model,
                api_base=s.llm_api_base,
                api_key=s.llm_api_key,
                fallbacks=fallbacks,
                timeout=s.llm_timeout,
                retries=s.llm_retries,
                temperature=s.llm_temperature,
            )
        )

    def abstention_model(self) -> AbstentionModel | None:
        return _bundled_or_file(self.settings.abstention_model, AbstentionModel.load)

    def answerer(
        self, store: IndexStore | None = None, *, retriever: Retriever | None = None
    ) -> Answerer:
        """An answerer over ``retriever`` (shared with a search front end), else a new one."""
        s = self.settings
        retriever = retriever or self.retriever(store)
        return Answerer(
            retriever=retriever,
            extractive=ExtractiveAnswerer(
                max_sentences=s.answer_max_sentences,
                threshold_same_language=s.abstain_threshold,
                threshold_cross_language=s.abstain_threshold_cross_language,
                abstention=self.abstention_model(),
            ),
            checker=CitationChecker(
                self.embedder,
                threshold_same_language=s.support_threshold,
                threshold_cross_language=s.support_threshold_cross_language,
            ),
            generator=self.generator(),
            prompts=Prompts(s.prompts_dir),
            digest=DigestMaker(retriever.store),
        )

    def ensure_index(self, seeds: Path) -> IngestReport | None:
        """Build the index from ``seeds`` when there is none yet; ``None`` if there was one."""
        if IndexStore.exists(self.settings.index_dir):
            return None
        indexer = self.indexer()
        try:
            return ingest([seeds], indexer)
        finally:
            indexer.store.close()  # callers open their own store afterwards


def _bundled_or_file(choice: str, load):
    """A model setting: ``none``, ``bundled`` (the file in rag/data) or a file's path."""
    if choice == "none":
        return None
    return load() if choice == "bundled" else load(Path(choice))


def open_or_create_store(settings: Settings, embedder: Embedder, *, rebuild: bool = False):
    """The index in ``settings.index_dir``, created for ``embedder`` if there is none."""
    folder = settings.index_dir
    options = {"embed_titles": settings.embed_titles, "stemming": settings.stemming}
    vectors = vector_index_options(settings)
    if rebuild:
        IndexStore.remove(folder, vectors)
    if not IndexStore.exists(folder):
        manifest = manifest_for(embedder.describe(), asdict(chunking_params(settings)), **options)
        try:
            return IndexStore.create(folder, manifest, vectors)
        except IndexExistsError:
            pass  # another ingest created it a moment ago: write into that one
    store = IndexStore.open(folder, vectors)
    chunking = asdict(chunking_params(settings, store.manifest.get("chunking")))
    store.check_compatible(embedder.describe(), chunking=chunking, **options)
    return store


def chunking_params(settings: Settings, recorded: dict | None = None) -> ChunkingParams:
    """The settings' chunking. A target of 0 means the one ``recorded`` by an existing index
    (so an index cut at another size still takes new articles), else the default."""
    target = settings.chunk_target_chars or (recorded or {}).get("target_chars")
    return ChunkingParams(
        target_chars=target or DEFAULT_TARGET_CHARS,
        overlap_sentences=settings.chunk_overlap_sentences,
        max_sentence_chars=settings.max_sentence_chars,
    )
