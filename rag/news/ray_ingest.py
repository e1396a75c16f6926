"""Ingest as a Ray Data pipeline: loading and chunking in Ray tasks, embedding in a pool of
actors that each load the model once; the driver writes what comes back into the store.

    rag ingest PATH --ray            # a local Ray instance on this machine
    rag ingest PATH --ray HOST:PORT  # join a running cluster (``rag-news`` installed on it)

The result is the index a single-process ingest builds: the driver keeps the input order
and makes the same decisions (new, changed, unchanged, duplicate), and every article is
written whole, replacing any earlier copy, so a task Ray retries (an actor that died) never
leaves a chunk twice. Unchanged articles are recognised in the workers and not embedded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np

from rag.embeddings import Embedder, load_embedder
from rag.errors import IndexMismatchError, missing_extra
from rag.news import documents
from rag.news.documents import LoadFailure
from rag.news.ingest import (
    Indexer,
    IngestReport,
    bm25_tokens,
    encoder_texts,
    ingest_records,
    split_vectors,
)
from rag.settings import Settings
from rag.store import PreparedArticle
from rag.text.chunking import ChunkingParams, chunk_article
from rag.types import Article, Chunk, Span

log = logging.getLogger(__name__)

ARTICLES_PER_EMBED_BATCH = 16
# A block goes to one actor whole: one large JSONL file read as one block kept a single
# actor busy while the others idled. Small blocks, cut as the file is read, spread it.
BLOCK_BYTES = 1 << 20
# Loading and chunking are light next to embedding: the actors take most of each CPU and
# leave room for the tasks that feed them (whole CPUs for both would deadlock a small node).
TASK_CPUS = 0.25
ACTOR_CPUS = 0.75


def embedder_factory(settings: Settings, model: str) -> Callable[[], Embedder]:
    """What each embedding actor calls once: the model, one thread per actor."""
    return partial(
        load_embedder,
        model,
        models_dir=settings.models_dir,
        query_prefix=settings.query_prefix,
        passage_prefix=settings.passage_prefix,
        batch_size=settings.embedding_batch_size,
        threads=1,
    )


def ingest_with_ray(
    paths: Iterable[str | Path],
    indexer: Indexer,
    make_embedder: Callable[[], Embedder],
    *,
    address: str | None = None,
    actors: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_failure: Callable[[LoadFailure], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` through Ray; ``address`` ``None`` starts a local instance."""
    ray = _start_ray(address)
    try:
        records = _pipeline_records(ray, paths, indexer, make_embedder, actors)
        return ingest_records(records, indexer, on_progress=on_progress, on_failure=on_failure)
    finally:
        if address is None:
            ray.shutdown()


def _start_ray(address: str | None):
    try:
        import ray
        from ray.data import DataContext
    except ImportError:
        raise missing_extra("cluster", "ingest with --ray") from None

    for name in ("ray", "ray.data"):  # our progress bar and summary say what matters
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ core, to stderr
    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # the driver decides in input order
    context.target_max_block_size = BLOCK_BYTES
    context.enable_progress_bars = False  # ours counts articles written
    context.print_on_execution_start = False
    return ray


def _pipeline_records(ray, paths, indexer: Indexer, make_embedder, actors) -> Iterator:
    files, missing = _files(paths)
    yield from missing
    if not files:
        return
    known = ray.put(indexer.store.content_keys())
    expected = indexer.embedder.describe()
    dataset = (
        ray.data.from_items([{"path": str(f)} for f in files], override_num_blocks=len(files))
        .flat_map(partial(_load_file, known=known), num_cpus=TASK_CPUS)
        .map_batches(
            partial(
                _chunk_rows,
                chunking=indexer.chunking,
                embed_titles=indexer.embed_titles,
                stemming=indexer.stemming,
            ),
            batch_format="pandas",
            num_cpus=TASK_CPUS,
        )
        .map_batches(
            # the factory travels inside the class, not as a constructor argument in the
            # object store, so that a restarted actor can always rebuild itself
            type("EmbedActor", (_EmbedActor,), {"make_embedder": staticmethod(make_embedder)}),
            batch_size=ARTICLES_PER_EMBED_BATCH,
            batch_format="pandas",
            # all actors from the start: the pool would otherwise grow only under a backlog
            compute=ray.data.ActorPoolStrategy(
                size=actors or max(1, int(ray.available_resources().get("CPU", 1)))
            ),
            num_cpus=ACTOR_CPUS,
        )  # Ray Data restarts an actor that dies and runs its batch again (its default)
    )
    for row in dataset.iter_rows():
        yield _record(row, expected)


def _files(paths) -> tuple[list[Path], list[LoadFailure]]:
    files, missing = [], []
    for path in map(Path, paths):
        if not path.exists():
            missing.append(LoadFailure(str(path), "no such file or folder"))
        elif path.is_dir():
            files += documents.walk(path)
        else:
            files.append(path)
    return files, missing


def _load_file(row: dict, known) -> list[dict]:
    """Ray task: the articles (or failures) of one file, each marked unchanged or not."""
    import ray

    known = ray.get(known) if isinstance(known, ray.ObjectRef) else known
    rows = []
    for record in documents.load_file(Path(row["path"])):
        if isinstance(record, LoadFailure):
            failure = json.dumps(asdict(record))
            rows.append({"failure": failure, "article": "", "key": "", "unchanged": False})
            continue
        key = documents.content_key(record.text)
        rows.append({
            "failure": "", "article": json.dumps(asdict(record), ensure_ascii=False),
            "key": key, "unchanged": known.get(record.id) == key,
        })  # fmt: skip
    return rows


def _chunk_rows(batch, chunking: ChunkingParams, embed_titles: bool, stemming: bool):
    """Ray task: chunks, encoder texts and BM25 tokens of the articles still to embed."""
    chunks, passages, tokens = [], [], []
    for i in range(len(batch)):
        article = batch["article"].iloc[i]
        parts = []
        if article and not bool(batch["unchanged"].iloc[i]):
            parts = chunk_article(Article(**json.loads(article)), chunking)
        chunks.append(json.dumps([_chunk_dict(c) for c in parts], ensure_ascii=False))
        # the chunks only: searchable at once, the sentences embedded after (sentence_pass)
        passages.append(json.dumps(encoder_texts(parts, embed_titles, False), ensure_ascii=False))
        words = [bm25_tokens(c, embed_titles, stemming) for c in parts]
        tokens.append(json.dumps(words, ensure_ascii=False))
    return batch.assign(chunks=chunks, passages=passages, tokens=tokens)


class _EmbedActor:
    """Ray actor: loads the model once, then embeds batch after batch."""

    make_embedder: Callable[[], Embedder]

    def __init__(self):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.embedder = self.make_embedder()
        self.weights = self.embedder.describe().get("weights_sha256", "")

    def __call__(self, batch):
        texts = [json.loads(p) for p in batch["passages"]]
        flat = [t for group in texts for t in group]
        vectors = self.embedder.embed_passages(flat) if flat else np.zeros((0, 1), np.float32)
        out, offset = [], 0
        for group in texts:
            out.append(np.ascontiguousarray(vectors[offset : offset + len(group)], np.float32))
            offset += len(group)
        return batch.assign(
            vectors=[v.tobytes() for v in out],
            dimension=[v.shape[1] if len(v) else 0 for v in out],
            weights=self.weights,
        )


def _record(row: dict, expected: dict) -> Article | PreparedArticle | LoadFailure:
    if row["failure"]:
        return LoadFailure(**json.loads(row["failure"]))
    article = Article(**json.loads(row["article"]))
    chunks = [_chunk_from_dict(c) for c in json.loads(row["chunks"])]
    if not chunks:  # unchanged in the index: the driver confirms and counts it
        return article
    if row["weights"] != expected.get("weights_sha256", ""):
        raise IndexMismatchError(
            f"the Ray workers embedded with other weights ({row['weights'][:12]}) than the "
            f"index's ({str(expected.get('weights_sha256'))[:12]}); install the same model there"
        )
    vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(-1, row["dimension"])
    chunk_vectors, sentence_vectors = split_vectors(chunks, vectors)
    return PreparedArticle(
        article=article,
        content_key=row["key"],
        chunks=chunks,
        vectors=chunk_vectors,
        tokens=json.loads(row["tokens"]),
        sentence_vectors=sentence_vectors,
    )


def _chunk_dict(chunk: Chunk) -> dict:
    data = asdict(chunk)
    data["sentences"] = [[s.start, s.end] for s in chunk.sentences]
    return data


def _chunk_from_dict(data: dict) -> Chunk:
    return Chunk(**{**data, "sentences": tuple(Span(s, e) for s, e in data["sentences"])})
