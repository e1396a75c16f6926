"""The OpenAPI document tells the truth: schemathesis runs every check against a live server;
undeclared methods are 405; the largest and the pathological bodies cost seconds at most.

docs/security.md lists each case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rag.errors import DocumentError
from rag.news.documents import MAX_ARTICLE_CHARS, MAX_FIELD_CHARS, make_article
from rag.text.passages import MAX_WORD_CHARS, headed
from tests.conftest import SEEDS
from tests.live_server import ADMIN_KEY, READ_KEY, start_server

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory):
    """A server of its own: schemathesis writes and deletes articles and feeds."""
    folder = tmp_path_factory.mktemp("contract")
    server = start_server(folder / "index", SEEDS, folder / "server.log",
                          rate_limit_per_minute="1000000", wrong_keys_per_minute="1000000",
                          feeds_timeout="2", max_body_bytes="5000000")  # fmt: skip
    yield server
    server.stop()


def test_schemathesis_finds_nothing_the_document_does_not_say(contract_server):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [str(schemathesis), "--config-file", str(CONFIG), "run", "--seed", "20261205",
         "--workers", "2", f"{contract_server.url}/openapi.json"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "RAG_TEST_KEY": ADMIN_KEY, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failure" not in done.stdout.splitlines()[-1]
    log = contract_server.log.read_text()
    assert "Traceback" not in log and "internal_error" not in log


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("TRACE", "/healthz", "GET"), ("TRACE", "/v1/ask", "POST"), ("PUT", "/readyz", "GET"),
    ("PATCH", "/v1/articles/abc", "DELETE, GET"), ("GET", "/v1/feeds/poll", "POST"),
])  # fmt: skip
def test_a_method_a_documented_path_does_not_take_is_405(contract_server, method, path, allowed):
    response = httpx.request(method, contract_server.url + path, timeout=30)
    assert response.status_code == 405 and response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_document_names_every_answer_and_the_streams(contract_server):
    spec = httpx.get(f"{contract_server.url}/openapi.json", timeout=30).json()
    ask = spec["paths"]["/v1/ask"]["post"]
    assert set(ask["responses"]) == {"200", "400", "401", "413", "422", "429", "503"}
    assert set(ask["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert ask["security"] == [{"HTTPBearer": []}]
    error = ask["responses"]["429"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorOut")
    deleting = spec["paths"]["/v1/articles/{article_id}"]["delete"]["responses"]
    assert {"401", "403", "404", "429", "503"} <= set(deleting)


def test_an_invalid_question_is_refused_before_a_stream_begins(contract_server):
    response = httpx.post(f"{contract_server.url}/v1/ask", json={"question": "\u202e ",
                          "stream": True}, headers={"Authorization": f"Bearer {READ_KEY}"},
                          timeout=30)  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")


# ----- bounds on text ------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "x" * 4_900_000,  # the probe's body: one 4.9 MB token
    "كلمة " * (MAX_ARTICLE_CHARS // 5 + 1),  # one sentence over the limit
    "\ufdfa " * 2_700,  # 5,400 characters, 51,300 once the ligatures are written out
], ids=["one-token", "one-sentence", "ligatures"])  # fmt: skip
def test_an_article_over_the_limit_is_refused_at_once_with_the_limit(contract_server, body):
    response = httpx.post(f"{contract_server.url}/v1/articles", json={"content": body},
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)  # fmt: skip
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "article_unusable" and f"{MAX_ARTICLE_CHARS:,}" in error["message"]


def test_the_largest_article_of_one_token_is_written_and_found(contract_server):
    """50,000 characters without a space: 84 chunks whose runs the encoder sees cut."""
    token = "ب" * MAX_ARTICLE_CHARS
    response = httpx.post(f"{contract_server.url}/v1/articles",
                          json={"title": "رقم قياسي", "content": token},
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120)  # fmt: skip
    assert response.status_code == 201 and response.json()["chunks"] >= 80


def test_what_the_encoder_sees_has_no_run_over_the_word_bound():
    seen = headed("عنوان", "بداية " + "ب" * 5_000 + " نهاية", embed_titles=True)
    assert max(len(word) for word in seen.split()) == MAX_WORD_CHARS
    assert seen.startswith("عنوان\nبداية ") and seen.endswith(" نهاية")
    news = "قال عراقجي إن حق إيران في تخصيب اليورانيوم غير قابل للتفاوض https://example.com/a"
    assert headed("", news, embed_titles=True) == news  # words of news are kept whole


def test_fields_over_their_bounds_name_the_field_and_the_limit():
    with pytest.raises(
        DocumentError, match=f"'title' is 4,001 characters, over {MAX_FIELD_CHARS:,}"
    ):
        make_article({"title": "t" * 4_001, "content": "نص"})
    make_article({"title": "t" * 4_000, "content": "ن" * MAX_ARTICLE_CHARS})  # at the limits
