"""Loaders: files and folders of articles in, ``Article`` records (or load failures) out.

Supported: ``.txt``/``.md`` (first non-empty line is the title; an opening ``---`` block may
give ``source:``, ``date:``, ``url:``, ``author:``, ``title:``), ``.json`` (an object or an
array of objects), ``.jsonl`` and ``.jsonl.gz`` (one object a line), ``.html``/``.htm``
(main text extracted with trafilatura). Folders are walked recursively; hidden files are
ignored. Record fields: ``title``, ``content`` (or ``text``/``body``), ``url``, ``source``,
``date`` (or ``date_extracted``), ``author``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from rag.errors import DocumentError
from rag.text.arabic import normalize
from rag.types import Article

CONTENT_FIELDS = ("content", "text", "body")
DATE_FIELDS = ("date", "date_extracted")
SUFFIXES = (".txt", ".md", ".json", ".jsonl", ".jsonl.gz", ".html", ".htm")
_SPACES = re.compile(r"\s+")
TOO_DEEP = "JSON nested too deeply to be an article"
FRONT_MATTER_FIELDS = ("title", "source", "date", "url", "author")
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", re.S)
# Hard bounds, so that one write costs seconds whatever it holds (a 4.9 MB body held a core
# for over 20 minutes): the longest of SaudiNewsNet's 31,030 articles has 33,687 characters
# (the 99.9th percentile 14,547); a title, url, source, date or author is a line, not a text
MAX_ARTICLE_CHARS = 50_000
MAX_FIELD_CHARS = 4_000


@dataclass(frozen=True)
class LoadFailure:
    """A file or record that could not be read, and why (one line for the user)."""

    origin: str
    reason: str


def load(paths: Iterable[str | Path]) -> Iterator[Article | LoadFailure]:
    """Every article under ``paths``, in a stable order, with a failure for each bad input."""
    for path in paths:
        path = Path(path)
        if not path.exists():
            yield LoadFailure(str(path), "no such file or folder")
        elif path.is_dir():
            for file in walk(path):
                yield from load_file(file)
        else:
            yield from load_file(path)


def walk(folder: Path) -> Iterator[Path]:
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield file


def load_file(path: Path) -> Iterator[Article | LoadFailure]:
    """The articles of one file; a failure instead of each part that cannot be read."""
    name = path.name.lower()
    suffix = next((s for s in SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        yield LoadFailure(str(path), f"unsupported file type (supported: {', '.join(SUFFIXES)})")
        return
    try:
        if suffix in (".jsonl", ".jsonl.gz"):
            yield from _load_jsonl(path, compressed=suffix == ".jsonl.gz")
            return
        text = _read_text(path)
        if not text.strip():
            raise DocumentError("empty file")
        if suffix in (".txt", ".md"):
            yield _article_from_plain_text(text, str(path))
        elif suffix == ".json":
            yield from _load_json(text, str(path))
        else:
            yield article_from_html(text, str(path))
    except DocumentError as err:
        yield LoadFailure(str(path), str(err))
    except OSError as err:
        yield LoadFailure(str(path), f"cannot read: {err.strerror or err}")


def _read_text(path: Path) -> str:
    return _decode(path.read_bytes())


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(
            f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None


def _article_from_plain_text(text: str, origin: str) -> Article:
    fields, text = _front_matter(text.strip())
    if "title" in fields:
        return make_article({**fields, "content": text}, origin)
    lines = text.strip().split("\n", 1)
    title = lines[0].strip()
    body = lines[1].strip() if len(lines) > 1 else ""
    if not body:
        body, title = title, ""
    return make_article({**fields, "title": title, "content": body}, origin)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """The fields of a ``---`` block opening a text file (``source: …``, ``date: …``, one a
    line), and the text after it; no block, no fields."""
    block = _FRONT_MATTER.match(text)
    if block is None:
        return {}, text
    fields = {}
    for number, line in enumerate(block.group(1).split("\n"), start=2):
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not line.strip():
            continue
        if not colon or name not in FRONT_MATTER_FIELDS:
            raise DocumentError(
                f"line {number} of the front matter is not 'field: value' with a field among "
                f"{', '.join(FRONT_MATTER_FIELDS)}: {line.strip()[:60]!r}"
            )
        fields[name] = value.strip()
    return fields, text[block.end() :]


def _load_json(text: str, origin: str) -> Iterator[Article | LoadFailure]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"broken JSON at line {err.lineno} column {err.colno}: {err.msg}"
        raise DocumentError(message) from None
    except RecursionError:
        raise DocumentError(TOO_DEEP) from None
    if isinstance(data, dict):
        yield make_article(data, origin)
    elif isinstance(data, list):
        for position, record in enumerate(data):
            yield record_or_failure(record, f"{origin}[{position}]")
    else:
        raise DocumentError("JSON must be an object or an array of objects")


def _load_jsonl(path: Path, *, compressed: bool) -> Iterator[Article | LoadFailure]:
    opener = gzip.open if compressed else open
    found_any = False
    try:
        with opener(path, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                found_any = True
                origin = f"{path}:{number}"
                try:
                    record = json.loads(_decode(raw))
                except json.JSONDecodeError as err:
                    yield LoadFailure(origin, f"broken JSON: {err.msg} (column {err.colno})")
                    continue
                except RecursionError:
                    yield LoadFailure(origin, TOO_DEEP)
                    continue
                except DocumentError as err:
                    yield LoadFailure(origin, str(err))
                    continue
                yield record_or_failure(record, origin)
    except (gzip.BadGzipFile, EOFError) as err:
        yield LoadFailure(str(path), f"broken gzip file: {err}")
        return
    if not found_any:
        yield LoadFailure(str(path), "empty file")


def record_or_failure(record: object, origin: str) -> Article | LoadFailure:
    try:
        return make_article(record, origin)
    except DocumentError as err:
        return LoadFailure(origin, str(err))


def article_from_html(html: str, origin: str) -> Article:
    import trafilatura

    document = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    if document is None or not (document.text or "").strip():
        raise DocumentError("no article text found in the HTML")
    title = (document.title or "").strip()
    text = document.text.strip()
    if title and text.startswith(title):
        text = text[len(title) :].strip() or text
    record = {
        "title": title,
        "content": text,
        "url": document.url or "",
        "source": document.sitename or "",
        "date": document.date or "",
        "author": document.author or "",
    }
    return make_article(record, origin)


def make_article(record: object, origin: str = "") -> Article:
    """An ``Article`` from a dict of the supported fields; ``DocumentError`` if unusable."""
    if not isinstance(record, dict):
        raise DocumentError(f"expected a JSON object, got {type(record).__name__}")
    content_field = next((f for f in CONTENT_FIELDS if f in record), None)
    if content_field is None:
        raise DocumentError(f"no content field (expected one of: {', '.join(CONTENT_FIELDS)})")
    content = record[content_field]
    if not isinstance(content, str):
        raise DocumentError(f"'{content_field}' must be text, got {type(content).__name__}")
    content = content.strip()
    if not content:
        raise DocumentError(f"empty '{content_field}'")
    _check_length(content, content_field)
    url = _text_field(record, "url")
    raw_date = next((_text_field(record, f) for f in DATE_FIELDS if record.get(f)), "")
    return Article(
        id=article_id(url, content),
        title=_text_field(record, "title"),
        text=content,
        url=url,
        source=_text_field(record, "source"),
        date=normalize_date(raw_date),
        author=_text_field(record, "author"),
        origin=origin,
    )


def _text_field(record: dict, name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise DocumentError(f"'{name}' must be text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_FIELD_CHARS:
        raise DocumentError(f"'{name}' is {len(text):,} characters, over {MAX_FIELD_CHARS:,}")
    return text


def _check_length(content: str, field: str) -> None:
    """Refuse a body longer than ``MAX_ARTICLE_CHARS`` as written out: ligatures such as
    U+FDFA count as the 18 letters they stand for, as the encoder reads them."""
    expanded = len(content) if content.isascii() else len(unicodedata.normalize("NFKC", content))
    if expanded > MAX_ARTICLE_CHARS:
        written_out = "" if expanded == len(content) else " written out"
        raise DocumentError(
            f"'{field}' is {expanded:,} characters{written_out}, over the {MAX_ARTICLE_CHARS:,} "
            "an article may have; split it into parts"
        )


def article_id(url: str, content: str) -> str:
    """A stable id: from the url when there is one, else from the normalised content."""
    key = f"url:{url.strip()}" if url.strip() else f"content:{content_key(content)}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def content_key(content: str) -> str:
    """A fingerprint of the normalised content: equal for exact duplicates of one story."""
    folded = _SPACES.sub(" ", normalize(content)).strip()
    return hashlib.sha1(folded.encode("utf-8")).hexdigest()


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y")


def normalize_date(raw: str) -> str:
    """ISO 8601 (``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ss``) when ``raw`` is a known form."""
    raw = raw.strip()
    if not raw:
        return ""
    if len(raw) == 10:
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).replace(tzinfo=None).isoformat()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        return parsed.date().isoformat() if "%H" not in fmt else parsed.isoformat()
    raise DocumentError(f"unrecognised date {raw!r} (use YYYY-MM-DD or YYYY-MM-DD hh:mm:ss)")
