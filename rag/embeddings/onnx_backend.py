"""An ONNX export of a sentence-transformers model (fp32 or int8), run by onnxruntime on the CPU.

The fastest way to run e5-small on these machines (see docs/benchmarks.md). Texts go through
the model one at a time: int8 quantisation of activations is dynamic, with one scale per
input tensor, so in a batch a text's vector would depend on its neighbours (cosine ~0.997
between the same text alone and batched); one at a time, a text always gets the same vector,
there is no padding, and it was also the fastest (31 passages/s against 27 in batches of 32).

A long list of passages (an ingest batch) runs on a second session with one thread per run,
fed by one Python thread per core: small matrices keep two threads of one run waiting on
each other, two runs side by side do not (17 passages/s against 14 on two cores, the same
vectors to the bit). A single text (a question) keeps every core on its one run, the faster
way for one text (8 ms against 13). The second session costs a second load, so it is made
only when such a list first comes.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.embeddings.base import (
    PrefixedEmbedder,
    available_cpus,
    lower_priority,
    sha256_of_files,
)
from rag.errors import EmbedderError

MAX_TOKENS = 512
EXPORT_RECORD = "rag_export.json"  # rag.embeddings.onnx_export writes it
PARALLEL_MIN_TEXTS = 64  # below this, a second session's load is not worth it


def weights_file(model_file: Path) -> Path:
    """Where an export keeps the weights of ``model_file``'s graph (see ``onnx_export``)."""
    return model_file.with_name(model_file.name + ".data")


class OnnxEmbedder(PrefixedEmbedder):
    """An ONNX model file with a ``tokenizer.json`` beside it, as ``onnx_export`` writes.

    >>> embedder = OnnxEmbedder(folder / "model_int8.onnx", alias="e5-small-int8")  # doctest: +SKIP
    >>> embedder.embed_queries(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    backend = "onnxruntime"

    def __init__(
        self,
        model_file: Path,
        *,
        alias: str,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        threads: int | None = None,
    ):
        self.model_file = Path(model_file)
        self.folder = self.model_file.parent
        self._alias = alias
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self._threads = threads

    @property
    def model(self) -> str:
        return self._alias

    @cached_property
    def _session(self):
        return self._new_session(self._cores)

    @cached_property
    def _parallel_session(self):
        return self._new_session(1)

    @property
    def _cores(self) -> int:
        return self._threads or available_cpus()

    def _new_session(self, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # errors only
        # idle threads sleep instead of spinning: a server runs several questions at once,
        # and a spinning thread takes the core another question's work needs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(
                str(self.model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise EmbedderError(f"cannot load {self.model_file}: {err}") from err

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        return tokenizer

    @cached_property
    def dimension(self) -> int:
        """From the export's record when there is one: an ingest then loads only the session
        it embeds with."""
        try:
            return int(self._export_record["dimension"])
        except (KeyError, TypeError, ValueError):
            return int(self._embed(["x"], "")[0].shape[0])

    @cached_property
    def weights_sha256(self) -> str:
        """For an export with its weights beside the graph: the digest of the model as one
        file, as long as the two files are still the ones exported, so an index built before
        the weights moved out keeps matching them."""
        weights = weights_file(self.model_file)
        if not weights.exists():
            return sha256_of_files([self.model_file])
        files = sha256_of_files([self.model_file, weights])
        record = self._export_record
        return record["weights_sha256"] if record.get("files_sha256") == files else files

    @cached_property
    def _export_record(self) -> dict:
        try:
            record = json.loads((self.folder / EXPORT_RECORD).read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        prefixed = [prefix + text for text in texts]
        if self._side_by_side(len(prefixed)):
            session = self._parallel_session
            with ThreadPoolExecutor(self._cores, initializer=lower_priority) as pool:
                vectors = list(pool.map(lambda text: self._run(session, text), prefixed))
        else:
            vectors = [self._run(self._session, text) for text in prefixed]
        return np.concatenate(vectors)

    def _side_by_side(self, count: int) -> bool:
        """Whether ``count`` texts go to the one-thread session, several runs at a time: a
        long list, or any list once that session is loaded (an ingest's last, short batch
        then does not load the other session too)."""
        loaded = "_parallel_session" in vars(self)  # a cached_property, once computed
        return self._cores > 1 and count > 1 and (count >= PARALLEL_MIN_TEXTS or loaded)

    def _run(self, session, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        feeds = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        }
        return session.run(None, feeds)[0]
