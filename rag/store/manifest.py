"""An index folder's manifest: what built it (embedder, chunking) and its format version."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
import zlib
from pathlib import Path

from rag.errors import (
    IndexExistsError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    RagError,
)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def manifest_for(embedder: dict, chunking: dict, **options) -> dict:
    """The manifest of a new index."""
    return {"embedder": embedder, "chunking": chunking, **options}


def create_manifest(folder: Path, manifest: dict) -> dict:
    """Write a new index's manifest; exactly one of two processes creating it at once wins."""
    manifest = {"format_version": FORMAT_VERSION, "uid": uuid.uuid4().hex, **manifest}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _create_json(folder / MANIFEST, manifest)
    except FileExistsError:
        raise IndexExistsError(f"{folder} already holds an index; open it, or rebuild it") from None
    except OSError as err:
        reason = err.strerror or err
        raise IndexWriteError(f"cannot create an index in {folder}: {reason}") from None
    return manifest


def read_manifest(folder: Path) -> dict:
    """The manifest of the index in ``folder``, checked for a format this code reads."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        raise IndexNotFoundError(
            f"no index in {folder}: build one with `rag ingest PATH --index-dir {folder}`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RagError(f"{path} is damaged ({err}); rebuild the index with --rebuild") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{folder} has index format {manifest.get('format_version')}, this version reads "
            f"format {FORMAT_VERSION}; rebuild it with `rag ingest ... --rebuild`"
        )
    return manifest


def check_compatible(folder: Path, manifest: dict, embedder: dict, **settings) -> None:
    """Refuse to mix vectors from another model, or chunks cut another way."""
    recorded = manifest["embedder"]
    for key in ("model", "weights_sha256", "dimension"):
        if recorded.get(key) != embedder.get(key):
            raise IndexMismatchError(
                f"the index in {folder} was built with embedding model "
                f"{describe_model(recorded)}, not {describe_model(embedder)}; use the same "
                "model, or rebuild the index with `rag ingest PATH --rebuild`"
            )
    for key, value in settings.items():
        if manifest.get(key) != value:
            raise IndexMismatchError(
                f"the index in {folder} was built with {key}={manifest.get(key)!r}, "
                f"not {value!r}; rebuild it with `rag ingest PATH --rebuild`"
            )


def describe_model(embedder: dict) -> str:
    weights = str(embedder.get("weights_sha256"))[:12]
    return f"{embedder.get('model')!r} (weights {weights}, dimension {embedder.get('dimension')})"


def index_uid(folder: Path, manifest: dict) -> str:
    """Names an index to an external vector store (older indexes: by their path)."""
    return manifest.get("uid") or uuid.uuid5(uuid.NAMESPACE_URL, str(folder.resolve())).hex


def read_json(path: Path) -> dict:
    """The JSON object in ``path``; ``{}`` when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def checksum(path: Path) -> str:
    """A CRC-32 of the file's bytes (~7 GB/s: cheap enough to check on every open)."""
    crc = 0
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return f"{crc:08x}"


def verify_checksum(path: Path, expected: str | None) -> None:
    """``ValueError`` when ``path`` does not hold what was checksummed (``None``: an index
    of an earlier version, which recorded none)."""
    if expected is not None and checksum(path) != expected:
        raise ValueError(f"{Path(path).name} does not match its checksum")


def write_json_atomically(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def _create_json(path: Path, data: dict) -> None:
    """Write ``path`` complete, or raise ``FileExistsError`` if it is already there."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".new", delete=False, encoding="utf-8"
    ) as temporary:
        temporary.write(json.dumps(data, indent=2, ensure_ascii=False))
    try:
        os.link(temporary.name, path)
    finally:
        os.unlink(temporary.name)
